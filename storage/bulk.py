"""Bulk writes for large imports: Core executemany in chunks, not one ORM object a row."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import insert
from sqlmodel import Session

from storage.models import Event, Item

CHUNK = 5000


def insert_rows(
    session: Session,
    table: type,
    rows: Sequence[dict],
    *,
    progress: Callable[[int], None] | None = None,
) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        session.execute(insert(table), list(chunk))
        if progress:
            progress(len(chunk))


def insert_items(session: Session, rows: Sequence[dict], **kwargs) -> None:  # type: ignore[no-untyped-def]
    insert_rows(session, Item, rows, **kwargs)


def insert_events(session: Session, events: Sequence[Event], **kwargs) -> None:  # type: ignore[no-untyped-def]
    rows = [event.model_dump(exclude={"id"}) for event in events]
    insert_rows(session, Event, rows, **kwargs)
