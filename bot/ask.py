"""`bvte ask`: one message through the real core, printed as the user sees it."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr

from bot.app import App, build_app
from bot.channels.base import RecordingSender
from bot.channels.console import render
from bot.config import Settings
from handlers.messages import Inbound
from storage.repositories import core as core_repo

__all__ = ["ask_many", "ask_one"]

CHANNEL = "ask"
USER = "ask-user"


async def _open(settings: Settings) -> tuple[App, RecordingSender, tempfile.TemporaryDirectory[str]]:
    tmp = tempfile.TemporaryDirectory(prefix="bvte-ask-")
    recorder = RecordingSender()
    app = await build_app(
        settings.model_copy(update={
            "database_url": f"sqlite+aiosqlite:///{Path(tmp.name) / 'ask.db'}",
            "secret_key": settings.secret_key or SecretStr("bvte-ask-key-not-for-production"),
        }),
        senders={CHANNEL: recorder},
    )
    async with app.uow() as uow:  # a known user, so the answer is not replaced by a greeting
        await core_repo.get_or_create_user(uow.session, channel=CHANNEL, user_key=USER,
                                           now=app.services.clock.now())
    return app, recorder, tmp


async def _ask(app: App, recorder: RecordingSender, text: str) -> dict[str, Any]:
    u = app.core.services.understand(text) if app.core.services.understand else None
    chat = uuid.uuid4().hex  # a fresh conversation for every message
    await app.core.handle(Inbound(channel=CHANNEL, chat_id=chat, user_id=USER, text=text,
                                  kind="text" if text.strip() else "empty",
                                  update_id=uuid.uuid4().hex))
    await app.dispatcher.drain()
    reply = "\n\n".join(render(o.text, [b.label for b in o.buttons]) for o in recorder.take())
    return {
        "intent": getattr(u, "intent", "fallback"),
        "topic": getattr(u, "topic", None),
        "entry_id": getattr(u, "entry_id", None),
        "score": float(getattr(u, "score", 0.0) or 0.0),
        "reply": reply,
    }


async def ask_one(settings: Settings, text: str) -> dict[str, Any]:
    app, recorder, tmp = await _open(settings)
    try:
        return await _ask(app, recorder, text)
    finally:
        await app.close()
        tmp.cleanup()


async def ask_many(settings: Settings, stdin: IO[str], stdout: IO[str]) -> int:
    app, recorder, tmp = await _open(settings)
    try:
        for raw in stdin:
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
                text = obj["text"] if isinstance(obj, dict) else None
            except (json.JSONDecodeError, KeyError):
                text = None
            if not isinstance(text, str):
                stdout.write(json.dumps({"error": 'each line must be {"text": "..."}'}) + "\n")
                continue
            stdout.write(json.dumps(await _ask(app, recorder, text), ensure_ascii=False) + "\n")
            stdout.flush()
    finally:
        await app.close()
        tmp.cleanup()
    return 0
