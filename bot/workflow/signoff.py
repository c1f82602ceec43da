"""Deciding an item once its answers are in: consensus sign-off or escalation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.audit import record_event
from bot.projects import ProjectConfig
from bot.workflow.consensus import Consensus, majority
from storage import queries
from storage.models import Escalation, Item, ItemStatus, Label, Project


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
) -> Label:
    """Store the item's final label; the unique constraint on item_id refuses a second."""
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
        },
    )
    return label


def escalate(
    session: Session, item: Item, *, consensus: Consensus, reason: str, now: datetime
) -> Escalation:
    """Mark the item for a lead's decision. Posting it to the leads' channel is the
    escalation flow's job (bot/workflow/escalation.py)."""
    escalation = Escalation(
        item_id=item.id, project_id=item.project_id, reason=reason, created_at=now
    )
    session.add(escalation)
    item.status = ItemStatus.ESCALATED
    item.updated_at = now
    session.add(item)
    session.flush()
    record_event(
        session,
        "escalated",
        actor="quorum",
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={"reason": reason, "agreement": consensus.share, "tied": consensus.tied},
    )
    return escalation


def meets_agreement(share: float, threshold: float) -> bool:
    """Compare as the share is shown, to two decimals: "agreement: 0.67" reads as
    "two of three", and 2/3 = 0.6667 must pass it."""
    return round(share, 2) >= threshold


def decide(
    session: Session, item: Item, project: Project, config: ProjectConfig, *, now: datetime
) -> Label | Escalation | None:
    """Sign off or escalate an item whose active assignments are all answered."""
    assignments = [
        a
        for a in queries.assignments_for_item(session, item.id)
        if a.status in ("pending", "answered")
    ]
    if not assignments or any(a.status == "pending" for a in assignments):
        return None
    values = [
        r.value
        for r in queries.responses_for_item(session, item.id)
        if r.assignment_id in {a.id for a in assignments}
    ]
    consensus = majority(values)
    if consensus.tied:
        return escalate(session, item, consensus=consensus, reason="tie between answers", now=now)
    if not meets_agreement(consensus.share, config.agreement):
        return escalate(
            session,
            item,
            consensus=consensus,
            reason=f"agreement {consensus.share:.2f} < {config.agreement:.2f}",
            now=now,
        )
    if config.sign_off.lead_signs_off_all:
        return escalate(
            session,
            item,
            consensus=consensus,
            reason="project asks a lead to sign off every item",
            now=now,
        )
    return sign_off(
        session,
        item,
        project,
        value=consensus.value,
        method="consensus",
        now=now,
        actor="quorum",
        agreement=consensus.share,
        reason=f"{round(consensus.share * consensus.answers)} of {consensus.answers} agree",
    )
