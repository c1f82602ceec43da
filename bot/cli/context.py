"""The database and settings a command works with."""

from __future__ import annotations

from bot.runtime.context import QuorumContext
from bot.runtime.settings import Settings, get_settings
from storage.db import make_engine, upgrade_schema


def open_context(settings: Settings | None = None) -> QuorumContext:
    """The context of one command, on a database migrated to the current schema."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return QuorumContext(engine=engine, settings=settings)
