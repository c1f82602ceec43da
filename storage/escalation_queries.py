"""Queries the escalation flow needs: locking one escalation, listing the open ones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from storage.models import Escalation

OPEN = "open"
RESOLVED = "resolved"


def lock_escalation(session: Session, escalation_id: int) -> Escalation | None:
    """The escalation row, locked for this transaction on PostgreSQL, so two leads clicking
    at once resolve it once (SQLite serialises writers on the file instead)."""
    return session.exec(
        select(Escalation).where(Escalation.id == escalation_id).with_for_update()
    ).first()


def open_escalations(session: Session, project_id: int | None = None) -> Sequence[Escalation]:
    """Unresolved escalations, oldest first."""
    query = select(Escalation).where(Escalation.status == OPEN)
    if project_id is not None:
        query = query.where(Escalation.project_id == project_id)
    return session.exec(query.order_by(col(Escalation.created_at), col(Escalation.id))).all()
