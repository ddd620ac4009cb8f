"""Health and Prometheus metrics for `bvte run --webhook`, read from the database.

Every figure that matters across workers (updates in, messages out, reports,
time-limit breaches, outbox depth and lag) is computed at scrape time from the
database, so N workers behind one load balancer all answer the same numbers
and nothing is lost when a worker restarts. Only the webhook request counter is
per process (it says which worker answered what).

Each `Metrics` has its own `CollectorRegistry`: nothing is registered in
prometheus_client's global registry, so several apps (tests, workers) never
collide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, ProcessedUpdate
from storage.models.hotline import Case, CaseTimer
from storage.uow import UnitOfWork

__all__ = [
    "CONTENT_TYPE_LATEST",
    "DB_TIMEOUT",
    "Health",
    "Metrics",
    "Snapshot",
    "check_health",
    "outbox_state",
    "take_snapshot",
]

# A scrape or a health probe must answer quickly even when the database hangs.
DB_TIMEOUT = 3.0
_DB_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


@dataclass(frozen=True)
class Health:
    db_ok: bool
    outbox_pending: int = 0
    outbox_lag_s: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        if not self.db_ok:
            return {"db": "down", "error": self.error or "unreachable"}
        return {
            "db": "ok",
            "outbox_pending": self.outbox_pending,
            "outbox_lag_s": round(self.outbox_lag_s, 3),
        }


@dataclass
class Snapshot:
    """The database-derived figures of one scrape."""

    db_up: bool = False
    updates_in: dict[str, int] = field(default_factory=dict)
    messages_out: dict[str, int] = field(default_factory=dict)
    messages_dead: dict[str, int] = field(default_factory=dict)
    outbox_depth: dict[str, int] = field(default_factory=dict)
    outbox_lag_s: float = 0.0
    reports: int = 0
    breaches: dict[str, int] = field(default_factory=dict)
    escalations: int = 0


def _due_now(now: datetime):
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now),
    )


async def outbox_state(session: AsyncSession, now: datetime) -> tuple[int, float]:
    """(messages not yet sent, seconds the oldest due message has been waiting)."""
    pending = await session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.status.in_(["pending", "sending"]))
    )
    oldest = await session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(_due_now(now))
    )
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return int(pending or 0), lag


async def check_health(uow_factory: Callable[[], UnitOfWork], now: datetime,
                       timeout: float = DB_TIMEOUT) -> Health:  # noqa: ASYNC109
    """Is the database reachable, and how far behind is the outbox?"""

    async def probe() -> Health:
        async with uow_factory() as uow:
            await uow.session.execute(text("SELECT 1"))
            pending, lag = await outbox_state(uow.session, now)
        return Health(True, pending, lag)

    try:
        return await asyncio.wait_for(probe(), timeout)
    except _DB_ERRORS as exc:
        # The class name only: driver messages can carry the connection URL.
        return Health(False, error=type(exc).__name__)


async def _by(session: AsyncSession, column, *where) -> dict[str, int]:
    query = select(column, func.count()).group_by(column)
    for clause in where:
        query = query.where(clause)
    return {str(key): int(n) for key, n in (await session.execute(query)).all()}


async def take_snapshot(session: AsyncSession, now: datetime) -> Snapshot:
    snap = Snapshot(db_up=True)
    snap.updates_in = await _by(session, ProcessedUpdate.channel)
    by_status = await session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    )
    for channel, status, n in by_status.all():
        if status == "sent":
            snap.messages_out[channel] = int(n)
        elif status == "dead":
            snap.messages_dead[channel] = int(n)
        else:
            snap.outbox_depth[status] = snap.outbox_depth.get(status, 0) + int(n)
    _, snap.outbox_lag_s = await outbox_state(session, now)
    snap.reports = int(await session.scalar(select(func.count()).select_from(Case)) or 0)
    # A breach is the first escalation level of a limit firing; later levels escalate it.
    snap.breaches = await _by(
        session, CaseTimer.limit_name, CaseTimer.fired_at.is_not(None), CaseTimer.level == 0
    )
    snap.escalations = int(await session.scalar(
        select(func.count()).select_from(CaseTimer).where(CaseTimer.fired_at.is_not(None))
    ) or 0)
    return snap


class _DatabaseCollector(Collector):
    """Yields the last snapshot; `Metrics.render` refreshes it before each scrape."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _family(GaugeMetricFamily, "bvte_db_up", "1 when the database answered this scrape.",
                      1.0 if s.db_up else 0.0)
        if not s.db_up:
            return
        yield _family(CounterMetricFamily, "bvte_updates_in",
                      "Updates received and processed, by channel.", s.updates_in, "channel")
        yield _family(CounterMetricFamily, "bvte_messages_out",
                      "Messages delivered to the platforms, by channel.", s.messages_out, "channel")
        yield _family(CounterMetricFamily, "bvte_messages_dropped",
                      "Messages given up (blocked, rejected, too many attempts).",
                      s.messages_dead, "channel")
        yield _family(CounterMetricFamily, "bvte_reports_created",
                      "Hotline reports (cases) created.", s.reports)
        yield _family(CounterMetricFamily, "bvte_time_limit_breaches",
                      "Case time limits that passed unmet, by limit.", s.breaches, "limit")
        yield _family(CounterMetricFamily, "bvte_escalations",
                      "Time-limit reminders fired (every level).", s.escalations)
        depth = {status: s.outbox_depth.get(status, 0) for status in ("pending", "sending")}
        yield _family(GaugeMetricFamily, "bvte_outbox_depth",
                      "Messages waiting in the outbox, by status.", depth, "status")
        yield _family(GaugeMetricFamily, "bvte_outbox_lag_seconds",
                      "How long the oldest due message has been waiting.", s.outbox_lag_s)


def _family(kind, name: str, doc: str, value, label: str | None = None) -> Metric:
    """One metric family: a single value, or one sample per label value (sorted)."""
    if label is None:
        family = kind(name, doc)
        family.add_metric([], value)
        return family
    family = kind(name, doc, labels=[label])
    for key, n in sorted(value.items()):
        family.add_metric([key], n)
    return family


class Metrics:
    """One app's metrics: its own registry, a DB collector and per-worker counters."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        self._db = _DatabaseCollector()
        self.registry.register(self._db)
        self.webhook_requests = Counter(
            "bvte_webhook_requests", "Webhook requests answered by this worker, by status.",
            labelnames=["channel", "status"], registry=self.registry,
        )
        self._lock = asyncio.Lock()

    async def refresh(self, timeout: float = DB_TIMEOUT) -> Snapshot:  # noqa: ASYNC109
        async def read() -> Snapshot:
            async with self.uow_factory() as uow:
                return await take_snapshot(uow.session, self.clock.now())

        try:
            snap = await asyncio.wait_for(read(), timeout)
        except _DB_ERRORS:
            snap = Snapshot(db_up=False)
        self._db.snapshot = snap
        return snap

    async def render(self) -> bytes:
        """The Prometheus text exposition, with fresh database figures."""
        async with self._lock:  # concurrent scrapes: one snapshot at a time
            await self.refresh()
            return generate_latest(self.registry)
