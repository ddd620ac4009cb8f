"""Privacy: no plaintext narrative, phone number, note or message in the database
file (or its WAL), none in the logs, and `cases purge` removes personal data while
keeping the statistics."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers.hotline.stats import compute_stats
from storage.models.core import OutboxMessage
from storage.models.hotline import Case, CaseEvent
from tests.hotline.conftest import SECRET, HotlineSim, build_sim

NARRATIVE = "Bé Hoa lớp 4 bị cha dượng đánh bằng roi mây sau nhà kho"
PHONE = "0912345678"
NOTE = "Đã gặp cô giáo chủ nhiệm Nguyễn Thị Mai"
MESSAGE = "Bạn có thể cho biết số nhà không"
ANSWER = "Nhà số 17 ngõ cây gạo"
DRAFT = "Thằng Tí bị bắt đi chăn trâu thuê cả ngày không được đi học"

SECRETS = [NARRATIVE, PHONE, "0912 345 678", NOTE, MESSAGE, ANSWER, DRAFT, "cây gạo", "roi mây"]


async def _everything(hsim: HotlineSim) -> str:
    await hsim.register("sup", role="supervisor")
    await hsim.register("off1")
    await hsim.make_group("sup", "grp")
    code, _ = await hsim.report("rep", narrative=NARRATIVE, phone="0912 345 678")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    await hsim.text("off1", f"/ghichu {code} {NOTE}")
    await hsim.text("off1", f"/nhan {code} {MESSAGE}")
    await hsim.press("rep", "Trả lời")
    await hsim.text("rep", ANSWER)
    await hsim.text("off1", f"/ca {code}")  # the card with everything, sent and delivered
    # A second report left half-way: its draft sits in the conversation data.
    await hsim.text("rep2", "/baotin")
    await hsim.text("rep2", DRAFT)
    return code


def _raw(db_file: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-journal"):
        path = Path(str(db_file) + suffix)
        if path.exists():
            data += path.read_bytes()
    return data


async def test_database_file_holds_no_plaintext(tmp_path: Path) -> None:
    db_file = tmp_path / "privacy.db"
    hsim = await build_sim(f"sqlite+aiosqlite:///{db_file}")
    try:
        code = await _everything(hsim)
        raw = _raw(db_file)
        assert code.encode() in raw  # the file is readable: the search can find things
        assert "Xã Quan Sơn".encode() in raw
        for secret in SECRETS:
            assert secret.encode("utf-8") not in raw, secret
        # The reporter's platform identity ("rep") is only a pseudonym in case rows.
        async with hsim.app.uow() as uow:
            case = await uow.session.scalar(select(Case).where(Case.code == code))
            assert len(case.reporter_pseudonym) == 64 and "rep" not in case.reporter_address_enc
    finally:
        await hsim.app.close()
    raw = _raw(db_file)  # after the WAL is checkpointed into the main file
    for secret in SECRETS:
        assert secret.encode("utf-8") not in raw, secret


async def test_logs_hold_no_report_text_phone_or_secret(hsim: HotlineSim,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await _everything(hsim)
    await hsim.advance("PT3H")  # escalation logs too
    assert caplog.records  # something was logged (the test can fail)
    for secret in [*SECRETS, SECRET]:
        assert secret not in caplog.text, secret


async def test_purge_deletes_personal_data_and_keeps_statistics(hsim: HotlineSim) -> None:
    code = await _everything(hsim)
    open_code, _ = await hsim.report("rep3", narrative="Một vụ khác: cháu bé nhà bên hay bị người nhà mắng chửi")
    await hsim.button("off1", f"case:closeok:{code}")
    await hsim.advance("P1D")
    out = await hsim.cli("cases", "purge", "--closed-before", "2026-03-04")
    assert "1 closed case" in out
    async with hsim.app.uow() as uow:
        s = uow.session
        case = await s.scalar(select(Case).where(Case.code == code))
        assert case.purged_at is not None
        assert case.details_enc is None and case.reporter_address_enc is None
        assert case.reporter_pseudonym is None
        assert case.category == "violence" and case.closed_at is not None
        texts = (await s.scalars(select(CaseEvent.text_enc).where(CaseEvent.case_id == case.id))).all()
        assert texts and all(t is None for t in texts)
        keys = (await s.scalars(select(OutboxMessage.dedupe_key))).all()
        assert not [k for k in keys if k and k.startswith(f"hl:{code}:")]
        other = await s.scalar(select(Case).where(Case.code == open_code))
        assert other.details_enc is not None and other.purged_at is None
        stats = await compute_stats(s, start=case.created_at.replace(day=1),
                                    end=case.created_at.replace(day=28))
        assert stats.total == 2 and stats.counts["status"]["Đã đóng"] == 1
    out = await hsim.text("rep", f"/theodoi {code}")
    assert "Không tìm thấy" in out[0]["text"]
    out = await hsim.text("off1", f"/ca {code}")
    assert "Không tìm thấy" in out[0]["text"]


async def test_purge_rejects_a_bad_date(hsim: HotlineSim) -> None:
    out = await hsim.cli("cases", "purge", "--closed-before", "hôm qua")
    assert "YYYY-MM-DD" in out
