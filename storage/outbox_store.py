"""Outbox claims and bookkeeping. Claims use FOR UPDATE SKIP LOCKED on PostgreSQL so
several processes share the work without sending a row twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from storage.models import OutboxMessage, OutboxStatus


def claim_due(
    session: Session, *, worker_id: str, now: datetime, limit: int, lease_s: float = 60.0
) -> Sequence[OutboxMessage]:
    """Take up to `limit` due rows: pending ones, and ones whose sender's lease ran out
    (it crashed mid-send; those are re-checked before sending again)."""
    due = or_(
        (col(OutboxMessage.status) == OutboxStatus.PENDING)
        & (col(OutboxMessage.next_attempt_at) <= now),
        (col(OutboxMessage.status) == OutboxStatus.SENDING)
        & (col(OutboxMessage.claimed_until) < now),
    )
    query = select(OutboxMessage).where(due).order_by(col(OutboxMessage.id)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.exec(query).all()
    for row in rows:
        row.claimed_by = worker_id
        row.claimed_until = now + timedelta(seconds=lease_s)
        row.status = OutboxStatus.SENDING
        session.add(row)
    session.flush()
    return rows


def release_claims(session: Session, *, worker_id: str) -> None:
    """Hand back rows this worker claimed but did not start (graceful shutdown)."""
    session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.claimed_by) == worker_id,
            col(OutboxMessage.status) == OutboxStatus.SENDING,
            col(OutboxMessage.attempts) == 0,
        )
        .values(status=OutboxStatus.PENDING, claimed_by=None, claimed_until=None)
    )


def backlog(session: Session) -> dict[str, object]:
    pending = session.exec(
        select(func.count(), func.min(OutboxMessage.created_at)).where(
            col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
        )
    ).one()
    retrying = session.exec(
        select(func.count()).where(
            col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.attempts) > 0
        )
    ).one()
    failed = session.exec(
        select(func.count()).where(col(OutboxMessage.status) == OutboxStatus.FAILED)
    ).one()
    return {"pending": pending[0], "oldest": pending[1], "retrying": retrying, "failed": failed}
