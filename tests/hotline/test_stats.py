"""Statistics: counts, medians, the share within limits; `bvte stats` files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook

from handlers.hotline.stats import compute_stats, summary_text
from tests.hotline.conftest import HotlineSim


async def _cases(hsim: HotlineSim) -> list[str]:
    await hsim.register("sup", role="supervisor")
    await hsim.register("off1")
    await hsim.make_group("sup", "grp")
    a, _ = await hsim.report("r1")
    await hsim.advance("PT10M")
    await hsim.button("off1", f"case:claim:{a}", chat="grp")
    await hsim.button("off1", f"case:set:{a}:sex:female")
    await hsim.button("off1", f"case:set:{a}:harmer:step_parent")
    await hsim.advance("PT50M")
    await hsim.button("off1", f"case:closeok:{a}")
    b, _ = await hsim.report("r2", urgent=True)
    await hsim.advance("PT20M")  # b breaches its 15-minute claim limit
    await hsim.button("off1", f"case:claim:{b}", chat="grp")
    c, _ = await hsim.report("r3", commune="Châu Sơn")
    return [a, b, c]


async def test_compute_stats(hsim: HotlineSim) -> None:
    await _cases(hsim)
    async with hsim.app.uow() as uow:
        stats = await compute_stats(uow.session, start=datetime(2026, 3, 1, tzinfo=UTC),
                                    end=datetime(2026, 4, 1, tzinfo=UTC))
        quan_son = await compute_stats(uow.session, start=datetime(2026, 3, 1, tzinfo=UTC),
                                       end=datetime(2026, 4, 1, tzinfo=UTC), commune_ids=[1])
    assert stats.total == 3 and quan_son.total == 2
    c = stats.counts
    assert c["category"]["Bạo lực"] == 3
    assert c["urgency"] == {"Khẩn": 1, "Thường": 2}
    assert c["commune"] == {"Xã Quan Sơn": 2, "Xã Châu Sơn": 1}
    assert c["status"] == {"Đã đóng": 1, "Đang xác minh": 1, "Mới tiếp nhận": 1}
    assert c["sex"]["Nữ"] == 1 and c["harmer"]["Cha dượng, mẹ kế"] == 1
    assert c["age"]["6–10 tuổi"] == 2
    # Claimed after 10 and 20 minutes: median 15; one close after an hour.
    assert stats.median_claim.total_seconds() == 15 * 60
    assert stats.median_close.total_seconds() == 60 * 60
    assert stats.breaches["claim"] == 1
    assert abs(stats.within_limits - 2 / 3) < 1e-9
    text = summary_text(stats)
    assert "Tổng số tin báo: 3" in text and "67%" in text and "15 phút" in text


async def test_stats_cli_writes_xlsx_and_png(hsim: HotlineSim, tmp_path: Path) -> None:
    await _cases(hsim)
    xlsx, png = tmp_path / "bao-cao.xlsx", tmp_path / "bieu-do.png"
    out = await hsim.cli("stats", "--from", "2026-03-01", "--to", "2026-03-31",
                         "--xlsx", str(xlsx), "--png", str(png))
    assert "Tổng số tin báo: 3" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    wb = load_workbook(xlsx)
    assert "Tổng hợp" in wb.sheetnames and "Theo loại" in wb.sheetnames
    summary = {row[0].value: row[1].value for row in wb["Tổng hợp"].iter_rows()}
    assert summary["Tổng số tin báo"] == 3
    assert summary["Số ca quá hạn nhận xử lý"] == 1
    harmers = {row[0].value: row[1].value for row in wb["Theo người gây hại"].iter_rows(min_row=2)}
    assert harmers["Cha dượng, mẹ kế"] == 1
    out = await hsim.cli("stats", "--from", "2026-03-01", "--to", "2026-03-31",
                         "--commune", "chau-son")
    assert "Tổng số tin báo: 1" in out
    out = await hsim.cli("stats", "--from", "2026-04-01", "--to", "2026-04-30")
    assert "Tổng số tin báo: 0" in out
    out = await hsim.cli("stats", "--from", "2026-03-31", "--to", "2026-03-01")
    assert "before" in out


async def test_commune_load_cli(hsim: HotlineSim, tmp_path: Path) -> None:
    good = tmp_path / "c.yaml"
    good.write_text("communes:\n  - {slug: xa-moi, name: Xã Mới, province: Lạng Sơn, "
                    "villages: [Bản A]}\n", encoding="utf-8")
    out = await hsim.cli("commune", "load", str(good))
    assert "1 created, 0 updated" in out
    out = await hsim.cli("commune", "load", str(good))
    assert "0 created, 1 updated" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("communes:\n  - {slug: x}\n", encoding="utf-8")
    out = await hsim.cli("commune", "load", str(bad))
    assert "'name' is required" in out
    out = await hsim.text("u", "/start Xa Moi")
    out = await hsim.text("u", "/baotin")
    await hsim.text("u", "Bé bị bỏ mặc một mình")
    # The default queue is still the one from examples/communes.yaml.
    from handlers.hotline.communes import hotline_lookup
    from storage.models import User

    async with hsim.app.uow() as uow:
        user = User(channel="sim", user_key="nobody", commune_slug=None)
        assert (await hotline_lookup(uow.session, user))[0] == "Tổng đài tiếp nhận tỉnh Lạng Sơn"
