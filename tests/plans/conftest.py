"""Shared paths for plan tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The sample plans live outside the repository, in the shared read-only folder.
SHARED_PLANS = Path(__file__).resolve().parents[3] / "shared" / "plans"
