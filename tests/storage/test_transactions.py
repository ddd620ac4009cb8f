"""A unit of work is all or nothing, on every backend (SQLite included)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade_async
from storage.models import ProcessedUpdate, User
from storage.repositories import core as core_repo
from storage.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def test_rollback_undoes_the_update_ledger_too(db_url):
    await upgrade_async(db_url)
    engine = create_engine(db_url)
    sf = create_session_factory(engine)
    try:
        with pytest.raises(RuntimeError):
            async with UnitOfWork(sf) as uow:
                assert await core_repo.record_update(uow.session, channel="t", update_key="1", now=T0)
                await core_repo.get_or_create_user(uow.session, channel="t", user_key="u", now=T0)
                raise RuntimeError("crash before commit")
        async with UnitOfWork(sf) as uow:
            assert await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0
            assert await uow.session.scalar(select(func.count()).select_from(User)) == 0
            # and the update can be processed again
            assert await core_repo.record_update(uow.session, channel="t", update_key="1", now=T0)
    finally:
        await engine.dispose()
