"""Helpers for the plans tests: an in-process simulator with the example communes,
officers registered the real way (invite code + /dangky), plans loaded through
`bvte plan load`, and the reminders read back from the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.sim import EXAMPLE_COMMUNES
from storage.models import OutboxMessage
from tests.conftest import SimHarness, make_sim

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

SMALL_PLAN = """\
issuer: UBND xã Châu Sơn
level: commune
year: 2026
units:
- name: Trạm Y tế xã
  tasks:
  - text: Báo cáo tình hình trẻ em hằng quý
    deadline: null
    recurrence: quarterly
    kind: report
  - text: Nộp kế hoạch truyền thông
    deadline: '2026-04-15'
    kind: communication
- name: Công an xã
  tasks:
  - text: Kiểm tra an ninh khu vui chơi của trẻ em
    deadline: '2026-05-20'
    kind: inspection
reporting_deadlines:
- what: Báo cáo 6 tháng
  date: '--05-10'
  to: UBND xã Châu Sơn
events:
- name: Tết Trung thu
  date: lunar:--08-15
"""


async def start(db_url: str, at: datetime) -> SimHarness:
    h = await make_sim(db_url, start=at)
    out = await h.send({"cli": ["commune", "load", str(EXAMPLE_COMMUNES)]})
    assert "created" in out[0]["cli_output"], out
    return h


async def register(h: SimHarness, user: str, role: str, commune: str = "chau-son") -> None:
    out = await h.send({"cli": ["officer", "invite", "--commune", commune, "--role", role]})
    code = out[0]["cli_output"].split("\n")[0].strip()
    replies = await h.say(user, f"/dangky {code}")
    assert replies and "Đã đăng ký" in replies[0]["text"], replies


async def load(h: SimHarness, path: Path, commune: str = "chau-son", *extra: str) -> str:
    out = await h.send({"cli": ["plan", "load", str(path), "--commune", commune, *extra]})
    return out[0]["cli_output"]


async def assign(h: SimHarness, unit: str, officer: str, commune: str = "chau-son") -> str:
    out = await h.send({"cli": ["unit", "assign", "--commune", commune, "--unit", unit,
                                "--officer", officer]})
    return out[0]["cli_output"]


@dataclass
class Sent:
    key: str  # plan:occ:<id>:<officer id>:<step> or plan:digest:<commune>:<day>:<officer>
    chat: str
    text: str
    created: datetime
    sent: datetime | None

    @property
    def step(self) -> str:
        return self.key.rsplit(":", 1)[1]

    @property
    def occ(self) -> int | None:
        parts = self.key.split(":")
        return int(parts[2]) if parts[1] == "occ" else None

    @property
    def local_created(self) -> datetime:
        return self.created.astimezone(TZ)


async def plan_messages(h: SimHarness) -> list[Sent]:
    async with h.app.uow() as uow:
        rows = (await uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "plan").order_by(OutboxMessage.id)
        )).all()
    return [Sent(r.dedupe_key or "", r.chat_id, r.text, r.created_at, r.sent_at) for r in rows]


async def setup_small(h: SimHarness, tmp_path: Path) -> Path:
    """Three officers (a supervisor, a nurse, a policeman), the small plan, units assigned."""
    await register(h, "boss", "supervisor")
    await register(h, "nurse", "officer")
    await register(h, "cop", "officer")
    path = tmp_path / "plan.yaml"
    path.write_text(SMALL_PLAN, encoding="utf-8")
    out = await load(h, path)
    assert "Đã nạp kế hoạch" in out, out
    assert "«Trạm Y tế xã»" in await assign(h, "Trạm Y tế", "nurse")
    assert "«Công an xã»" in await assign(h, "Công an xã", "sim:cop")
    return path
