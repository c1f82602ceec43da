"""Queries behind the reviewer's Slack experience: drafts, queues, counts, agreement with
final labels, and what leads need to see (open escalations, flags)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import (
    Assignment,
    AssignmentStatus,
    Draft,
    Escalation,
    Event,
    Item,
    Label,
    Project,
    Response,
    Reviewer,
)

# --- serialising a reviewer's clicks ----------------------------------------------------------


def hold_assignment(session: Session, assignment_id: int) -> None:
    """Serialise work on one assignment. PostgreSQL does it with SELECT ... FOR UPDATE
    (queries.lock_assignment, which every review step calls next); this is a no-op there.

    SQLite ignores FOR UPDATE, and pysqlite starts a transaction only at the first
    write, so two quick clicks could both read a draft before either writes it. So the
    transaction takes SQLite's write lock now, with BEGIN IMMEDIATE: the reads that follow
    see what the previous click committed, and the next click waits for this one. (A
    no-op UPDATE of the assignment's key would do the same, but writing a parent key
    makes SQLite check every child table of the assignment.) When this transaction has
    written already, pysqlite has begun it and the lock is held: nothing to do."""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- drafts ---------------------------------------------------------------------------------


def get_draft(session: Session, assignment_id: int) -> Draft | None:
    return session.get(Draft, assignment_id)


def save_draft(session: Session, assignment_id: int, value: dict, *, now: datetime) -> Draft:
    draft = session.get(Draft, assignment_id)
    if draft is None:
        draft = Draft(assignment_id=assignment_id, value=value, updated_at=now)
    else:
        draft.value = value  # a new dict, so the JSON column is seen as changed
        draft.updated_at = now
    session.add(draft)
    session.flush()
    return draft


def delete_draft(session: Session, assignment_id: int) -> None:
    draft = session.get(Draft, assignment_id)
    if draft is not None:
        session.delete(draft)
        session.flush()


# --- reviewers --------------------------------------------------------------------------------


def get_reviewer(session: Session, user_id: str) -> Reviewer | None:
    return session.get(Reviewer, user_id)


def lock_or_create_reviewer(session: Session, user_id: str, *, now: datetime) -> Reviewer:
    reviewer = session.exec(
        select(Reviewer).where(Reviewer.user_id == user_id).with_for_update()
    ).first()
    if reviewer is None:
        reviewer = Reviewer(user_id=user_id, updated_at=now)
        session.add(reviewer)
        session.flush()
    return reviewer


# --- a reviewer's queue and counts ------------------------------------------------------------


def pending_queue(
    session: Session, reviewer_id: str, *, limit: int | None = None
) -> Sequence[tuple[Assignment, Item, Project]]:
    """The reviewer's pending assignments, oldest first, with their items and projects."""
    query = (
        select(Assignment, Item, Project)
        .join(Item, col(Item.id) == Assignment.item_id)
        .join(Project, col(Project.id) == Item.project_id)
        .where(
            Assignment.reviewer_id == reviewer_id,
            Assignment.status == AssignmentStatus.PENDING,
        )
        .order_by(col(Assignment.created_at), col(Assignment.id))
    )
    if limit is not None:
        query = query.limit(limit)
    return session.exec(query).all()


def pending_count(session: Session, reviewer_id: str) -> int:
    return session.exec(
        select(func.count()).where(
            Assignment.reviewer_id == reviewer_id,
            Assignment.status == AssignmentStatus.PENDING,
        )
    ).one()


def answered_since(session: Session, reviewer_id: str, since: datetime | None) -> int:
    """How many items the reviewer answered since a moment (ever, when None)."""
    query = select(func.count()).select_from(Response).where(Response.reviewer_id == reviewer_id)
    if since is not None:
        query = query.where(col(Response.created_at) >= since)
    return session.exec(query).one()


def answers_with_final_labels(session: Session, reviewer_id: str) -> Sequence[tuple[str, Any, Any]]:
    """(project kind, the reviewer's answer, the final label) for each item the reviewer
    answered that has been signed off."""
    return session.exec(
        select(Project.kind, Response.value, Label.value)
        .join(Label, col(Label.item_id) == Response.item_id)
        .join(Project, col(Project.id) == Label.project_id)
        .where(Response.reviewer_id == reviewer_id)
    ).all()


def pending_draft_ids(session: Session, assignment_ids: list[int]) -> set[int]:
    if not assignment_ids:
        return set()
    return set(
        session.exec(
            select(Draft.assignment_id).where(col(Draft.assignment_id).in_(assignment_ids))
        ).all()
    )


# --- what leads see ---------------------------------------------------------------------------


def open_escalation_count(session: Session, project_ids: list[int]) -> int:
    if not project_ids:
        return 0
    return session.exec(
        select(func.count()).where(
            col(Escalation.project_id).in_(project_ids),
            Escalation.status == "open",
            Escalation.stage == "sign_off",  # the leads'; reviews are the seniors'
        )
    ).one()


def recent_flags(
    session: Session, project_ids: list[int], *, limit: int = 10
) -> Sequence[tuple[Event, Item, Project]]:
    if not project_ids:
        return []
    return session.exec(
        select(Event, Item, Project)
        .join(Item, col(Item.id) == Event.item_id)
        .join(Project, col(Project.id) == Event.project_id)
        .where(col(Event.project_id).in_(project_ids), Event.kind == "flagged")
        .order_by(col(Event.id).desc())
        .limit(limit)
    ).all()
