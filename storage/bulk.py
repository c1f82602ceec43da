"""Bulk writes for large imports: Core executemany in chunks, not one ORM object a row."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import insert
from sqlmodel import Session, SQLModel

from storage.models import Event, Item

CHUNK = 5000


def insert_rows(
    session: Session,
    table: type[SQLModel],
    rows: Sequence[dict],
    *,
    progress: Callable[[int], None] | None = None,
) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        # Core insert on the table: the ORM's bulk path costs more than the database.
        session.connection().execute(
            insert(table.__table__),  # type: ignore[attr-defined]  # set by SQLAlchemy's mapping; SQLModel does not declare it
            list(chunk),
        )
        if progress:
            progress(len(chunk))


def insert_items(
    session: Session, rows: Sequence[dict], *, progress: Callable[[int], None] | None = None
) -> None:
    insert_rows(session, Item, rows, progress=progress)


def insert_events(
    session: Session, rows: Sequence[dict], *, progress: Callable[[int], None] | None = None
) -> None:
    """Insert event rows built by bot.audit.chain.build_event_row."""
    insert_rows(session, Event, rows, progress=progress)
