"""Crash test: a process commits reports with no channel to send through and is
killed (SIGKILL) while it keeps reporting; after a restart every committed report
is notified exactly once and every acknowledged report exists."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models.hotline import Case
from tests.hotline.conftest import SECRET, build_sim

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CHILD = textwrap.dedent('''
    import asyncio, sys, uuid
    from pydantic import SecretStr
    from sqlalchemy import select
    from bot.app import build_app
    from bot.config import Settings
    from handlers.clock import SimClock
    from handlers.messages import Inbound
    from storage.models import Conversation

    async def main(url, key):
        # No senders: nothing is delivered by this process. The simulated clock keeps
        # the queued messages due for the restarted (simulated) process.
        app = await build_app(Settings(database_url=url, secret_key=SecretStr(key)),
                              clock=SimClock(), migrate=False)
        i = 0
        while True:
            user = f"r{i}"
            async def say(text=None, button=None):
                await app.core.handle(Inbound(
                    channel="sim", chat_id=user, user_id=user, text=text, button=button,
                    kind="button" if button else "text", update_id=uuid.uuid4().hex))
            await say(button="report:start")
            await say(text=f"Bao tin so {i}: chau be bi danh")
            for data in ("report:cat:violence", "report:danger:no", "report:age:6-10",
                         "report:commune:quan-son", "report:village:0", "report:when:today",
                         "report:rel:neighbour", "report:contact:anon"):
                await say(button=data)
            async with app.uow() as uow:
                conv = await uow.session.scalar(select(Conversation).where(
                    Conversation.user_key == user))
                token = conv.data["token"]
            await say(button=f"report:confirm:{token}")
            print(f"committed {user}", flush=True)
            i += 1

    asyncio.run(main(sys.argv[1], sys.argv[2]))
''')


def _run_child_and_kill(db_url: str, wanted: int) -> tuple[list[str], str]:
    """Start the reporting child, SIGKILL it once `wanted` reports are committed
    (it is then in the middle of the next one, and has sent nothing)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BVTE_")}
    env["PYTHONPATH"] = str(REPO)
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, SECRET], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    committed: list[str] = []
    deadline = time.monotonic() + 90
    try:
        assert child.stdout is not None
        while len(committed) < wanted and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            if line.startswith("committed "):
                committed.append(line.split()[1])
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    stderr = child.stderr.read() if child.stderr else ""
    return committed, stderr[-2000:]


async def test_killed_before_sending_every_report_notified_once(db_url: str) -> None:
    setup = await build_sim(db_url)
    for user, role in (("sup", "supervisor"), ("off1", "officer"), ("off2", "officer")):
        await setup.register(user, role=role)
    await setup.make_group("sup", "grp")
    setup.sim.recorder.take()
    await setup.app.close()

    committed, stderr = await asyncio.to_thread(_run_child_and_kill, db_url, 4)
    assert len(committed) >= 4, stderr

    restarted = await build_sim(db_url, communes=False)
    try:
        await restarted.app.dispatcher.drain()
        sent = restarted.sim.recorder.take()
        async with restarted.app.uow() as uow:
            cases = (await uow.session.scalars(select(Case))).all()
        codes = {c.code for c in cases}
        # Every acknowledged report exists; a report cut off by the kill may or may not.
        assert len(committed) <= len(codes) <= len(committed) + 1
        acks = Counter()
        per_recipient = Counter()
        for out in sent:
            for code in set(re.findall(r"BV-[2-9A-HJ-NP-Z]{6}", out.text)):
                if out.chat_id.startswith("r") and "Mã tin" in out.text:
                    acks[(out.chat_id, code)] += 1
                elif "Tin báo mới" in out.text:
                    per_recipient[(out.chat_id, code)] += 1
        for code in codes:
            for chat in ("grp", "sup", "off1", "off2"):
                assert per_recipient[(chat, code)] == 1, (chat, code)
        assert sorted(code for _, code in acks) == sorted(codes)
        assert all(n == 1 for n in acks.values())
        assert {user for user, _ in acks} >= set(committed)
        # Draining again sends nothing more.
        await restarted.app.dispatcher.drain()
        assert restarted.sim.recorder.take() == []
    finally:
        await restarted.app.close()
