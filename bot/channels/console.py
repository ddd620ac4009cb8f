"""`bvte chat`: talk to the bot in the terminal, on the embedded database.

Buttons are shown numbered; typing the number (or the label) presses one."""

from __future__ import annotations

import sys
import uuid
from typing import IO

from bot.app import build_app
from bot.channels.base import RecordingSender
from bot.config import Settings
from handlers.messages import Inbound

__all__ = ["run_console"]

CHANNEL = "console"
USER = "console-user"


def render(text: str, labels: list[str]) -> str:
    if not labels:
        return text
    menu = "  ".join(f"[{i}] {label}" for i, label in enumerate(labels, 1))
    return f"{text}\n{menu}"


async def run_console(settings: Settings, stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> int:
    recorder = RecordingSender()
    app = await build_app(settings, senders={CHANNEL: recorder})
    interactive = stdin.isatty()
    try:
        while True:
            if interactive:
                stdout.write("> ")
                stdout.flush()
            raw = stdin.readline()
            if not raw:
                break  # end of input: leave cleanly
            text = raw.rstrip("\n")
            msg = Inbound(
                channel=CHANNEL, chat_id=USER, user_id=USER, text=text,
                kind="text" if text.strip() else "empty", update_id=uuid.uuid4().hex,
                numbered_menus=True,
            )
            await app.core.handle(msg)
            await app.dispatcher.drain()
            for out in recorder.take():
                stdout.write(render(out.text, [b.label for b in out.buttons]) + "\n\n")
            stdout.flush()
    finally:
        await app.close()
    return 0
