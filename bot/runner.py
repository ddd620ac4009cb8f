"""`bvte run`: serve the configured channels and the background work in one process.

SIGTERM/SIGINT stop the channels and the loops within a few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from bot.app import App, build_app
from bot.config import Settings

__all__ = ["Runner", "build_channels", "serve"]

log = logging.getLogger("bvte.run")

STOP_TIMEOUT = 8.0


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


class Runner:
    """Owns the background loops: the dispatcher (woken after each commit) and the
    job ticker (time limits, reminders, campaigns)."""

    def __init__(self, app: App, tick_seconds: float) -> None:
        self.app = app
        self.tick = tick_seconds
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

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
            try:
                await step()
            except Exception as exc:  # keep serving; the database may be back next tick
                log.error("background step failed: %s", type(exc).__name__)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.tick)

    async def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def serve(settings: Settings, *, webhook: bool = False, workers: int = 1) -> int:
    channels = build_channels(settings, webhook=webhook)
    if not channels:
        print(
            "Chưa cấu hình kênh nào: đặt BVTE_TELEGRAM_TOKEN hoặc BVTE_ZALO_TOKEN (hoặc dùng `bvte chat`). / "
            "No channel configured: set BVTE_TELEGRAM_TOKEN or BVTE_ZALO_TOKEN (or use `bvte chat`)."
        )
        return 2
    app = await build_app(settings)
    for channel in channels:
        app.add_sender(channel.name, channel)
    runner = Runner(app, settings.tick_seconds)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    started: list = []
    web = None
    try:
        if webhook:
            # One HTTP server for every channel's webhook (bot.web), up before the
            # channels register their URLs with the platforms.
            from bot.web import WebServer, create_web_app

            web = WebServer(
                create_web_app(app, channels), settings.webhook_listen, settings.webhook_port
            )
            await web.start()
        for channel in channels:
            await channel.start(app)
            started.append(channel)
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
