"""The HTTP side of `bvte run --webhook`: one Starlette app for every channel.

`POST /<channel name>` (e.g. `/zalo`, `/telegram`) for each channel that has
`process_webhook(payload)` and `webhook_secret_header`, plus:

* `GET /healthz`: 200 `{"db": "ok", "outbox_pending": n, "outbox_lag_s": x}` when
  the database answers, 503 `{"db": "down", ...}` otherwise (load balancers take
  the worker out of rotation);
* `GET /metrics`: Prometheus text (bot.metrics), figures read from the database so
  every worker reports the same totals.

Each webhook request:
1. checks the channel's secret header against BVTE_WEBHOOK_SECRET in constant
   time; missing, wrong or unconfigured -> 403 before the body is even read, so a
   forged request processes and writes nothing;
2. reads at most `MAX_BODY` bytes of JSON (malformed -> 400, never a traceback);
3. awaits the channel's `process_webhook`, which returns once `Core.handle` has
   committed the update id, the state change and the queued replies in ONE
   transaction, then answers 200. Sending the replies (the slow, retried part)
   happens after the acknowledgement, from the durable outbox. This keeps the ack
   fast (a local transaction) while nothing acknowledged can be lost; a
   redelivered update is dropped by the recorded update id.

`WebServer` runs uvicorn inside the running event loop without taking over the
process's signal handlers (the runner owns SIGTERM/SIGINT).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import uvicorn
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import CONTENT_TYPE_LATEST, Metrics, check_health

if TYPE_CHECKING:
    import socket

    from bot.app import App

__all__ = ["MAX_BODY", "WebServer", "WebhookChannel", "create_web_app"]

log = logging.getLogger("bvte.web")

MAX_BODY = 1_000_000  # bytes; real updates are a few KB
# Failures that mean "try again later", not "this update is broken".
_UNAVAILABLE = (OperationalError, InterfaceError, OSError, TimeoutError)


@runtime_checkable
class WebhookChannel(Protocol):
    name: str
    webhook_secret_header: str

    @property
    def webhook_ready(self) -> bool: ...

    async def process_webhook(self, payload: Any) -> None: ...


def _answer(status: int, **body: Any) -> JSONResponse:
    return JSONResponse({"ok": status == 200, **body}, status_code=status)


def _secret_ok(given: str | None, expected: str | None) -> bool:
    if not expected or given is None:
        return False
    # Header values arrive latin-1 decoded; compare bytes in constant time.
    return hmac.compare_digest(
        given.encode("latin-1", "replace"), expected.encode("utf-8")
    )


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _webhook_endpoint(channel: WebhookChannel, secret: str | None, metrics: Metrics):
    header = channel.webhook_secret_header
    counter = metrics.webhook_requests

    async def endpoint(request: Request) -> JSONResponse:
        response = await handle(request)
        counter.labels(channel.name, str(response.status_code)).inc()
        return response

    async def handle(request: Request) -> JSONResponse:
        if not _secret_ok(request.headers.get(header), secret):
            log.warning("%s webhook: refused a request without the right secret", channel.name)
            return _answer(403, error="forbidden")
        try:
            body = await _read_body(request)
        except ClientDisconnect:
            return _answer(400, error="disconnected")
        if body is None:
            return _answer(413, error="too large")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _answer(400, error="malformed JSON")
        if not isinstance(payload, dict):
            return _answer(400, error="expected a JSON object")
        if not channel.webhook_ready:
            return _answer(503, error="starting")  # the platform retries later
        try:
            await channel.process_webhook(payload)
        except ValueError:
            return _answer(400, error="malformed update")
        except _UNAVAILABLE as exc:  # the database is down: the platform retries later
            log.error("%s webhook: database unavailable (%s)", channel.name, type(exc).__name__)
            return _answer(503, error="unavailable")
        except Exception as exc:  # never leak a traceback or the update to the caller
            log.error("%s webhook failed: %s", channel.name, type(exc).__name__)
            return _answer(500, error="internal")
        return _answer(200)

    return endpoint


def _health_endpoint(app: App):
    async def endpoint(request: Request) -> JSONResponse:
        health = await check_health(app.uow, app.services.clock.now())
        return JSONResponse(health.as_dict(), status_code=200 if health.db_ok else 503)

    return endpoint


def _metrics_endpoint(metrics: Metrics):
    async def endpoint(request: Request) -> Response:
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return endpoint


def _routes(app: App, channels: Iterable[object], metrics: Metrics) -> Iterator[Route]:
    secret_value = app.settings.webhook_secret
    secret = secret_value.get_secret_value() if secret_value is not None else None
    yield Route("/healthz", _health_endpoint(app), methods=["GET"], name="healthz")
    yield Route("/metrics", _metrics_endpoint(metrics), methods=["GET"], name="metrics")
    for channel in channels:
        if isinstance(channel, WebhookChannel):
            yield Route(
                f"/{channel.name}", _webhook_endpoint(channel, secret, metrics), methods=["POST"],
                name=f"webhook-{channel.name}",
            )


def create_web_app(app: App, channels: Iterable[object], metrics: Metrics | None = None) -> Starlette:
    """The ASGI app serving the webhooks of `channels` (others are skipped),
    /healthz and /metrics."""
    metrics = metrics or Metrics(app.uow, app.services.clock)
    web = Starlette(routes=list(_routes(app, channels, metrics)))
    web.state.bvte_app = app
    web.state.metrics = metrics
    return web


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would replace the runner's SIGTERM/SIGINT handlers (and re-raise the
        # signal on exit); the runner stops us via `should_exit` instead.
        yield


class WebServer:
    """uvicorn for `asgi` on host:port as a task of the running loop.

    With `sock` (a listening socket inherited from `bvte run --workers N`'s parent)
    it serves that socket instead of binding: the kernel spreads the connections
    over the workers."""

    def __init__(self, asgi: Any, host: str, port: int, *, sock: socket.socket | None = None) -> None:
        config = uvicorn.Config(
            asgi, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
            server_header=False,
        )
        self.server = _EmbeddedServer(config)
        self.sockets = [sock] if sock is not None else None
        self.task: asyncio.Task[None] | None = None

    async def _serve(self) -> None:
        try:
            await self.server.serve(sockets=self.sockets)
        except SystemExit:  # uvicorn exits the process when it cannot bind; we do not
            raise OSError(f"web server could not listen on port {self.server.config.port}") from None

    async def start(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        self.task = asyncio.create_task(self._serve(), name="web")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.server.started:
            if self.task.done():
                # e.g. the port is taken: uvicorn logs it and exits the task.
                self.task.result()
                raise OSError(f"web server could not listen on port {self.server.config.port}")
            if loop.time() > deadline:
                raise TimeoutError("web server did not start")
            await asyncio.sleep(0.02)

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        if self.task is None:
            return
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=timeout)
        except (TimeoutError, Exception):  # stopping must not hang
            self.server.force_exit = True
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
