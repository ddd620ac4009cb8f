"""`bvte run`: serve the configured channels and the background work in one process.

SIGTERM/SIGINT stop the channels and the loops within a few seconds.

Start-up with the database down does not crash-loop: `open_app` logs one line
per attempt (no traceback) and retries with exponential back-off until the
database answers or the process is told to stop. With `--workers N` each worker
is one `serve()` in a child process (bot.workers) on an inherited socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

from bot.app import App, build_app
from bot.config import Settings

__all__ = [
    "DB_RETRY_MAX",
    "Runner",
    "build_channels",
    "db_unavailable",
    "open_app",
    "open_app_migrations",
    "serve",
    "with_db_retry",
]

log = logging.getLogger("bvte.run")

T = TypeVar("T")

STOP_TIMEOUT = 8.0
DB_RETRY_BASE = 1.0
DB_RETRY_MAX = 30.0


def safe_url(url: str) -> str:
    """The database URL for a log line: no password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "?"


def db_unavailable(exc: BaseException) -> bool:
    """True for errors meaning "the database cannot be reached now" (retry later),
    as opposed to a wrong configuration or a bug."""
    if isinstance(exc, OSError | TimeoutError | OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # asyncpg's "the database system is starting up" / "too many connections".
    return type(exc).__name__ in {"CannotConnectNowError", "TooManyConnectionsError",
                                  "ConnectionDoesNotExistError"}


async def with_db_retry(
    call: Callable[[], Awaitable[T]],
    stop: asyncio.Event,
    *,
    base: float = DB_RETRY_BASE,
    cap: float = DB_RETRY_MAX,
    where: str = "",
) -> tuple[bool, T | None]:
    """Run `call` until it gets through to the database: (True, result), or
    (False, None) when `stop` is set while waiting. Other errors propagate."""
    failures = 0
    where = f" at {where}" if where else ""
    while not stop.is_set():
        try:
            return True, await call()
        except Exception as exc:
            if not db_unavailable(exc):
                raise
            delay = min(cap, base * 2 ** min(failures, 16)) * (1 + 0.2 * random.random())
            failures += 1
            # One line, the class name only: driver messages may carry the URL.
            log.error(
                "database unavailable%s (%s); retry %d in %.1fs",
                where, type(exc).__name__, failures, delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
    return False, None


async def open_app(
    settings: Settings,
    stop: asyncio.Event,
    *,
    build: Callable[..., Awaitable[App]] = build_app,
    migrate: bool = True,
    base: float = DB_RETRY_BASE,
    cap: float = DB_RETRY_MAX,
) -> App | None:
    """Build the app, waiting for the database; None when stopped while waiting."""
    _, app = await with_db_retry(
        lambda: build(settings, migrate=migrate), stop, base=base, cap=cap,
        where=safe_url(settings.database_url),
    )
    return app


async def open_app_migrations(settings: Settings, stop: asyncio.Event, upgrade) -> bool:
    """Apply the migrations, waiting for the database; False when stopped first."""
    done, _ = await with_db_retry(
        lambda: upgrade(settings.database_url), stop, where=safe_url(settings.database_url)
    )
    return done


def build_channels(settings: Settings, *, webhook: bool) -> list:
    channels: list = []
    if settings.telegram_token is not None:
        from bot.channels.telegram.adapter import TelegramChannel, WebhookConfig

        hook = None
        if webhook:
            hook = WebhookConfig(
                listen=settings.webhook_listen, port=settings.webhook_port, url_path="telegram",
                webhook_url=f"{settings.webhook_url.rstrip('/')}/telegram" if settings.webhook_url else "",
                secret_token=settings.webhook_secret.get_secret_value() if settings.webhook_secret else "",
            )
        channels.append(TelegramChannel(
            settings.telegram_token.get_secret_value(), base_url=settings.telegram_base_url,
            webhook=hook,
        ))
    if settings.zalo_token is not None:
        try:
            from bot.channels.zalo.adapter import ZaloChannel
        except ImportError:
            log.warning("Zalo adapter not available in this build")
        else:
            channels.append(ZaloChannel.from_settings(settings, webhook=webhook))
    return channels


def limited(channel):
    """The channel's sender behind its platform's limits: Telegram ~30 msg/s overall,
    1/s per private chat (PTB's own limiter has no per-chat limit), 20/min per group;
    Zalo publishes no numbers, so its limiter adapts to 429 answers."""
    from bot.channels.ratelimit import (
        TELEGRAM_LIMITS,
        ZALO_LIMITS,
        AdaptiveRateLimiter,
        LimitedSender,
        RateLimiter,
    )

    if channel.name == "telegram":
        return LimitedSender(channel, RateLimiter(worker_share(TELEGRAM_LIMITS), name="telegram"))
    if channel.name == "zalo":
        return LimitedSender(
            channel, AdaptiveRateLimiter(worker_share(ZALO_LIMITS), name="zalo"),
            is_group=lambda _chat: False,
        )
    return channel


def worker_share(limits):
    """With N worker processes (bvte run --workers N) each limiter gets 1/N of the
    bot's overall and per-group budget, so together they stay within the platform's."""
    import dataclasses
    import os

    try:
        n = max(1, int(os.environ.get("BVTE_WORKER_COUNT", "1")))
    except ValueError:
        n = 1
    if n == 1:
        return limits
    group_max = None if limits.group_max is None else max(1, limits.group_max // n)
    return dataclasses.replace(limits, rate=limits.rate / n, group_max=group_max)


class Runner:
    """Owns the background loops: the dispatcher (woken after each commit) and the
    job ticker (time limits, reminders, campaigns)."""

    def __init__(self, app: App, tick_seconds: float) -> None:
        self.app = app
        self.tick = tick_seconds
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.busy = 0  # loops inside a step right now

    def start(self) -> None:
        self.app.services.on_enqueued = self.wake.set
        self.tasks = [
            asyncio.create_task(self._loop(self._deliver), name="dispatcher"),
            asyncio.create_task(self._loop(self._jobs), name="jobs"),
        ]

    async def _deliver(self) -> None:
        await self.app.dispatcher.drain()

    async def _jobs(self) -> None:
        await self.app.jobs.run_due()

    async def _loop(self, step: Callable[[], Awaitable[None]]) -> None:
        while not self.stopping.is_set():
            self.busy += 1
            try:
                await step()
            except Exception as exc:  # keep serving; the database may be back next tick
                log.error("background step failed: %s", type(exc).__name__)
            finally:
                self.busy -= 1
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.tick)

    async def stop(self, grace: float = 3.0) -> None:
        """Let a step in progress finish (a send and its outcome commit together),
        then cancel the loops, which are then only waiting."""
        self.stopping.set()
        self.wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.busy and loop.time() < deadline:  # noqa: ASYNC110 - a counter, polled briefly
            await asyncio.sleep(0.02)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve(
    settings: Settings,
    *,
    webhook: bool = False,
    workers: int = 1,
    sock: socket.socket | None = None,
    migrate: bool = True,
) -> int:
    """Run until SIGTERM/SIGINT. `workers` > 1 forks worker processes (bot.workers);
    `sock` is the listening socket a worker inherited from that parent."""
    from bot.workers import WORKER_ENV, inherited_socket, run_workers, workers_refusal

    refusal = workers_refusal(settings, workers, webhook=webhook)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    if workers > 1:
        return await run_workers(settings, workers)
    if sock is None and webhook:
        sock = inherited_socket()
    if os.environ.get(WORKER_ENV):
        migrate = False  # the parent applied them once for every worker
    channels = build_channels(settings, webhook=webhook)
    if not channels:
        print(
            "Chưa cấu hình kênh nào: đặt BVTE_TELEGRAM_TOKEN hoặc BVTE_ZALO_TOKEN (hoặc dùng `bvte chat`). / "
            "No channel configured: set BVTE_TELEGRAM_TOKEN or BVTE_ZALO_TOKEN (or use `bvte chat`)."
        )
        return 2
    stop = asyncio.Event()
    _install_stop(stop)
    app = await open_app(settings, stop, migrate=migrate)
    if app is None:
        log.info("stopped before the database was reachable")
        return 0
    for channel in channels:
        app.add_sender(channel.name, limited(channel))
    runner = Runner(app, settings.tick_seconds)
    started: list = []
    web = None
    try:
        if webhook:
            # One HTTP server for every channel's webhook (bot.web).
            from bot.web import WebServer, create_web_app

            web = WebServer(
                create_web_app(app, channels), settings.webhook_listen, settings.webhook_port,
                sock=sock,
            )
        if web is not None and sock is None:
            # Alone: up before the channels register their URLs with the platforms.
            await web.start()
        for channel in channels:
            await channel.start(app)
            started.append(channel)
        if web is not None and sock is not None:
            # A worker of `--workers N` shares a socket its parent already listens on: it
            # accepts only once its channels are ready, so a starting worker never takes a
            # request it could only answer 503 (the backlog holds them for the others).
            await web.start()
        runner.start()
        log.info("bvte is running: %s", ", ".join(c.name for c in channels))
        await stop.wait()
        log.info("stopping")
    finally:
        if web is not None:
            await web.stop()
        await runner.stop()
        for channel in reversed(started):
            try:
                await asyncio.wait_for(channel.stop(), timeout=STOP_TIMEOUT)
            except (TimeoutError, Exception) as exc:  # stopping must not hang or crash
                log.warning("channel %s did not stop cleanly: %s", channel.name, type(exc).__name__)
        await app.close()
    return 0
