"""Queries for the scheduled jobs: once-per-tick locks, reminder and expiry candidates,
and the figures of the daily digest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import (
    Assignment,
    AssignmentStatus,
    Item,
    ItemStatus,
    Label,
    OutboxMessage,
    OutboxStatus,
    Reviewer,
    SchedulerLock,
    pk,
)

# -- once per tick -----------------------------------------------------------------------


def claim_tick(session: Session, *, job: str, tick: str, owner: str, now: datetime) -> bool:
    """Insert (job, tick); True for the one process whose insert wins, False for the rest.

    The primary key decides: on PostgreSQL a concurrent insert waits for the winner's
    commit and then fails, so exactly one process runs each job per tick."""
    try:
        with session.begin_nested():
            session.add(SchedulerLock(job=job, tick=tick, owner=owner, created_at=now))
        return True
    except IntegrityError:
        return False


def prune_ticks(session: Session, *, before: datetime) -> int:
    result = session.exec(delete(SchedulerLock).where(col(SchedulerLock.created_at) < before))
    return result.rowcount or 0


# -- reminders and expiry ----------------------------------------------------------------


@dataclass(frozen=True)
class ReminderCandidate:
    assignment_id: int
    project_id: int
    reviewer_id: str
    reminders_sent: int
    reference: datetime  # when the DM went out, or the last reminder
    due_at: datetime | None


def reminder_candidates(
    session: Session, *, review_operation: str, limit: int = 2000
) -> list[ReminderCandidate]:
    """Pending assignments of open items whose review DM has been sent, of reviewers
    who are not paused. Whether each is due depends on its project's timing."""
    sent = (
        select(OutboxMessage.assignment_id, func.min(OutboxMessage.sent_at).label("sent_at"))
        .where(
            OutboxMessage.operation == review_operation,
            OutboxMessage.status == OutboxStatus.SENT,
            col(OutboxMessage.assignment_id).is_not(None),
        )
        .group_by(col(OutboxMessage.assignment_id))
        .subquery()
    )
    rows = session.exec(
        select(Assignment, Item.project_id, sent.c.sent_at)
        .join(Item, col(Item.id) == Assignment.item_id)
        .join(sent, sent.c.assignment_id == Assignment.id)
        .outerjoin(Reviewer, col(Reviewer.user_id) == Assignment.reviewer_id)
        .where(
            Assignment.status == AssignmentStatus.PENDING,
            col(Assignment.message_ts).is_not(None),
            col(Item.status).in_(ItemStatus.OPEN),
            func.coalesce(Reviewer.paused, False).is_(False),
        )
        .order_by(col(Assignment.id))
        .limit(limit)
    ).all()
    candidates = []
    for a, project_id, sent_at in rows:
        assert a.id is not None  # a row read from the table has its key
        candidates.append(
            ReminderCandidate(
                assignment_id=a.id,
                project_id=project_id,
                reviewer_id=a.reviewer_id,
                reminders_sent=a.reminders_sent,
                reference=max(filter(None, (a.last_reminded_at, sent_at or a.created_at))),
                due_at=a.due_at,
            )
        )
    return candidates


def expired_assignment_ids(session: Session, *, now: datetime, limit: int = 500) -> list[int]:
    return list(
        session.exec(
            select(pk(Assignment.id))
            .join(Item, col(Item.id) == Assignment.item_id)
            .where(
                Assignment.status == AssignmentStatus.PENDING,
                col(Assignment.due_at).is_not(None),
                col(Assignment.due_at) <= now,
                col(Item.status).in_(ItemStatus.OPEN),
            )
            .order_by(col(Assignment.due_at))
            .limit(limit)
        ).all()
    )


# -- audit checkpoints -------------------------------------------------------------------


def trail_grew_since_checkpoint(session: Session, project_id: int) -> bool:
    """Do the project's chain heads differ from its last checkpoint (or has it none)?
    Heads, not timestamps: events and checkpoints may come from different clocks."""
    from storage import audit_queries  # the audit trail's own queries (issue 5)

    heads = {
        chain: [seq, digest]
        for chain, seq, digest in audit_queries.chain_heads(session, project_id)
    }
    latest = audit_queries.latest_checkpoint(session, project_id)
    if latest is None:
        return bool(heads)
    return heads != latest.heads


# -- the daily digest --------------------------------------------------------------------


@dataclass(frozen=True)
class SlowItem:
    external_id: str
    waiting_since: datetime
    pending: int


@dataclass(frozen=True)
class ReviewerBacklog:
    reviewer: str
    pending: int
    oldest: datetime


def label_agreement(
    session: Session, project_id: int, *, since: datetime | None = None
) -> tuple[int, float | None]:
    """(labels signed off, mean agreement of those reached by consensus)."""
    where = [col(Label.project_id) == project_id]
    if since is not None:
        where.append(col(Label.signed_off_at) >= since)
    count = session.exec(select(func.count()).where(*where)).one()
    mean = session.exec(
        select(func.avg(Label.agreement)).where(*where, col(Label.agreement).is_not(None))
    ).one()
    return count, (float(mean) if mean is not None else None)


def slowest_open_items(session: Session, project_id: int, *, limit: int = 5) -> list[SlowItem]:
    rows = session.exec(
        select(Item.external_id, func.min(Assignment.created_at), func.count(col(Assignment.id)))
        .join(Assignment, and_(col(Assignment.item_id) == Item.id))
        .where(
            Item.project_id == project_id,
            col(Item.status).in_(ItemStatus.OPEN),
            Assignment.status == AssignmentStatus.PENDING,
        )
        .group_by(col(Item.id), Item.external_id)
        .order_by(func.min(Assignment.created_at))
        .limit(limit)
    ).all()
    return [SlowItem(ext, since, pending) for ext, since, pending in rows]


def pending_by_reviewer(
    session: Session, project_id: int, *, created_before: datetime
) -> Sequence[ReviewerBacklog]:
    """Reviewers with review requests older than `created_before` still unanswered."""
    rows = session.exec(
        select(Assignment.reviewer_id, func.count(), func.min(Assignment.created_at))
        .join(Item, col(Item.id) == Assignment.item_id)
        .outerjoin(Reviewer, col(Reviewer.user_id) == Assignment.reviewer_id)
        .where(
            Item.project_id == project_id,
            Assignment.status == AssignmentStatus.PENDING,
            col(Assignment.created_at) <= created_before,
            func.coalesce(Reviewer.paused, False).is_(False),
        )
        .group_by(Assignment.reviewer_id)
        .order_by(func.count().desc(), Assignment.reviewer_id)
    ).all()
    return [ReviewerBacklog(r, n, oldest) for r, n, oldest in rows]
