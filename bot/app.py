"""The composition root: the only module that wires every layer together."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.secrets import resolve_secret_key
from handlers import campaigns, guidance, hotline, menu, plans, safety
from handlers.clock import Clock, SystemClock
from handlers.context import CoreSettings, Services
from handlers.core import Core
from handlers.crypto import Cipher
from handlers.delivery import Dispatcher, OutboxJob, Sender
from handlers.jobs import Job, JobRunner
from handlers.router import Router
from storage.db import PG_POOL_SIZE, create_engine, create_session_factory, is_sqlite
from storage.migrate import upgrade_async
from storage.uow import UnitOfWork

__all__ = ["App", "build_app", "FEATURES"]

log = logging.getLogger("bvte.app")

# Feature modules: each has a `router` and may have `setup(app) -> list[Job]`.
FEATURES: list[ModuleType] = [menu, safety, guidance, hotline, plans, campaigns]


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    services: Services
    router: Router
    core: Core
    dispatcher: Dispatcher
    jobs: JobRunner
    senders: dict[str, Sender] = field(default_factory=dict)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def add_sender(self, channel: str, sender: Sender) -> None:
        self.senders[channel] = sender

    async def close(self) -> None:
        await self.engine.dispose()


@functools.cache
def knowledge_for(locale: str, cache_dir: Path | None = None) -> tuple[Any, Any]:
    """The knowledge base and its understander for a locale.

    Read-only and costly to build (the models train at load unless cached in
    ``cache_dir``): one per process and locale, shared by every app the process
    builds (tests, `bvte ask --jsonl`)."""
    from knowledge.loader import load_knowledge_base
    from knowledge.understand import Understander

    kb = load_knowledge_base(locale=locale)
    return kb, Understander(kb, cache_dir=cache_dir)


def load_knowledge(services: Services, cache_dir: Path | None = None) -> None:
    """Load the curated knowledge base and its understanding into the services."""
    kb, understander = knowledge_for(services.settings.locale, cache_dir)
    services.extras["kb"] = kb
    services.understand = understander.understand


async def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    senders: Mapping[str, Sender] | None = None,
    with_knowledge: bool = True,
    owner: str | None = None,
) -> App:
    if migrate:
        await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    clock = clock or SystemClock()
    services = Services(
        clock=clock,
        settings=CoreSettings(
            timezone=settings.timezone,
            default_hotline=settings.default_hotline,
            default_commune=settings.default_commune,
            locale=settings.locale,
        ),
    )
    services.extras["secret_key"] = resolve_secret_key(
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        settings.secret_key_file,
    )
    cipher = Cipher(services.extras["secret_key"])
    services.extras["cipher"] = cipher
    if with_knowledge:
        load_knowledge(services, settings.model_cache_path)
    router = Router("bvte")
    for feature in FEATURES:
        router.include(feature.router)
    services.extras["router"] = router

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(session_factory)

    all_senders: dict[str, Sender] = dict(senders or {})
    dispatcher = Dispatcher(
        uow_factory, all_senders, clock, owner=owner,
        decrypt=lambda text: cipher.decrypt(text, context="outbox"),
    )
    jobs = JobRunner([OutboxJob(dispatcher)], clock)
    # SQLite: one writer, so one transaction at a time holding up to 32 messages;
    # PostgreSQL: as many small batches at once as the pool has connections.
    if is_sqlite(settings.database_url):
        core = Core(uow_factory, services, router)
    else:
        core = Core(uow_factory, services, router, parallel=PG_POOL_SIZE, max_batch=4)
    app = App(
        settings=settings, engine=engine, session_factory=session_factory, services=services,
        router=router, core=core, dispatcher=dispatcher, jobs=jobs, senders=all_senders,
    )
    services.extras["app_uow"] = uow_factory
    for feature in FEATURES:
        setup: Callable[[App], list[Job]] | None = getattr(feature, "setup", None)
        if setup is not None:
            for job in setup(app) or []:
                jobs.add(job)
    return app


def feature_extra(app: App, name: str) -> Any:
    return app.services.extras.get(name)
