"""The `bvte` command (Typer). Heavy imports happen inside commands."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from typing import Annotated

import typer

from bot import __version__
from bot.config import ConfigError, Settings, load_settings

__all__ = ["app", "main"]

app = typer.Typer(
    name="bvte",
    help="bvte — trợ lý bảo vệ trẻ em / child-protection assistant.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Cơ sở dữ liệu / database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bvte {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """bvte: guidance, an anonymous hotline queue and plan reminders for communes."""


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _setup_logs(settings: Settings) -> None:
    from bot.logs import setup_logging

    secrets = [
        s.get_secret_value()
        for s in (settings.telegram_token, settings.zalo_token, settings.webhook_secret,
                  settings.secret_key)
        if s is not None
    ]
    setup_logging(settings.log_level, secrets)


@app.command()
def chat() -> None:
    """Trò chuyện với bot trong terminal / talk to the bot in the terminal (no token needed)."""
    settings = settings_or_exit()
    _setup_logs(settings)
    from bot.channels.console import run_console

    raise typer.Exit(_run(run_console(settings)))


@app.command()
def sim(
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: a fresh temporary SQLite).")] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Simulated start time, ISO 8601 with offset.")
    ] = None,
) -> None:
    """Conversation simulator: JSON lines on stdin, JSON lines on stdout (see README)."""
    settings = settings_or_exit()
    _setup_logs(settings.model_copy(update={"log_level": "WARNING"}))
    from bot.sim import run_sim

    start_at = None
    if start:
        try:
            start_at = datetime.fromisoformat(start)
        except ValueError:
            typer.echo(f"--start: not an ISO-8601 time: {start}", err=True)
            raise typer.Exit(2) from None
        if start_at.tzinfo is None:
            typer.echo("--start needs a UTC offset, e.g. 2026-03-02T08:00+07:00", err=True)
            raise typer.Exit(2)
    raise typer.Exit(_run(run_sim(settings, db_url=db, start=start_at)))


@app.command()
def run(
    webhook: Annotated[bool, typer.Option("--webhook", help="Serve webhooks instead of polling.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=32, help="Worker processes (webhook mode).")] = 1,
) -> None:
    """Chạy bot trên các kênh đã cấu hình / serve the configured channels and background work."""
    settings = settings_or_exit()
    _setup_logs(settings)
    from bot.runner import serve

    raise typer.Exit(_run(serve(settings, webhook=webhook, workers=workers)))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    settings = settings_or_exit()
    from storage.migrate import upgrade_async

    _run(upgrade_async(settings.database_url))
    typer.echo("database is up to date")


@app.command()
def ask(
    text: Annotated[str | None, typer.Argument(help="The message, as a user would type it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help='Read {"text": ...} lines from stdin.')] = False,
) -> None:
    """Hỏi thử bot / print the reply (and its classification) for a message."""
    from bot.ask import ask_many, ask_one

    settings = settings_or_exit()
    if jsonl:
        raise typer.Exit(_run(ask_many(settings, sys.stdin, sys.stdout)))
    if text is None:
        typer.echo("give a TEXT, or --jsonl", err=True)
        raise typer.Exit(2)
    result = _call(ask_one(settings, text))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        typer.echo(result["reply"])


def _call(coro):
    """Run a coroutine; configuration and system errors end the command with one line."""
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        # e.g. the database server is down: one clear line, not a traceback.
        typer.echo(f"Lỗi hệ thống / system error: {exc.__class__.__name__}: {exc}", err=True)
        raise typer.Exit(1) from None


def _run(coro) -> int:
    """Run a coroutine that returns an exit code."""
    result = _call(coro)
    return result if isinstance(result, int) else 0


def _register_optional() -> None:
    """Sub-commands contributed by feature modules."""
    from importlib import import_module

    for module, attr, name in (
        ("bot.cli_kb", "kb_app", "kb"),
        ("bot.cli_plan", "plan_app", "plan"),
        ("bot.cli_plan", "unit_app", "unit"),
        ("bot.cli_admin", "register", None),
        ("bot.cli_campaign", "campaign_app", "campaign"),
    ):
        try:
            mod = import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue
            raise
        obj = getattr(mod, attr, None)
        if obj is None:
            continue
        if name is None:
            obj(app)
        else:
            app.add_typer(obj, name=name)
    try:
        from bot.cli_kb import eval_command
    except ImportError:
        return
    app.command("eval")(eval_command)


_register_optional()


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
