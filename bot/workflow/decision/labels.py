"""Writing an item's final label: the one place a Label row is created, whoever decided
it (consensus, a gold value, a lead, or routing's auto-acceptance)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.webhooks import events as webhook_events
from storage import label_queries
from storage.models import Item, ItemStatus, Label, Project


def sign_off(
    session: Session,
    item: Item,
    project: Project,
    *,
    value: Any,
    method: str,
    now: datetime,
    actor: str,
    agreement: float | None = None,
    confidence: float | None = None,
    signed_off_by: str | None = None,
    reason: str | None = None,
    details: dict | None = None,
) -> Label:
    """Store the item's final label; the unique constraint on item_id refuses a second."""
    assert item.id is not None
    label = Label(
        item_id=item.id,
        project_id=item.project_id,
        value=value,
        method=method,
        agreement=agreement,
        confidence=confidence,
        config_version=project.current_version,
        signed_off_by=signed_off_by,
        signed_off_at=now,
    )
    label.txid = label_queries.commit_position(session)  # the labels feed's order
    session.add(label)
    item.status = ItemStatus.AUTO_ACCEPTED if method == "auto" else ItemStatus.SIGNED_OFF
    item.updated_at = now
    session.add(item)
    session.flush()
    record_event(
        session,
        "signed_off",
        actor=actor,
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={
            "value": value,
            "method": method,
            "agreement": agreement,
            "confidence": confidence,
            "signed_off_by": signed_off_by,
            "config_version": project.current_version,
            "reason": reason,
            **(details or {}),
        },
    )
    webhook_events.label_signed_off(session, label, now=now)
    return label
