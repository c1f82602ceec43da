"""The database and settings a command works with."""

from __future__ import annotations

from sqlalchemy import Engine

from bot.cli.failures import check_database_url, database_error
from bot.runtime.context import QuorumContext
from bot.runtime.settings import Settings, get_settings
from storage.db import make_engine, upgrade_schema


def open_context(settings: Settings | None = None) -> QuorumContext:
    """The context of one command, on a database migrated to the current schema."""
    settings = settings or get_settings()
    return QuorumContext(engine=open_database(settings.database_url), settings=settings)


def open_database(url: str) -> Engine:
    """An engine on `url`, connected and migrated; a URL that names no usable database
    (unparsable, another backend, a missing folder, a server that refuses) is a
    UserError saying which and what to do."""
    check_database_url(url)
    engine: Engine | None = None
    try:
        engine = make_engine(url)
        upgrade_schema(engine)
    except Exception as exc:
        if engine is not None:
            engine.dispose()
        failure = database_error(url, exc)
        if failure is None:
            raise
        raise failure from exc
    return engine
