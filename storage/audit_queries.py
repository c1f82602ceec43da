"""Reading the audit trail: chain heads, checkpoints, and every event in chain order.

Everything that may touch every event is paged by keyset on (chain, seq), so a walk over
millions of events holds one page at a time on either backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Select, Text, cast, func, select, tuple_
from sqlmodel import Session, col

from storage import in_lists
from storage.models import Checkpoint, Event, Item, Project

EVENT_COLUMNS = (
    col(Event.id),
    col(Event.chain),
    col(Event.seq),
    col(Event.kind),
    col(Event.actor),
    col(Event.data),
    col(Event.created_at),
    col(Event.prev_hash),
    col(Event.hash),
    col(Event.project_id),
    col(Event.item_id),
)


def lock_project(session: Session, project_id: int) -> Project | None:
    """The project row, locked for this transaction to serialise checkpoint writers.

    FOR NO KEY UPDATE on PostgreSQL: inserting an event takes FOR KEY SHARE on its project
    row (the foreign key), which a plain FOR UPDATE would block for the whole checkpoint.
    """
    return session.scalars(
        select(Project).where(col(Project.id) == project_id).with_for_update(key_share=True)
    ).first()


def chain_heads(session: Session, project_id: int) -> Iterator[tuple[str, int, str]]:
    """(chain, last seq, last hash) of every chain holding events of the project."""
    last = (
        select(col(Event.chain), func.max(Event.seq).label("seq"))
        .where(col(Event.project_id) == project_id)
        .group_by(Event.chain)
        .subquery()
    )
    rows = session.execute(
        select(col(Event.chain), col(Event.seq), col(Event.hash))
        .join(last, (col(Event.chain) == last.c.chain) & (col(Event.seq) == last.c.seq))
        .order_by(Event.chain)
    )
    yield from (tuple(row) for row in rows)


@lru_cache
def _heads_of_chains(dialect: str) -> Select[str, int, str, str, str, str]:
    last = (
        select(col(Event.chain), func.max(Event.seq).label("seq"))
        .where(in_lists.one_of(col(Event.chain), "chains", dialect))
        .group_by(Event.chain)
        .subquery()
    )
    return select(
        col(Event.chain),
        col(Event.seq),
        col(Event.hash),
        col(Event.kind),
        col(Event.actor),
        cast(Event.data, Text),
    ).join(last, (col(Event.chain) == last.c.chain) & (col(Event.seq) == last.c.seq))


class ChainHead(NamedTuple):  # a NamedTuple: one is built per exported label
    seq: int
    hash: str
    kind: str
    actor: str
    data_json: str  # decoded only by those who need it (most readers want seq and hash)

    def data(self) -> dict[str, Any]:
        return orjson.loads(self.data_json)


def heads_of_chains(session: Session, chains: Sequence[str]) -> dict[str, ChainHead]:
    """chain -> its last event, for the given chains (those with no event are absent)."""
    if not chains:
        return {}
    connection = session.connection()
    dialect = connection.dialect.name
    rows = connection.execute(
        _heads_of_chains(dialect), {"chains": in_lists.bound(chains, dialect)}
    ).all()
    return {
        chain: ChainHead(seq, digest, kind, actor, data_json)
        for chain, seq, digest, kind, actor, data_json in rows
    }


def latest_checkpoint(session: Session, project_id: int) -> Checkpoint | None:
    return session.scalars(
        select(Checkpoint)
        .where(col(Checkpoint.project_id) == project_id)
        .order_by(col(Checkpoint.id).desc())
        .limit(1)
    ).first()


def checkpoint_projects(session: Session, project_id: int | None = None) -> list[int]:
    query = select(col(Checkpoint.project_id)).distinct().order_by(col(Checkpoint.project_id))
    if project_id is not None:
        query = query.where(col(Checkpoint.project_id) == project_id)
    return list(session.scalars(query))


def iter_checkpoints(session: Session, project_id: int) -> Iterator[Checkpoint]:
    """A project's checkpoints, oldest first, one at a time (each may hold many heads)."""
    last_id = 0
    while True:
        checkpoint = session.scalars(
            select(Checkpoint)
            .where(col(Checkpoint.project_id) == project_id, col(Checkpoint.id) > last_id)
            .order_by(col(Checkpoint.id))
            .limit(1)
        ).first()
        if checkpoint is None:
            return
        assert checkpoint.id is not None  # a row read from the table has its key
        session.expunge(checkpoint)
        yield checkpoint
        last_id = checkpoint.id


def iter_events(
    session: Session, *, project_id: int | None = None, page: int = 5000
) -> Iterator[Any]:
    """Every event (of one project, or all) in (chain, seq) order, as rows with the
    Event's column names, paged by keyset so memory stays flat."""
    after: tuple[str, int] | None = None
    while True:
        query = select(*EVENT_COLUMNS).order_by(col(Event.chain), col(Event.seq)).limit(page)
        if project_id is not None:
            query = query.where(col(Event.project_id) == project_id)
        if after is not None:
            query = query.where(tuple_(Event.chain, Event.seq) > tuple_(*after))
        rows = session.execute(query).all()
        if not rows:
            return
        yield from rows
        after = (rows[-1].chain, rows[-1].seq)


def chain_events(session: Session, chain: str) -> Sequence[Event]:
    return session.scalars(
        select(Event).where(col(Event.chain) == chain).order_by(col(Event.seq))
    ).all()


def items_with_external_id(
    session: Session, external_id: str, project_id: int | None = None
) -> Sequence[tuple[Item, Project]]:
    query = (
        select(Item, Project)
        .join(Project, col(Project.id) == Item.project_id)
        .where(col(Item.external_id) == external_id)
        .order_by(Project.name)
    )
    if project_id is not None:
        query = query.where(col(Item.project_id) == project_id)
    return [(item, project) for item, project in session.execute(query).all()]


def external_ids(session: Session, item_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """item id -> (external id, project name)."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(col(Item.id), col(Item.external_id), col(Project.name))
        .join(Project, col(Project.id) == Item.project_id)
        .where(col(Item.id).in_(item_ids))
    )
    return {item_id: (external, project) for item_id, external, project in rows}
