"""Persistence: SQLAlchemy 2 async models, repositories, unit of work, migrations."""

from storage.db import create_engine, create_session_factory, normalize_database_url
from storage.uow import UnitOfWork

__all__ = ["UnitOfWork", "create_engine", "create_session_factory", "normalize_database_url"]
