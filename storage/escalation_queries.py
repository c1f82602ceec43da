"""Queries the escalation flow needs: locking one escalation, listing the open ones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, func, select

from storage.models import Escalation, Item, Project, pk

OPEN = "open"
RESOLVED = "resolved"
SIGN_OFF = "sign_off"  # Escalation.stage: the leads'
REVIEW = "review"  # Escalation.stage: a senior reviewer's check


def open_reviews(session: Session, reviewer: str) -> int:
    """The senior reviewer's open reviews (review-stage escalations assigned to them)."""
    return session.exec(
        select(func.count()).where(
            col(Escalation.status) == OPEN,
            col(Escalation.stage) == REVIEW,
            col(Escalation.assignee) == reviewer,
        )
    ).one()


def open_review_ids(session: Session, reviewer: str) -> list[int]:
    return list(
        session.exec(
            select(pk(Escalation.id)).where(
                col(Escalation.status) == OPEN,
                col(Escalation.stage) == REVIEW,
                col(Escalation.assignee) == reviewer,
            )
        )
    )


def lock_escalation(session: Session, escalation_id: int) -> Escalation | None:
    """The escalation row, locked for this transaction on PostgreSQL, so two leads clicking
    at once resolve it once (SQLite serialises writers on the file instead)."""
    return session.exec(
        select(Escalation).where(Escalation.id == escalation_id).with_for_update()
    ).first()


def open_escalations(
    session: Session, project_ids: Sequence[int] | None = None, *, limit: int | None = None
) -> Sequence[tuple[Escalation, Item, Project]]:
    """Unresolved escalations to the leads, oldest first, with their items and projects:
    of the given projects (none for an empty list), or of every project when
    `project_ids` is None. Reviews by senior reviewers (stage "review") are not theirs."""
    if project_ids is not None and not project_ids:
        return []
    query = (
        select(Escalation, Item, Project)
        .join(Item, col(Item.id) == Escalation.item_id)
        .join(Project, col(Project.id) == Escalation.project_id)
        .where(col(Escalation.status) == OPEN, col(Escalation.stage) == SIGN_OFF)
    )
    if project_ids is not None:
        query = query.where(col(Escalation.project_id).in_(project_ids))
    query = query.order_by(col(Escalation.created_at), col(Escalation.id))
    if limit is not None:
        query = query.limit(limit)
    return session.exec(query).all()
