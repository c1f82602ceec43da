"""Outbox claims, pacing buckets and backlog figures.

Claims use FOR UPDATE SKIP LOCKED on PostgreSQL so several processes share the work
without sending a row twice; on SQLite the single writer lock does the same job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from storage.models import OutboxMessage, OutboxStatus, PaceBucket

WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        (col(OutboxMessage.status) == OutboxStatus.PENDING)
        & (col(OutboxMessage.next_attempt_at) <= now),
        (col(OutboxMessage.status) == OutboxStatus.SENDING)
        & (col(OutboxMessage.claimed_until) < now),
    )


# The interactive lane first (a person is waiting), then by due time.
CLAIM_ORDER = (
    col(OutboxMessage.lane),
    # Rows whose paid pacing slot has come go before rows not yet paced (a bulk import's
    # backlog), so slots are used on time rather than late.
    col(OutboxMessage.pace_slot_at).is_(None),
    col(OutboxMessage.next_attempt_at),
    col(OutboxMessage.id),
)


def claim_due(
    session: Session, *, worker_id: str, now: datetime, limit: int, lease_s: float = 60.0
) -> Sequence[OutboxMessage]:
    """Take up to `limit` due rows: pending ones, and ones whose sender's lease ran out
    (it crashed mid-send; those are re-checked before sending again).

    `worker_id` must be unique to the claiming thread. On PostgreSQL the candidates are
    locked with SKIP LOCKED; on SQLite (no row locks) the UPDATE re-checks that each row
    is still due, so of two racing claimers exactly one gets it."""
    query = select(OutboxMessage.id).where(_due(now)).order_by(*CLAIM_ORDER).limit(limit)
    if _postgres(session):
        query = query.with_for_update(skip_locked=True)
    candidates = list(session.exec(query).all())
    if not candidates:
        return []
    until = now + timedelta(seconds=lease_s)
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(candidates), _due(now))
        .values(status=OutboxStatus.SENDING, claimed_by=worker_id, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return session.exec(
        select(OutboxMessage)
        .where(
            col(OutboxMessage.id).in_(candidates),
            OutboxMessage.claimed_by == worker_id,
            OutboxMessage.status == OutboxStatus.SENDING,
        )
        .order_by(*CLAIM_ORDER)
        .execution_options(populate_existing=True)
    ).all()


def mark_sent(session: Session, row_id: int, *, now: datetime, result: dict) -> None:
    """Record a send in one statement (the caller already holds the row's lock or
    does not need it: a sent message is a fact whoever claimed the row)."""
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id)
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            result=result,
            last_error=None,
            claimed_by=None,
            claimed_until=None,
            pace_slot_at=None,
        )
        .execution_options(synchronize_session=False)
    )


def lock_claimed(session: Session, row_id: int, *, worker_id: str) -> OutboxMessage | None:
    """The row, locked, if this worker still holds its claim (a lease that ran out may
    have been taken over by another process meanwhile)."""
    row = session.exec(
        select(OutboxMessage).where(OutboxMessage.id == row_id).with_for_update()
    ).first()
    if row is None or row.status != OutboxStatus.SENDING or row.claimed_by != worker_id:
        return None
    return row


def release_claims(
    session: Session, *, worker_id: str, row_ids: Collection[int] | None = None
) -> int:
    """Hand back rows this worker (any of its threads: ids starting with `worker_id`)
    claimed but never started sending (graceful shutdown).

    `row_ids` names them exactly; without it only rows never attempted at all are
    released (a row with attempts may be mid-send in this process)."""
    query = update(OutboxMessage).where(
        col(OutboxMessage.claimed_by).startswith(worker_id, autoescape=True),
        col(OutboxMessage.status) == OutboxStatus.SENDING,
    )
    if row_ids is not None:
        if not row_ids:
            return 0
        query = query.where(col(OutboxMessage.id).in_(list(row_ids)))
    else:
        query = query.where(col(OutboxMessage.attempts) == 0)
    result = session.exec(
        query.values(status=OutboxStatus.PENDING, claimed_by=None, claimed_until=None)
    )
    return result.rowcount or 0


def rows_for_target(
    session: Session, *, assignment_id: int | None = None, escalation_id: int | None = None
) -> Sequence[OutboxMessage]:
    """Outbox rows tied to an assignment or an escalation, oldest first."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if assignment_id is not None:
        query = query.where(OutboxMessage.assignment_id == assignment_id)
    else:
        query = query.where(OutboxMessage.escalation_id == escalation_id)
    return session.exec(query).all()


FINISHED = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.CANCELLED)


_HAS_KEY = select(OutboxMessage.id).where(OutboxMessage.idempotency_key == bindparam("key"))
_INSERT = OutboxMessage.__table__.insert()  # type: ignore[attr-defined]


def has_key(session: Session, key: str) -> bool:
    """A row under this idempotency key exists (whatever its state)."""
    return session.execute(_HAS_KEY, {"key": key}).first() is not None


def insert_message(
    session: Session,
    *,
    key: str,
    operation: str,
    payload: dict,
    due: datetime,
    now: datetime,
    lane: int,
    item_id: int | None,
    assignment_id: int | None,
    escalation_id: int | None,
) -> None:
    """A new pending row; the unique key refuses a second one. A Core insert: the
    workflow queues one or two of these per click and never reads them back as objects."""
    session.execute(
        _INSERT,
        {
            "idempotency_key": key,
            "operation": operation,
            "payload": payload,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": due,
            "created_at": now,
            "lane": lane,
            "item_id": item_id,
            "assignment_id": assignment_id,
            "escalation_id": escalation_id,
        },
    )


def _build_upsert(postgres: bool) -> Any:
    dialect = postgresql if postgres else sqlite
    row = OutboxMessage.__table__.c  # type: ignore[attr-defined]
    finished = row.status.in_(FINISHED)
    # The table, not the entity: an ORM-enabled insert takes the ORM's bulk path.
    insert = dialect.insert(OutboxMessage.__table__).values(  # type: ignore[attr-defined]
        idempotency_key=bindparam("key"),
        operation=bindparam("operation"),
        payload=bindparam("payload", type_=row.payload.type),
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=bindparam("due", type_=row.next_attempt_at.type),
        created_at=bindparam("now", type_=row.created_at.type),
        lane=bindparam("lane"),
    )
    again = {
        "status": case((finished, OutboxStatus.PENDING), else_=row.status),
        "next_attempt_at": case(
            (finished, insert.excluded.next_attempt_at), else_=row.next_attempt_at
        ),
        "attempts": case((finished, 0), else_=row.attempts),
        "last_error": case((finished, None), else_=row.last_error),
        "sent_at": case((finished, None), else_=row.sent_at),
    }
    return insert.on_conflict_do_update(index_elements=["idempotency_key"], set_=again)


# Built once per dialect: this runs on every click (the Home refresh), and building the
# statement (its ON CONFLICT clause above all) cost more CPU than executing it.
_UPSERTS = {postgres: _build_upsert(postgres) for postgres in (False, True)}


def upsert_pending(
    session: Session,
    *,
    key: str,
    operation: str,
    payload: dict,
    due: datetime,
    now: datetime,
    lane: int = 1,
) -> None:
    """One statement: a row for `key` due at `due`, unless one is there already and not
    taken for sending yet, which is left as it is (so a burst of these leaves one row, and
    its due time does not slip). The delivery worker renames the key of a row it takes
    (bot/delivery/worker.py), so the next call queues a new one; a finished row still
    under the key (never the case for rows the worker took) is made pending again.

    The conflicting row is updated, not skipped, so on PostgreSQL this takes its row
    lock: a worker taking it meanwhile waits for this transaction to commit."""
    session.execute(
        _UPSERTS[_postgres(session)],
        {
            "key": key,
            "operation": operation,
            "payload": payload,
            "due": due,
            "now": now,
            "lane": lane,
        },
    )


def shown_by_response_url(session: Session, keys: Collection[str], *, now: datetime) -> int:
    """The pending chat.updates under `keys` were shown through their clicks'
    response_urls: mark them sent so the worker sends no second update of the same
    render. Rows no longer pending (the worker took them) go out as usual. Returns how
    many were marked."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.idempotency_key).in_(list(keys)),
            col(OutboxMessage.status) == OutboxStatus.PENDING,
        )
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            result={"via": "response_url"},
            last_error=None,
            pace_slot_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def due_now(session: Session, keys: Collection[str], *, now: datetime) -> None:
    """The pending rows under `keys` are due at once (their response_url did not work)."""
    session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.idempotency_key).in_(list(keys)),
            col(OutboxMessage.status) == OutboxStatus.PENDING,
            col(OutboxMessage.next_attempt_at) > now,
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def row_by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).first()


# -- pacing ------------------------------------------------------------------------------


def lock_pace_buckets(
    session: Session, keys: Collection[str], *, now: datetime
) -> dict[str, PaceBucket]:
    """The pacing buckets for `keys`, created when missing and locked for this
    transaction, always in key order so two processes never deadlock on them."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    query = (
        select(PaceBucket)
        .where(col(PaceBucket.key).in_(ordered))
        .order_by(col(PaceBucket.key))
        .with_for_update()
    )
    rows = {row.key: row for row in session.exec(query).all()}
    if len(rows) < len(ordered):  # first use of a bucket: create it, then lock it
        dialect = postgresql if _postgres(session) else sqlite
        session.execute(
            dialect.insert(PaceBucket)
            .values(
                [
                    {"key": key, "tat": now, "sent_tat": now, "rate_factor": 1.0}
                    for key in ordered
                    if key not in rows
                ]
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        rows = {row.key: row for row in session.exec(query).all()}
    return rows


# -- what `quorum status` shows -------------------------------------------------------------


def backlog(session: Session, *, now: datetime | None = None) -> dict[str, object]:
    """Outbox figures for a person: what waits, since when, what is retrying and why."""
    waiting = session.exec(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            col(OutboxMessage.status).in_(WAITING)
        )
    ).one()
    oldest = session.exec(
        select(OutboxMessage)
        .where(col(OutboxMessage.status).in_(WAITING))
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
        .limit(1)
    ).first()
    retrying_rows = session.exec(
        select(OutboxMessage.last_error, OutboxMessage.next_attempt_at).where(
            col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.attempts) > 0
        )
    ).all()
    failed = session.exec(
        select(func.count()).where(col(OutboxMessage.status) == OutboxStatus.FAILED)
    ).one()
    deferred = 0
    if now is not None:
        deferred = session.exec(
            select(func.count()).where(
                col(OutboxMessage.status) == OutboxStatus.PENDING,
                col(OutboxMessage.attempts) == 0,
                col(OutboxMessage.next_attempt_at) > now,
            )
        ).one()
    # "uncertain: <error>" marks a send that may have gone through; show the error itself.
    errors = Counter(
        (error or "unknown").removeprefix("uncertain: ").split(":")[0] for error, _ in retrying_rows
    )
    return {
        "pending": waiting[0],
        "oldest": waiting[1],
        "oldest_key": oldest.idempotency_key if oldest else None,
        "oldest_item_id": oldest.item_id if oldest else None,
        "retrying": len(retrying_rows),
        "next_retry": min((at for _, at in retrying_rows), default=None),
        "retry_errors": dict(errors.most_common(5)),
        "deferred": deferred,
        "failed": failed,
    }
