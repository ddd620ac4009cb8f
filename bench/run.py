"""bvte benchmarks: `python bench/run.py` prints every figure with its target;
`python bench/run.py --json` prints one JSON object.

Figures (keys of the JSON object):

- core_msgs_per_s_sqlite / core_msgs_per_s_postgres: inbound messages per second
  through `Core.handle` and the outbox `Dispatcher` (a counting sender), one
  process, a mix of commands, buttons and free-text questions from many users
  (each new: the first message creates the user), after a warm-up of 20 users
  that is not counted.
  PostgreSQL: BVTE_TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432
  when something listens there; null otherwise. `core_msgs_per_s_sqlite_threaded`
  is the baseline measured in the same run: the same core with SQLite behind
  aiosqlite's worker thread (what bvte used before storage/sqlite_inline.py);
  `core_sqlite_speedup` is the ratio of the two.
- campaign_rate_share / campaign_429s / campaign_duplicates: a campaign to 10 000
  subscribers, queued by `CampaignJob` and delivered by the `Dispatcher` through a
  real `TelegramChannel` (python-telegram-bot over HTTP) and `bot.channels.ratelimit`
  to `tests.fakes.telegram_api.FakeTelegramAPI(enforce_limits=True)` in its own
  process. The clock is compressed: the fake's limits and the limiter's are both
  multiplied by `--factor` (default 6: 180 msg/s overall, 6/s per chat), so the
  run takes ~57 s instead of 333 s. Share = achieved rate / limit, measured by the
  fake between its first and last accepted send.
- report_p99_ms: 500 reporters fill the hotline intake, then all confirm at once;
  time from each confirm to the officer's new-case notification being sent.
- rss_mb: resident memory of a fresh process after `build_app` with the knowledge
  base loaded (VmRSS from /proc/self/status).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGETS = {
    "core_msgs_per_s_sqlite": ">= 1000",
    "core_msgs_per_s_postgres": "(no target)",
    "campaign_rate_share": ">= 0.95",
    "campaign_429s": "0",
    "campaign_duplicates": "0 (must)",
    "report_p99_ms": "(as low as possible)",
    "rss_mb": "<= 150",
}
SECRET = "bench-secret-key-0123456789abcdef"
CODE_RE = re.compile(r"BV-[2-9A-HJ-NP-Z]{6}")
# Errors seen during a run (logged "handler failed", dispatcher exceptions), by type.
ERRORS: Counter[str] = Counter()


class _ErrorCounter(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            ERRORS[record.getMessage().split("\n")[0][:80]] += 1


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _settings(url: str):
    from pydantic import SecretStr

    from bot.config import Settings

    return Settings(database_url=url, secret_key=SecretStr(SECRET), _env_file=None,
                    log_level="WARNING")


@contextlib.contextmanager
def _threaded_sqlite(enabled: bool):
    """Make the app build its SQLite engine on aiosqlite's worker thread (the baseline)."""
    import bot.app as app_module

    original = app_module.create_engine
    if enabled:
        app_module.create_engine = functools.partial(original, sqlite_threaded=True)
    try:
        yield
    finally:
        app_module.create_engine = original


# -- PostgreSQL ---------------------------------------------------------------------------


def pg_base_url() -> str | None:
    url = os.environ.get("BVTE_TEST_DATABASE_URL", "").strip()
    if url:
        return url
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", 5432)) == 0:
            return "postgresql://postgres@127.0.0.1:5432/postgres"
    return None


def temp_pg(base: str):
    from tests.support.databases import temp_postgres

    return temp_postgres(base, prefix="bvte_bench")


# -- helpers --------------------------------------------------------------------------------


class CountingSender:
    def __init__(self) -> None:
        self.count = 0

    async def send(self, out):
        from handlers.messages import SendResult

        self.count += 1
        return SendResult(str(self.count))


class DrainLoop:
    """The dispatcher running in the background, woken after each commit (as bot.runner)."""

    def __init__(self, app) -> None:
        self.app = app
        self.wake = asyncio.Event()
        self.stop = False
        app.services.on_enqueued = self.wake.set
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self.stop:
            self.wake.clear()
            try:
                sent = await self.app.dispatcher.drain()
            except Exception as exc:  # e.g. SQLite busy: the runner logs and goes on too
                ERRORS[type(exc).__name__] += 1
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=0.05)

    async def finish(self) -> None:
        for _ in range(100):
            try:
                if await self.app.dispatcher.drain() == 0:
                    break
            except Exception as exc:
                ERRORS[type(exc).__name__] += 1
        self.stop = True
        self.wake.set()
        await self.task


WARM_UP_USERS = 20

# -- 1. core throughput ----------------------------------------------------------------------


async def bench_core(
    url: str, *, users: int, concurrency: int, threaded: bool = False
) -> dict[str, Any]:
    from bot.app import build_app
    from handlers.messages import Inbound

    sender = CountingSender()
    with _threaded_sqlite(threaded):
        app = await build_app(_settings(url), senders={"bench": sender})
    try:
        def script(u: str) -> list[Inbound]:
            base = dict(channel="bench", chat_id=u, user_id=u)
            return [
                Inbound(**base, text="/start", update_id=uuid.uuid4().hex),
                Inbound(**base, kind="button", button="menu:ask", update_id=uuid.uuid4().hex),
                Inbound(**base, text="làm sao để con không bị đuối nước khi đi tắm sông",
                        update_id=uuid.uuid4().hex),
                Inbound(**base, text="cảm ơn bạn nhiều", update_id=uuid.uuid4().hex),
                Inbound(**base, text="/trogiup", update_id=uuid.uuid4().hex),
            ]

        gate = asyncio.Semaphore(concurrency)
        ERRORS.clear()

        async def one_user(msgs: list[Inbound]) -> None:
            async with gate:
                for msg in msgs:
                    await app.core.handle(msg)

        loop = DrainLoop(app)
        # Warm-up, not counted: first use compiles SQL statements and fills caches.
        await asyncio.gather(*(one_user(script(f"w{i}")) for i in range(WARM_UP_USERS)))
        await app.dispatcher.drain()
        sender.count = 0
        scripts = [script(f"b{i}") for i in range(users)]
        total = sum(len(s) for s in scripts)
        start = time.perf_counter()
        cpu_start = time.process_time()
        await asyncio.gather(*(one_user(s) for s in scripts))
        await loop.finish()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        return {"msgs_per_s": total / elapsed, "messages": total, "replies": sender.count,
                "seconds": elapsed, "cpu_ms_per_msg": 1000 * cpu / total,
                "concurrency": concurrency, "errors": dict(ERRORS)}
    finally:
        await app.close()


# -- 2. campaign delivery at the platform's limits ------------------------------------------------


def _fake_process(conn, factor: float) -> None:
    sys.path.insert(0, str(REPO))
    from tests.fakes.telegram_api import FakeTelegramAPI

    fake = FakeTelegramAPI(enforce_limits=True, rate_per_s=30 * factor,
                           per_chat_per_s=1.0 * factor, group_per_min=20).start()
    conn.send(fake.base_url)
    while True:
        cmd = conn.recv()
        if cmd == "stats":
            conn.send({"count_429": fake.count_429, "accepted": fake.accepted_sends})
        elif cmd == "stop":
            fake.stop()
            conn.send("stopped")
            return


async def bench_campaign(
    *, subscribers: int, factor: float, loops: int = 2, batch: int = 1000,
) -> dict[str, Any]:
    from sqlalchemy import func, insert, select

    from bot.channels.ratelimit import TELEGRAM_LIMITS, LimitedSender, RateLimiter
    from bot.channels.telegram.adapter import TelegramChannel
    from handlers.campaigns import CampaignJob
    from handlers.clock import SystemClock
    from handlers.context import Services
    from handlers.delivery import Dispatcher
    from knowledge.loader import load_knowledge_base
    from storage.db import create_engine, create_session_factory
    from storage.migrate import upgrade_async
    from storage.models import OutboxMessage
    from storage.models.campaigns import Campaign, CampaignDelivery, Subscription
    from storage.uow import UnitOfWork

    class BenchTelegramChannel(TelegramChannel):
        """The real adapter without PTB's AIORateLimiter: ours replaces it (and PTB's
        would cap the compressed run at 30 msg/s of real time)."""

        def build(self):
            from telegram.ext import ApplicationBuilder

            builder = ApplicationBuilder().token(self._token).connection_pool_size(64)
            return builder.base_url(self._base_url).build()

    tmp = tempfile.TemporaryDirectory(prefix="bvte-bench-")
    url = f"sqlite+aiosqlite:///{tmp.name}/campaign.db"
    await upgrade_async(url)
    engine = create_engine(url)
    factory = create_session_factory(engine)

    def uow() -> UnitOfWork:
        return UnitOfWork(factory)

    clock = SystemClock()
    services = Services(clock=clock)
    services.extras["kb"] = load_knowledge_base()
    now = clock.now()
    async with uow() as u:
        rows = [{"channel": "telegram", "user_key": str(10_000_001 + i),
                 "chat_id": str(10_000_001 + i), "commune_slug": None, "active": True,
                 "created_at": now, "updated_at": now} for i in range(subscribers)]
        await u.session.execute(insert(Subscription), rows)
        u.session.add(Campaign(name="bench", title="Phòng chống đuối nước mùa hè",
                               entries=["drowning-prevention-supervision"], communes=["all"],
                               intros={}, start_at=now, interval_seconds=7 * 86400,
                               status="scheduled", step=0, cursor=0, next_at=now,
                               created_at=now, updated_at=now))
    job = CampaignJob(uow, services)
    t0 = time.perf_counter()
    queued = await job.run_due(clock.now())
    queue_s = time.perf_counter() - t0

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_fake_process, args=(child, factor), daemon=True)
    proc.start()
    try:
        base_url = parent.recv()
        channel = BenchTelegramChannel("123:ABC", base_url=base_url)
        channel.ptb = channel.build()
        await channel.ptb.initialize()
        limiter = RateLimiter(TELEGRAM_LIMITS.scaled(factor), name="telegram")
        sender = LimitedSender(channel, limiter)
        # Two dispatcher loops share the bot's limiter: while one waits for the last
        # sends of its batch, the other has claimed the next (Dispatcher.run_once
        # delivers a whole batch before it claims again).
        dispatchers = [Dispatcher(uow, {"telegram": sender}, clock, batch=batch,
                                  lease=timedelta(seconds=120)) for _ in range(loops)]
        deadline = time.perf_counter() + max(90.0, 3 * subscribers / (30 * factor))

        async def deliver(dispatcher: Dispatcher) -> None:
            while time.perf_counter() < deadline:
                if await dispatcher.drain() == 0:
                    async with uow() as u:
                        left = await u.session.scalar(
                            select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status != "sent"))
                    if not left:
                        return
                    await asyncio.sleep(0.05)

        t1 = time.perf_counter()
        await asyncio.gather(*(deliver(d) for d in dispatchers))
        deliver_s = time.perf_counter() - t1
        await channel.ptb.shutdown()
        parent.send("stats")
        stats = parent.recv()
        parent.send("stop")
        parent.recv()
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    async with uow() as u:
        ledger = await u.session.scalar(select(func.count()).select_from(CampaignDelivery))
        statuses = dict((await u.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all())
    await engine.dispose()
    tmp.cleanup()
    accepted = stats["accepted"]
    times = sorted(t for t, _ in accepted)
    per_chat = Counter(chat for _, chat in accepted)
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "share": rate / (30 * factor),
        "rate_per_s": rate,
        "limit_per_s": 30 * factor,
        "factor": factor,
        "count_429": stats["count_429"],
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        "delivered": len(per_chat),
        "subscribers": subscribers,
        "queued": queued,
        "ledger": ledger,
        "statuses": statuses,
        "queue_s": queue_s,
        "deliver_s": deliver_s,
        "limiter_penalties": limiter.penalties,
        "engine": "sqlite",
        "dispatcher_loops": loops,
    }


# -- 3. report intake --------------------------------------------------------------------------


class TimingSender:
    def __init__(self) -> None:
        self.officer_at: dict[str, float] = {}
        self.code_of: dict[str, str] = {}
        self.count = 0

    async def send(self, out):
        from handlers.messages import SendResult

        self.count += 1
        now = time.perf_counter()
        match = CODE_RE.search(out.text)
        if match:
            if out.chat_id.startswith("officer"):
                self.officer_at.setdefault(match.group(0), now)
            elif "Mã tin" in out.text:
                self.code_of[out.chat_id] = match.group(0)
        return SendResult(str(self.count))

    def take(self) -> list:  # the simulator's CLI line drains its recorder
        return []


async def bench_reports(url: str, *, reporters: int, concurrency: int) -> dict[str, Any]:
    from bot.app import build_app
    from bot.sim import EXAMPLE_COMMUNES, Simulator
    from handlers.hotline.communes import load_communes_file
    from handlers.messages import Inbound

    sender = TimingSender()
    app = await build_app(_settings(url), senders={"sim": sender})
    try:
        async with app.uow() as u:
            await load_communes_file(u.session, EXAMPLE_COMMUNES, now=app.services.clock.now())
        sim = Simulator(app, app.services.clock, sender, url)  # type: ignore[arg-type]
        out = await sim.line(json.dumps({"cli": ["officer", "invite", "--commune", "quan-son",
                                                 "--role", "officer"]}))
        code = out[0]["cli_output"].splitlines()[0].strip()

        def msg(user: str, text: str) -> Inbound:
            return Inbound(channel="sim", chat_id=user, user_id=user, text=text,
                           update_id=uuid.uuid4().hex)

        await app.core.handle(msg("officer1", f"/dangky {code}"))
        steps = ["/baotin", "Con nhà hàng xóm bị bố đánh nhiều ngày nay, người đầy vết bầm.",
                 "Bạo lực", "Không", "6–10 tuổi", "Quan Sơn", "Thôn 2", "Hôm nay", "Hàng xóm",
                 "Giấu tên"]
        gate = asyncio.Semaphore(concurrency)
        ERRORS.clear()
        loop = DrainLoop(app)

        async def fill(user: str) -> None:
            async with gate:
                for text in steps:
                    await app.core.handle(msg(user, text))

        users = [f"r{i:03d}" for i in range(reporters)]
        t0 = time.perf_counter()
        await asyncio.gather(*(fill(u) for u in users))
        while await app.dispatcher.drain():
            pass
        fill_s = time.perf_counter() - t0
        confirm_at: dict[str, float] = {}

        async def confirm(user: str) -> None:
            confirm_at[user] = time.perf_counter()
            await app.core.handle(msg(user, "Gửi tin báo"))

        t1 = time.perf_counter()
        await asyncio.gather(*(confirm(u) for u in users))
        await loop.finish()
        burst_s = time.perf_counter() - t1
        latencies = sorted(
            (sender.officer_at[sender.code_of[u]] - confirm_at[u]) * 1000
            for u in users if u in sender.code_of and sender.code_of[u] in sender.officer_at
        )
        if not latencies:
            return {"p99_ms": None, "cases": 0, "note": "no case completed the flow"}

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(round(p * (len(latencies) - 1))))]

        return {"p99_ms": pct(0.99), "p50_ms": pct(0.5), "max_ms": latencies[-1],
                "cases": len(latencies), "reporters": reporters, "fill_s": fill_s,
                "burst_s": burst_s, "errors": dict(ERRORS)}
    finally:
        await app.close()


# -- 4. memory ------------------------------------------------------------------------------------

RSS_CODE = """
import asyncio, sys, tempfile
sys.path.insert(0, {repo!r})
from pydantic import SecretStr
from bot.app import build_app
from bot.config import Settings
async def main():
    d = tempfile.mkdtemp()
    app = await build_app(Settings(database_url=f"sqlite+aiosqlite:///{{d}}/rss.db",
                                   secret_key=SecretStr("x" * 32), _env_file=None))
    assert app.services.extras.get("kb") is not None
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            print(int(line.split()[1]) / 1024)
    await app.close()
asyncio.run(main())
"""


def bench_rss() -> float:
    out = subprocess.run([sys.executable, "-c", RSS_CODE.format(repo=str(REPO))], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    return float(out.stdout.strip().splitlines()[-1])


# -- main ----------------------------------------------------------------------------------------


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bvte-bench-") as tmp:
        log("core throughput on SQLite")
        core = await bench_core(f"sqlite+aiosqlite:///{tmp}/core.db", users=args.users,
                                concurrency=args.concurrency)
        result["core_msgs_per_s_sqlite"] = round(core["msgs_per_s"], 1)
        result["core_sqlite_detail"] = core
        log("core throughput on SQLite through aiosqlite's thread (baseline)")
        threaded = await bench_core(f"sqlite+aiosqlite:///{tmp}/core-threaded.db",
                                    users=args.users, concurrency=args.concurrency, threaded=True)
        result["core_msgs_per_s_sqlite_threaded"] = round(threaded["msgs_per_s"], 1)
        result["core_sqlite_speedup"] = round(core["msgs_per_s"] / threaded["msgs_per_s"], 2)
    base = pg_base_url()
    result["core_msgs_per_s_postgres"] = None
    if base:
        log("core throughput on PostgreSQL")
        try:
            async with temp_pg(base) as pg_url:
                pg = await bench_core(pg_url, users=args.users, concurrency=args.concurrency)
            result["core_msgs_per_s_postgres"] = round(pg["msgs_per_s"], 1)
            result["core_postgres_detail"] = pg
        except (OSError, Exception) as exc:  # a benchmark, not a test: report and go on
            result["core_postgres_error"] = type(exc).__name__
    log(f"campaign delivery to {args.subscribers} subscribers, clock ×{args.factor}")
    camp = await bench_campaign(subscribers=args.subscribers, factor=args.factor)
    result["campaign_rate_share"] = round(camp["share"], 4)
    result["campaign_429s"] = camp["count_429"]
    result["campaign_duplicates"] = camp["duplicates"]
    result["campaign_detail"] = camp
    log(f"report intake: {args.reporters} reporters")
    # A province-sized burst: on PostgreSQL when there is one, else SQLite.
    rep = None
    if base:
        try:
            async with temp_pg(base) as pg_url:
                rep = await bench_reports(pg_url, reporters=args.reporters, concurrency=32)
            rep["backend"] = "postgresql"
        except Exception as exc:  # a benchmark, not a test: report and go on
            result["report_postgres_error"] = type(exc).__name__
    if rep is None:
        with tempfile.TemporaryDirectory(prefix="bvte-bench-") as tmp:
            rep = await bench_reports(f"sqlite+aiosqlite:///{tmp}/reports.db",
                                      reporters=args.reporters, concurrency=args.concurrency)
        rep["backend"] = "sqlite"
    result["report_p99_ms"] = None if rep.get("p99_ms") is None else round(rep["p99_ms"], 1)
    result["report_detail"] = rep
    log("resident memory")
    result["rss_mb"] = round(bench_rss(), 1)
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "platform": platform.platform()}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--users", type=int, default=400, help="core: users (5 messages each)")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--factor", type=float, default=6.0, help="campaign clock compression")
    parser.add_argument("--reporters", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8,
                        help="conversations handled at once (SQLite has one writer)")
    args = parser.parse_args(argv)
    logging.getLogger().addHandler(_ErrorCounter())
    logging.getLogger().setLevel(logging.ERROR)
    started = time.perf_counter()
    result = asyncio.run(run_all(args))
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
        return 0
    for key, target in TARGETS.items():
        print(f"{key:28} {result.get(key)!s:>12}   target {target}")
    print(f"{'core_msgs_per_s_sqlite_threaded':28} "
          f"{result.get('core_msgs_per_s_sqlite_threaded')!s:>12}   baseline: aiosqlite's thread "
          f"(bvte is ×{result.get('core_sqlite_speedup')})")
    camp = result["campaign_detail"]
    print(f"campaign: {camp['delivered']}/{camp['subscribers']} delivered at "
          f"{camp['rate_per_s']:.1f}/s of {camp['limit_per_s']:.0f}/s (clock ×{camp['factor']:g}), "
          f"queued in {camp['queue_s']:.1f} s, delivered in {camp['deliver_s']:.1f} s")
    rep = result["report_detail"]
    if rep.get("p99_ms") is not None:
        print(f"reports: {rep['cases']} cases, p50 {rep['p50_ms']:.0f} ms, max {rep['max_ms']:.0f} ms")
    print(f"total {result['bench_seconds']} s on {result['machine']['platform']}, "
          f"{result['machine']['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
