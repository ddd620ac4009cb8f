"""``bvte kb check`` and ``bvte eval``: content checks and understanding metrics.

Heavy modules (pydantic models, the index) are imported inside the commands so
``bvte --help`` stays fast.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["eval_app", "eval_command", "kb_app"]

kb_app = typer.Typer(help="Knowledge base: check the curated content.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate message understanding on a labelled set.")


@kb_app.callback()
def _kb() -> None:
    """Keep ``kb`` a command group even with a single sub-command."""


@kb_app.command("check")
def check_command(
    root: Annotated[
        Path | None,
        typer.Option("--root", help="Content root (default: the package's knowledge/content)."),
    ] = None,
    locale: Annotated[str, typer.Option("--locale", help="Content locale.")] = "vi",
) -> None:
    """Print every content problem as FILE:LINE: message; exit 1 if there is any."""
    from knowledge.loader import check_content, load_knowledge_base

    problems = check_content(root, locale)
    if problems:
        for problem in problems:
            typer.echo(str(problem))
        typer.echo(f"{len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    kb = load_knowledge_base(root, locale)
    per_topic = Counter(entry.topic for entry in kb.entries)
    summary = ", ".join(f"{topic} {count}" for topic, count in sorted(per_topic.items()))
    typer.echo(f"OK: {len(kb)} entries in {len(per_topic)} topics ({summary})")


@kb_app.command("gaps")
def gaps_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 100,
) -> None:
    """Questions the knowledge base could not answer with confidence (text only, no
    user id), and the 👍/👎 counts per entry — for content curators."""
    from bot.cli_support import run_in_transaction
    from storage.repositories import feedback as repo

    async def read(session, _settings):
        return await repo.list_gaps(session, limit=limit), await repo.feedback_counts(session)

    gaps, votes = run_in_transaction(read)
    typer.echo(f"{len(gaps)} câu hỏi chưa có câu trả lời chắc chắn / unanswered questions:")
    for gap in gaps:
        when = gap.created_at.strftime("%Y-%m-%d")
        topic = gap.best_topic or "-"
        typer.echo(f"  {when}  [{topic} {gap.score:.2f}]  {' '.join(gap.text.split())[:200]}")
    if votes:
        typer.echo("Đánh giá / feedback (👍 👎):")
        for entry_id, (up, down) in sorted(votes.items(), key=lambda kv: -kv[1][1]):
            typer.echo(f"  {entry_id}: {up} 👍  {down} 👎")


def eval_command(
    file: Annotated[Path, typer.Argument(help="JSON lines: {text, intent, topic, alt_topics}.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if a target is missed.")] = False,
) -> None:
    """Evaluate intent and topic understanding on FILE and print the metrics."""
    from bot.app import knowledge_for
    from bot.config import load_settings
    from knowledge.evaluation import evaluate, read_jsonl

    if not file.exists():
        typer.echo(f"{file}: not found", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    _kb, understander = knowledge_for(settings.locale, settings.model_cache_path)
    report = evaluate(read_jsonl(file), understander)
    if json_out:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(report.format_table())
    if strict and not report.meets_targets:
        typer.echo(f"targets missed: {', '.join(report.failed_targets())}", err=True)
        raise typer.Exit(1)


eval_app.command("eval")(eval_command)
