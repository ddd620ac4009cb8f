"""`bvte sim`: the conversation simulator, a JSON-lines contract on stdin/stdout.

Input lines (one JSON object each):
  {"from": "u1", "text": "xin chào"}                 private message from user u1
  {"from": "u1", "press": "Báo tin"}                 press a button of the last reply to u1
                                                     (label, case/diacritics-insensitive label,
                                                     or 1-based number)
  {"from": "u1", "chat": "g1", "text": "/lenh"}      a message in group chat g1
  {"from": "u1", "kind": "sticker"}                  a sticker / photo / voice / unsupported
  {"advance": "PT13H"}                               move the clock (ISO-8601 duration) and run
                                                     everything that falls due
  {"cli": ["officer", "invite", "--commune", "x"]}   run a bvte admin command on the same DB
Output lines:
  {"to": "u1", "chat": "u1", "text": "...", "buttons": ["..."]}  one per message sent
  {"cli_output": "..."}                                          output of a cli line
  {"error": "..."}                                               a bad input line
  {"done": K}                                                    input line K is finished
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr

from bot.app import App, build_app
from bot.channels.base import RecordingSender
from bot.config import Settings
from handlers.clock import SimClock
from handlers.core import resolve_label
from handlers.messages import Inbound
from storage.repositories import outbox as outbox_repo

__all__ = ["Simulator", "parse_duration", "run_sim"]

CHANNEL = "sim"
MESSAGE_KEYS = {"from", "text", "press", "chat", "kind"}
KINDS = {"text", "sticker", "photo", "voice", "file", "unsupported", "edited"}

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?(?:(?P<weeks>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """ISO-8601 duration; a year counts 365 days and a month 30."""
    m = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if not m or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    v = {k: float(x) if x else 0.0 for k, x in m.groupdict().items()}
    return timedelta(
        days=v["years"] * 365 + v["months"] * 30 + v["weeks"] * 7 + v["days"],
        hours=v["hours"], minutes=v["minutes"], seconds=v["seconds"],
    )


class Simulator:
    def __init__(self, app: App, clock: SimClock, recorder: RecordingSender, db_url: str) -> None:
        self.app = app
        self.clock = clock
        self.recorder = recorder
        self.db_url = db_url

    async def line(self, raw: str) -> list[dict[str, Any]]:
        """Process one input line; returns the output objects (without `done`)."""
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return [{"error": f"not valid JSON: {exc.msg if hasattr(exc, 'msg') else exc}"}]
        if not isinstance(obj, dict):
            return [{"error": "each line must be a JSON object"}]
        try:
            if "advance" in obj:
                return await self._advance(obj)
            if "cli" in obj:
                return await self._cli(obj)
            return await self._message(obj)
        except _BadLine as exc:
            return [{"error": str(exc)}]

    async def _message(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        unknown = set(obj) - MESSAGE_KEYS
        if unknown:
            raise _BadLine(f"unknown keys: {sorted(unknown)}")
        user = obj.get("from")
        if not isinstance(user, str) or not user:
            raise _BadLine('"from" must be a non-empty string')
        chat = obj.get("chat", user)
        if not isinstance(chat, str) or not chat:
            raise _BadLine('"chat" must be a non-empty string')
        if ("text" in obj) + ("press" in obj) + ("kind" in obj and obj["kind"] != "text") > 1:
            raise _BadLine('give one of "text", "press" or "kind"')
        chat_type = "private" if chat == user else "group"
        base = dict(
            channel=CHANNEL, chat_id=chat, user_id=user, chat_type=chat_type,
            update_id=uuid.uuid4().hex, message_id=uuid.uuid4().hex[:12], at=self.clock.now(),
        )
        if "press" in obj:
            press = obj["press"]
            if not isinstance(press, (str, int)) or isinstance(press, bool):
                raise _BadLine('"press" must be a label or a number')
            async with self.app.uow() as uow:
                menu = await outbox_repo.get_menu(uow.session, channel=CHANNEL, chat_id=chat)
            data = resolve_label(menu, str(press), numbered=True)
            if data is None:
                labels = [label for label, _ in menu]
                raise _BadLine(f"no button {press!r} in the last reply to {chat} (buttons: {labels})")
            msg = Inbound(**base, kind="button", button=data, text=None)
        elif "text" in obj:
            text = obj["text"]
            if not isinstance(text, str):
                raise _BadLine('"text" must be a string')
            msg = Inbound(**base, kind="text", text=text)
        else:
            kind = obj.get("kind", "text")
            if kind not in KINDS:
                raise _BadLine(f'"kind" must be one of {sorted(KINDS)}')
            msg = Inbound(**base, kind=kind, text=None)
        await self.app.core.handle(msg)
        await self.app.dispatcher.drain()
        return self._drain_output()

    async def _advance(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        if set(obj) != {"advance"}:
            raise _BadLine(f"unknown keys: {sorted(set(obj) - {'advance'})}")
        try:
            delta = parse_duration(str(obj["advance"]))
        except ValueError as exc:
            raise _BadLine(str(exc)) from None
        await self.app.jobs.advance_to(self.clock.now() + delta)
        return self._drain_output()

    async def _cli(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        if set(obj) != {"cli"}:
            raise _BadLine(f"unknown keys: {sorted(set(obj) - {'cli'})}")
        args = obj["cli"]
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise _BadLine('"cli" must be a list of strings')
        if args and args[0] in {"sim", "run", "chat"}:
            raise _BadLine(f"'{args[0]}' cannot run inside the simulator")
        output = await asyncio.to_thread(_invoke_cli, args, self.db_url, self.clock)
        # Admin commands may queue messages (e.g. a reminder run): deliver them now.
        await self.app.jobs.run_due()
        return [{"cli_output": output}, *self._drain_output()]

    def _drain_output(self) -> list[dict[str, Any]]:
        lines = []
        for out in self.recorder.take():
            lines.append({
                "to": out.user_key or out.chat_id,
                "chat": out.chat_id,
                "text": out.text,
                "buttons": [b.label for b in out.buttons],
            })
        return lines


class _BadLine(Exception):
    pass


def _invoke_cli(args: list[str], db_url: str, clock: SimClock) -> str:
    from typer.testing import CliRunner

    from bot import runtime
    from bot.cli import app as cli_app

    runtime.set_clock(clock)
    try:
        result = CliRunner().invoke(cli_app, args, env={"BVTE_DATABASE_URL": db_url})
    finally:
        runtime.set_clock(None)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nerror: {type(result.exception).__name__}"
    return output.rstrip("\n")


EXAMPLE_COMMUNES = Path(__file__).resolve().parents[1] / "examples" / "communes.yaml"


async def _load_example_communes(app: App) -> None:
    """A fresh simulator database gets the example communes (hotline feature)."""
    if not EXAMPLE_COMMUNES.exists():
        return
    from handlers.hotline.communes import load_communes_file

    async with app.uow() as uow:
        await load_communes_file(uow.session, EXAMPLE_COMMUNES, now=app.services.clock.now())


async def run_sim(
    settings: Settings,
    *,
    db_url: str | None,
    start: datetime | None,
    stdin: IO[str] = sys.stdin,
    stdout: IO[str] = sys.stdout,
) -> int:
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if db_url is None:
        tmp = tempfile.TemporaryDirectory(prefix="bvte-sim-")
        db_url = f"sqlite+aiosqlite:///{Path(tmp.name) / 'sim.db'}"
    clock = SimClock(start)
    recorder = RecordingSender()
    overrides: dict[str, Any] = {"database_url": db_url}
    if settings.secret_key is None:
        # The simulator is for tests and curators: a fixed, non-secret key.
        overrides["secret_key"] = SecretStr("bvte-simulator-key-not-for-production")
    sim_settings = settings.model_copy(update=overrides)
    app = await build_app(sim_settings, clock=clock, senders={CHANNEL: recorder})
    if tmp is not None:
        await _load_example_communes(app)
    sim = Simulator(app, clock, recorder, db_url)
    try:
        lineno = 0
        for raw in stdin:
            lineno += 1
            if not raw.strip():  # a blank line is skipped, but still acknowledged
                stdout.write(json.dumps({"done": lineno}) + "\n")
                stdout.flush()
                continue
            for obj in await sim.line(raw):
                stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
            stdout.write(json.dumps({"done": lineno}) + "\n")
            stdout.flush()
    finally:
        await app.close()
        if tmp is not None:
            tmp.cleanup()
    return 0
