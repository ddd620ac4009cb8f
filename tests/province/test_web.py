"""/healthz, /metrics and the webhook endpoint's answers (in process, over ASGI)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import update

from bot.app import build_app
from bot.config import Settings
from bot.web import _secret_ok, create_web_app
from handlers.clock import SimClock
from handlers.messages import Inbound
from storage.models.hotline import CaseTimer
from storage.repositories import outbox as outbox_repo
from tests.hotline.conftest import build_sim

SECRET = "province-test-secret-key-0123456789"
HOOK_SECRET = "hook-secret-0123456789"


class FakeHookChannel:
    """The smallest WebhookChannel: hands each payload to the core as a text message."""

    name = "fakehook"
    webhook_secret_header = "X-Fake-Secret"

    def __init__(self, app) -> None:
        self.app = app
        self.payloads: list[Any] = []

    @property
    def webhook_ready(self) -> bool:
        return True

    async def process_webhook(self, payload: Any) -> None:
        self.payloads.append(payload)
        text = payload.get("text")
        if not isinstance(text, str):
            raise ValueError("no text")
        await self.app.core.handle(Inbound(
            channel=self.name, chat_id="c1", user_id="u1", text=text, kind="text",
            update_id=str(payload.get("id")),
        ))


def settings(db_url: str, **extra: Any) -> Settings:
    return Settings(
        database_url=db_url, secret_key=SecretStr(SECRET), webhook_secret=SecretStr(HOOK_SECRET),
        _env_file=None, **extra,
    )


def client(web) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bvte")


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_healthz_reports_pending_and_lag(db_url: str) -> None:
    clock = SimClock()
    app = await build_app(settings(db_url), clock=clock, with_knowledge=False)
    try:
        web = create_web_app(app, [])
        async with client(web) as http:
            r = await http.get("/healthz")
            assert r.status_code == 200
            assert r.json() == {"db": "ok", "outbox_pending": 0, "outbox_lag_s": 0.0}
            async with app.uow() as uow:
                for i in range(3):
                    await outbox_repo.enqueue(
                        uow.session, channel="telegram", chat_id=str(i), text="x", now=clock.now()
                    )
            clock.advance(timedelta(seconds=42))
            r = await http.get("/healthz")
            assert r.status_code == 200
            body = r.json()
            assert body["db"] == "ok" and body["outbox_pending"] == 3
            assert body["outbox_lag_s"] == pytest.approx(42, abs=0.5)
    finally:
        await app.close()


async def test_healthz_is_503_when_the_database_is_down(tmp_path) -> None:
    db = tmp_path / "h.db"
    app = await build_app(settings(f"sqlite+aiosqlite:///{db}"), with_knowledge=False)
    try:
        # Point the app's sessions at a PostgreSQL port nobody listens on.
        from storage.db import create_engine, create_session_factory

        dead = create_engine("postgresql+asyncpg://bvte:pw-never-shown@127.0.0.1:9/none")
        app.session_factory = create_session_factory(dead)
        web = create_web_app(app, [])
        async with client(web) as http:
            r = await http.get("/healthz")
            assert r.status_code == 503
            assert r.json()["db"] == "down"
            assert "pw-never-shown" not in r.text
            m = await http.get("/metrics")
            assert m.status_code == 200
            assert metric_values(m.text)[("bvte_db_up", ())] == 0.0
        await dead.dispose()
    finally:
        await app.close()


async def test_metrics_count_updates_messages_reports_and_breaches(db_url: str) -> None:
    hsim = await build_sim(db_url)
    app = hsim.app
    try:
        await hsim.register("off1")
        await hsim.report("rep1")
        await hsim.report("rep2")
        app.settings = app.settings.model_copy(update={"webhook_secret": SecretStr(HOOK_SECRET)})
        hook = FakeHookChannel(app)
        web = create_web_app(app, [hook])
        async with client(web) as http:
            r = await http.post("/fakehook", json={"id": 1, "text": "xin chào"},
                                headers={"X-Fake-Secret": HOOK_SECRET})
            assert r.status_code == 200
            async with app.uow() as uow:  # one claim limit passed unmet
                await uow.session.execute(
                    update(CaseTimer).where(CaseTimer.limit_name == "claim", CaseTimer.level == 0)
                    .values(fired_at=hsim.clock.now())
                )
            text = (await http.get("/metrics")).text
        values = metric_values(text)
        assert values[("bvte_db_up", ())] == 1.0
        assert values[("bvte_reports_created_total", ())] == 2
        assert values[("bvte_time_limit_breaches_total", (("limit", "claim"),))] == 2
        assert values[("bvte_updates_in_total", (("channel", "fakehook"),))] == 1
        sim_in = values[("bvte_updates_in_total", (("channel", "sim"),))]
        assert sim_in > 20  # two full intakes and a registration
        sim_out = values[("bvte_messages_out_total", (("channel", "sim"),))]
        assert sim_out >= sim_in  # every step answered, officers notified on top
        # The fake channel has no sender here: its reply waits in the outbox.
        assert values[("bvte_outbox_depth", (("status", "pending"),))] >= 1
        assert values[("bvte_webhook_requests_total", (("channel", "fakehook"), ("status", "200")))] == 1
        assert ("bvte_outbox_lag_seconds", ()) in values
    finally:
        await app.close()


async def test_each_app_has_its_own_registry(tmp_path) -> None:
    before = {m.name for m in REGISTRY.collect()}
    apps = [
        await build_app(settings(f"sqlite+aiosqlite:///{tmp_path / f'{i}.db'}"), with_knowledge=False)
        for i in range(2)
    ]
    try:
        webs = [create_web_app(a, [FakeHookChannel(a)]) for a in apps]
        assert webs[0].state.metrics.registry is not webs[1].state.metrics.registry
        async with client(webs[0]) as http:
            await http.post("/fakehook", json={"id": 1, "text": "a"},
                            headers={"X-Fake-Secret": HOOK_SECRET})
        async with client(webs[1]) as http:
            values = metric_values((await http.get("/metrics")).text)
        assert ("bvte_webhook_requests_total", (("channel", "fakehook"), ("status", "200"))) not in values
        assert not any(n.startswith("bvte") for n in {m.name for m in REGISTRY.collect()} - before)
    finally:
        for a in apps:
            await a.close()


async def test_webhook_answers(tmp_path) -> None:
    app = await build_app(settings(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"), with_knowledge=False)
    try:
        hook = FakeHookChannel(app)
        async with client(create_web_app(app, [hook])) as http:
            ok = {"X-Fake-Secret": HOOK_SECRET}
            assert (await http.post("/fakehook", json={"id": 1, "text": "a"})).status_code == 403
            bad = {"X-Fake-Secret": HOOK_SECRET[:-1] + "x"}
            assert (await http.post("/fakehook", json={"id": 1, "text": "a"}, headers=bad)).status_code == 403
            assert (await http.post("/fakehook", content=b"{nope", headers=ok)).status_code == 400
            assert (await http.post("/fakehook", json=[1, 2], headers=ok)).status_code == 400
            assert (await http.post("/fakehook", json={"id": 2}, headers=ok)).status_code == 400
            assert (await http.post("/fakehook", json={"id": 3, "text": "a"}, headers=ok)).status_code == 200
            assert (await http.get("/fakehook")).status_code == 405
        assert len(hook.payloads) == 2  # the refused and malformed ones never reached it
    finally:
        await app.close()


def test_webhook_secret_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("bot.web.hmac.compare_digest", spy)
    assert _secret_ok(HOOK_SECRET, HOOK_SECRET) is True
    assert _secret_ok("wrong", HOOK_SECRET) is False
    assert _secret_ok("Xook-secret-0123456789", HOOK_SECRET) is False
    assert len(calls) == 3  # every comparison, right or wrong, went through compare_digest
    assert _secret_ok(None, HOOK_SECRET) is False
    assert _secret_ok("anything", None) is False
    assert _secret_ok("", "") is False


async def test_sqlalchemy_echo_is_never_on(db_url: str) -> None:
    app = await build_app(settings(db_url), with_knowledge=False)
    try:
        assert app.engine.echo is False
        assert app.engine.sync_engine.echo is False
        import logging

        assert logging.getLogger("sqlalchemy.engine").getEffectiveLevel() >= logging.WARNING
    finally:
        await app.close()
