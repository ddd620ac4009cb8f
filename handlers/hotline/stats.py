"""Case statistics for the 6-monthly and yearly reports: counts by category,
urgency, commune, status and the national hotline's record fields, median time to
claim and to close, and the share handled within the time limits. Only coded
fields are read, so the figures survive `cases purge`."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.hotline.followup import plain_status
from handlers.hotline.notify import label
from handlers.hotline.texts import t
from handlers.hotline.timelimits import HotlineConfig
from storage.repositories import hotline as repo

__all__ = ["Stats", "compute_stats", "summary_text", "write_png", "write_xlsx"]

BREAKDOWNS = ("category", "urgency", "commune", "status", "age", "sex", "place", "harmer")


@dataclass
class Stats:
    start: datetime
    end: datetime
    total: int = 0
    counts: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in BREAKDOWNS})
    median_claim: timedelta | None = None
    median_close: timedelta | None = None
    within_limits: float | None = None  # share of cases with no limit breached
    breaches: Counter[str] = field(default_factory=Counter)


async def compute_stats(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    commune_ids: list[int] | None = None,
    config: HotlineConfig | None = None,
    now: datetime | None = None,
) -> Stats:
    config = config or HotlineConfig()
    cases = await repo.cases_created_between(session, start=start, end=end, commune_ids=commune_ids)
    names = {c.id: c.name for c in await repo.communes(session)}
    fired = await repo.fired_limits(session, case_ids=[c.id for c in cases])
    stats = Stats(start=start, end=end, total=len(cases))
    claims: list[float] = []
    closes: list[float] = []
    for case in cases:
        c = stats.counts
        c["category"][label("categories", case.category)] += 1
        c["urgency"][t("stats.urgent") if case.urgent else t("stats.normal")] += 1
        c["commune"][names.get(case.commune_id or -1, t("unknown"))] += 1
        c["status"][t(f"status_short.{plain_status(case)}")] += 1
        c["age"][label("ages", case.child_age_group or case.age_range)] += 1
        c["sex"][label("sexes", case.child_sex)] += 1
        c["place"][label("places", case.place_kind)] += 1
        c["harmer"][label("harmers", case.harmer_relation)] += 1
        if case.claimed_at is not None:
            claims.append((case.claimed_at - case.created_at).total_seconds())
        if case.closed_at is not None:
            closes.append((case.closed_at - case.created_at).total_seconds())
        for name in fired.get(case.id, set()):
            stats.breaches[name] += 1
    if claims:
        stats.median_claim = timedelta(seconds=statistics.median(claims))
    if closes:
        stats.median_close = timedelta(seconds=statistics.median(closes))
    if cases:
        ok = sum(1 for case in cases if not fired.get(case.id))
        stats.within_limits = ok / len(cases)
    return stats


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rem = divmod(minutes, 24 * 60)
    hours, mins = divmod(rem, 60)
    if days:
        return t("stats.days_hours", d=days, h=hours)
    if hours:
        return t("stats.hours_minutes", h=hours, m=mins)
    return t("stats.minutes", m=mins)


def summary_text(stats: Stats) -> str:
    lines = [t("stats.total", n=stats.total)]
    if stats.total:
        for key in ("category", "urgency", "status", "commune"):
            parts = ", ".join(f"{k}: {v}" for k, v in stats.counts[key].most_common())
            lines.append(f"- {t(f'stats.by.{key}')}: {parts}")
        lines.append(t("stats.median_claim", value=_duration(stats.median_claim)))
        lines.append(t("stats.median_close", value=_duration(stats.median_close)))
        share = f"{stats.within_limits * 100:.0f}%" if stats.within_limits is not None else "—"
        lines.append(t("stats.within", share=share))
    return "\n".join(lines)


def write_xlsx(stats: Stats, path: Path, *, config: HotlineConfig | None = None) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    config = config or HotlineConfig()
    wb = Workbook()
    ws = wb.active
    ws.title = t("stats.sheet_summary")
    bold = Font(bold=True)
    rows = [
        (t("stats.col_from"), stats.start.astimezone(config.tz).strftime("%d/%m/%Y")),
        (t("stats.col_to"), stats.end.astimezone(config.tz).strftime("%d/%m/%Y")),
        (t("stats.col_total"), stats.total),
        (t("stats.col_median_claim"), _duration(stats.median_claim)),
        (t("stats.col_median_close"), _duration(stats.median_close)),
        (t("stats.col_within"), round(stats.within_limits, 4) if stats.within_limits is not None else None),
    ]
    for name, count in sorted(stats.breaches.items()):
        rows.append((t("stats.col_breach", limit=t(f"limits.{name}")), count))
    for row in rows:
        ws.append(list(row))
        ws.cell(row=ws.max_row, column=1).font = bold
    ws.column_dimensions["A"].width = 42
    ws.column_dimensions["B"].width = 18
    for key in BREAKDOWNS:
        sheet = wb.create_sheet(t(f"stats.by.{key}")[:31])
        sheet.append([t(f"stats.by.{key}"), t("stats.col_count")])
        for cell in sheet[1]:
            cell.font = bold
        for name, count in stats.counts[key].most_common():
            sheet.append([name, count])
        sheet.column_dimensions["A"].width = 36
    wb.save(path)


def write_png(stats: Stats, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    panels = ("category", "urgency", "status", "age")
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, key in zip(axes.flat, panels, strict=True):
        items = stats.counts[key].most_common()
        ax.set_title(t(f"stats.by.{key}"))
        if not items:
            ax.text(0.5, 0.5, t("stats.no_data"), ha="center", va="center")
            ax.set_axis_off()
            continue
        names = [n for n, _ in items][::-1]
        values = [v for _, v in items][::-1]
        ax.barh(names, values, color="#2b7bb9")
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(t("stats.chart_title", n=stats.total))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
