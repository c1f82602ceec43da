"""SQL of the REST API: tokens, idempotency records, the labels feed, one item's status and
answers, and the few counts of a project's stats that storage/queries.py does not have."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Text, cast, func, literal, or_, select, tuple_, update
from sqlmodel import Session, col

from storage import in_lists, label_queries
from storage.escalation_queries import OPEN
from storage.models import (
    ApiIdempotency,
    ApiToken,
    Escalation,
    Item,
    Label,
    Project,
    Response,
)

# --- tokens -----------------------------------------------------------------------------


def add_token(
    session: Session,
    *,
    project_id: int,
    name: str,
    scope: str,
    token_hash: str,
    prefix: str,
    now: datetime,
) -> ApiToken:
    token = ApiToken(
        project_id=project_id,
        name=name,
        scope=scope,
        token_hash=token_hash,
        prefix=prefix,
        created_at=now,
    )
    session.add(token)
    session.flush()
    return token


def token_by_hash(session: Session, token_hash: str) -> tuple[ApiToken, Project] | None:
    """The token with this SHA-256 and its project. Looking the hash up (never the token)
    leaves nothing for a timing attack to measure: an index seek on a digest says nothing
    about how close a guess was."""
    row = session.execute(
        select(ApiToken, Project)
        .join(Project, col(Project.id) == ApiToken.project_id)
        .where(col(ApiToken.token_hash) == token_hash)
    ).first()
    return None if row is None else (row[0], row[1])


def list_tokens(session: Session, project_id: int | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens (with their project's name), oldest first."""
    query = select(ApiToken, col(Project.name)).join(
        Project, col(Project.id) == ApiToken.project_id
    )
    if project_id is not None:
        query = query.where(col(ApiToken.project_id) == project_id)
    rows = session.execute(query.order_by(col(ApiToken.id))).all()
    return [(token, name) for token, name in rows]


def get_token(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def touch_token(session: Session, token_id: int, *, now: datetime, before: datetime) -> None:
    """Record a use, unless one after `before` is recorded already (by any process)."""
    session.execute(
        update(ApiToken)
        .where(
            col(ApiToken.id) == token_id,
            or_(col(ApiToken.last_used_at).is_(None), col(ApiToken.last_used_at) < before),
        )
        .values(last_used_at=now)
    )


# --- idempotency ------------------------------------------------------------------------


def idempotency_record(session: Session, token_id: int, key: str) -> ApiIdempotency | None:
    return session.execute(
        select(ApiIdempotency).where(
            col(ApiIdempotency.token_id) == token_id, col(ApiIdempotency.key) == key
        )
    ).scalar_one_or_none()


def save_idempotency(
    session: Session,
    *,
    token_id: int,
    key: str,
    request_hash: str,
    status_code: int,
    body: dict,
    now: datetime,
) -> None:
    """Raises IntegrityError when a racing request with the same key saved first (the
    caller's transaction is then run again and replays that answer)."""
    session.add(
        ApiIdempotency(
            token_id=token_id,
            key=key,
            request_hash=request_hash,
            status_code=status_code,
            body=body,
            created_at=now,
        )
    )
    session.flush()


def begin_writing(session: Session) -> None:
    """Take SQLite's write lock at the start of a transaction that reads, then writes
    (BEGIN IMMEDIATE): two such transactions started together would otherwise both read,
    and the second's first write fail at once with "database is locked" (its snapshot
    is stale). PostgreSQL locks rows and keys as it goes: nothing to do there."""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- the labels feed ----------------------------------------------------------------------


def _txid() -> Any:
    # Never NULL on PostgreSQL: sign_off sets it, and migration 0006 gave labels signed
    # off before it 0 (they come first). Bare, so ix_label_feed serves the page.
    return col(Label.txid)


def feed_positions(
    session: Session, project_id: int, *, after: tuple[int, int], limit: int
) -> list[tuple[int, int]]:
    """(position, label id) of the next `limit` labels after `after`, in commit order.

    PostgreSQL: the position is the signing transaction's id, and only labels of
    transactions older than the oldest one still running are served
    (pg_snapshot_xmin of this statement's snapshot): a transaction still open may commit
    a label with a smaller position later, and a consumer whose cursor had passed it
    would never see it. SQLite has one writer at a time: label ids are commit order and
    the position is always 0 (txid is NULL there: matching it lets ix_label_feed, on
    (project_id, txid, id), serve the page as one range scan, with no sort)."""
    if session.get_bind().dialect.name == "postgresql":
        position = _txid()
        horizon = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
        query = (
            select(position, col(Label.id))
            .where(
                col(Label.project_id) == project_id,
                tuple_(position, col(Label.id)) > tuple_(after[0], after[1]),
                position < horizon,
            )
            .order_by(position, col(Label.id))
        )
    else:
        query = (
            select(literal(0, BigInteger), col(Label.id))
            .where(
                col(Label.project_id) == project_id,
                col(Label.txid).is_(None),
                col(Label.id) > after[1],
            )
            .order_by(col(Label.id))
        )
    rows = session.execute(query.limit(limit)).all()
    return [(int(position), int(label_id)) for position, label_id in rows]


def label_rows(session: Session, project_id: int, label_ids: Sequence[int]) -> list[Any]:
    """The export's label rows (storage.label_queries.LABEL_COLUMNS_WITH_CONTENT) of these labels of
    the project, in the order of `label_ids`; ids of other projects are left out."""
    if not label_ids:
        return []
    dialect = session.connection().dialect.name
    query = (
        select(*label_queries.LABEL_COLUMNS_WITH_CONTENT)
        .join(Item, col(Item.id) == Label.item_id)
        .where(
            col(Label.project_id) == project_id,
            in_lists.one_of(col(Label.id), "label_ids", dialect),
        )
    )
    raw = session.connection().execute(
        query, {"label_ids": in_lists.bound(list(label_ids), dialect)}
    )
    rows = {row.id: row for row in label_queries.read_labels_with_content(raw.all())}
    return [rows[label_id] for label_id in dict.fromkeys(label_ids) if label_id in rows]


# --- one item -----------------------------------------------------------------------------


def item_by_external_id(session: Session, project_id: int, external_id: str) -> Item | None:
    return session.execute(
        select(Item).where(col(Item.project_id) == project_id, col(Item.external_id) == external_id)
    ).scalar_one_or_none()


def label_id_of_item(session: Session, item_id: int) -> int | None:
    return session.execute(
        select(col(Label.id)).where(col(Label.item_id) == item_id)
    ).scalar_one_or_none()


def item_responses(session: Session, item_id: int) -> list[Response]:
    """Every answer given on the item, oldest first."""
    return list(
        session.execute(
            select(Response).where(col(Response.item_id) == item_id).order_by(col(Response.id))
        ).scalars()
    )


# --- stats ----------------------------------------------------------------------------------


def labels_signed_since(session: Session, project_id: int, since: datetime) -> int:
    return session.execute(
        select(func.count())
        .select_from(Label)
        .where(col(Label.project_id) == project_id, col(Label.signed_off_at) >= since)
    ).scalar_one()


def count_open_escalations(session: Session, project_id: int) -> int:
    return session.execute(
        select(func.count())
        .select_from(Escalation)
        .where(
            col(Escalation.project_id) == project_id,
            col(Escalation.status) == OPEN,
            col(Escalation.stage) == "sign_off",
        )
    ).scalar_one()
