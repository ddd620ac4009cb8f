"""What every admin command shares: one committed transaction on the configured
database (migrated first), and "now" from the process clock (the simulator's when
it runs a command)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

__all__ = ["now", "run_in_transaction"]

T = TypeVar("T")


def run_in_transaction(work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run `work(session, settings)` in one transaction: committed when it returns,
    rolled back when it raises."""
    from bot.cli import settings_or_exit
    from storage.db import create_engine, create_session_factory
    from storage.migrate import upgrade_async
    from storage.uow import UnitOfWork

    settings = settings_or_exit()

    async def main() -> T:
        await upgrade_async(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            async with UnitOfWork(create_session_factory(engine)) as uow:
                return await work(uow.session, settings)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def now() -> datetime:
    from bot.runtime import get_clock

    return get_clock().now()
