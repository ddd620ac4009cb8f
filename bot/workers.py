"""`bvte run --webhook --workers N`: one listening socket, N worker processes.

The parent binds BVTE_WEBHOOK_LISTEN:BVTE_WEBHOOK_PORT once, applies the
migrations once, then starts N children (`python -m bot run --webhook`, a fresh
interpreter each, no fork of a running event loop) that inherit the socket
through BVTE_LISTEN_FD; the kernel spreads the connections over them. Each
child is a complete bvte: webhooks, the outbox dispatcher and the background
jobs. The work they share is claimed in the database (outbox leases with FOR
UPDATE SKIP LOCKED, conditional timer updates), so N > 1 needs PostgreSQL;
on SQLite a single worker does it all.

The parent supervises: a child that dies (crash, OOM kill) is started again
after a short back-off; SIGTERM/SIGINT is passed to every child, and a child
still running after `STOP_GRACE` seconds is killed, so the whole group stops
within 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from bot.config import Settings
from storage.db import is_sqlite, normalize_database_url

__all__ = [
    "LISTEN_FD_ENV",
    "STOP_GRACE",
    "WORKER_ENV",
    "bind_socket",
    "inherited_socket",
    "run_workers",
    "workers_refusal",
]

log = logging.getLogger("bvte.workers")

LISTEN_FD_ENV = "BVTE_LISTEN_FD"
WORKER_ENV = "BVTE_WORKER_INDEX"
WORKER_COUNT_ENV = "BVTE_WORKER_COUNT"
STOP_GRACE = 8.0  # then SIGKILL; with the parent's own exit, well under 10 s
RESTART_BASE = 0.5
RESTART_MAX = 30.0
# A child that ran this long before dying counts as healthy: its back-off resets.
HEALTHY_AFTER = 30.0


def workers_refusal(settings: Settings, workers: int, *, webhook: bool) -> str | None:
    """Why `workers` cannot run with these settings (a user-facing sentence), or None."""
    if workers <= 1:
        return None
    if not webhook:
        return (
            "--workers cần --webhook: nhiều tiến trình cùng nhận tin (polling) sẽ giành nhau. / "
            "--workers needs --webhook: several pollers on one bot token would fight."
        )
    if is_sqlite(normalize_database_url(settings.database_url)):
        return (
            "SQLite chỉ chạy một tiến trình: bỏ --workers, hoặc dùng PostgreSQL "
            "(BVTE_DATABASE_URL=postgresql://...). / "
            "SQLite runs a single worker (it does all the work): drop --workers, or use "
            "PostgreSQL for several workers."
        )
    return None


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def inherited_socket() -> socket.socket | None:
    """The listening socket handed down by the parent, if this is a worker."""
    raw = os.environ.get(LISTEN_FD_ENV, "")
    if not raw.isdigit():
        return None
    return socket.socket(fileno=int(raw))


@dataclass
class _Child:
    index: int
    proc: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    exits: list[int] = field(default_factory=list)


class _Supervisor:
    def __init__(self, n: int, sock: socket.socket) -> None:
        self.children = [_Child(i) for i in range(n)]
        self.sock = sock
        self.stopping = asyncio.Event()

    def _spawn(self, child: _Child) -> None:
        env = dict(os.environ)
        env[LISTEN_FD_ENV] = str(self.sock.fileno())
        env[WORKER_ENV] = str(child.index)
        # Each worker has its own rate limiter: it takes its share of the bot's limits.
        env[WORKER_COUNT_ENV] = str(len(self.children))
        # The parent has migrated; stdout/stderr are shared (one log stream).
        child.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--webhook"],
            env=env, pass_fds=(self.sock.fileno(),), stdin=subprocess.DEVNULL,
        )
        child.started = time.monotonic()
        child.restart_at = None
        log.info("worker %d started (pid %d)", child.index, child.proc.pid)

    def _reap(self) -> None:
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if proc is None:
                if child.restart_at is not None and now >= child.restart_at:
                    self._spawn(child)
                continue
            code = proc.poll()
            if code is None:
                continue
            child.exits.append(code)
            child.proc = None
            if now - child.started >= HEALTHY_AFTER:
                child.failures = 0
            delay = min(RESTART_MAX, RESTART_BASE * 2 ** min(child.failures, 16))
            child.failures += 1
            child.restart_at = now + delay
            log.error("worker %d (pid %d) exited with %d; restarting in %.1fs",
                      child.index, proc.pid, code, delay)

    def _signal_all(self, sig: int) -> None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(sig)

    async def run(self) -> int:
        for child in self.children:
            self._spawn(child)
        while not self.stopping.is_set():
            self._reap()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=0.2)
        return await self.shutdown()

    async def shutdown(self) -> int:
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            if all(c.proc is None or c.proc.poll() is not None for c in self.children):
                break
            await asyncio.sleep(0.05)
        late = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in late:
            log.warning("worker %d did not stop in %.0fs; killing it", child.index, STOP_GRACE)
            with contextlib.suppress(ProcessLookupError):
                child.proc.kill()  # type: ignore[union-attr]
        for child in self.children:
            if child.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(timeout=1.0)
        return 1 if late else 0


async def run_workers(settings: Settings, workers: int) -> int:
    """Bind, migrate once, run `workers` children until SIGTERM/SIGINT."""
    from storage.migrate import upgrade_async

    refusal = workers_refusal(settings, workers, webhook=True)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    try:
        sock = bind_socket(settings.webhook_listen, settings.webhook_port)
    except OSError as exc:
        print(
            f"Không mở được cổng {settings.webhook_port} / cannot listen on "
            f"{settings.webhook_listen}:{settings.webhook_port}: {exc.strerror or type(exc).__name__}",
            file=sys.stderr,
        )
        return 1
    supervisor = _Supervisor(workers, sock)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, supervisor.stopping.set)
    try:
        # Once, here: N workers migrating at the same time would race each other.
        from bot.runner import open_app_migrations

        if not await open_app_migrations(settings, supervisor.stopping, upgrade_async):
            return 0
        log.info("starting %d workers on %s:%d", workers, settings.webhook_listen,
                 settings.webhook_port)
        return await supervisor.run()
    finally:
        sock.close()
