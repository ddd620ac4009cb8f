"""Plan documents (Kế hoạch): import to a structured draft, review as YAML, score."""

from .draft import DraftError, PlanDraft, parse_draft, to_yaml
from .importer import PlanImportError, import_plan
from .scorer import score

__all__ = [
    "DraftError",
    "PlanDraft",
    "PlanImportError",
    "import_plan",
    "parse_draft",
    "score",
    "to_yaml",
]
