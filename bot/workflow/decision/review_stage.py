"""The review stage (bot/config/stages.py): which items the reviewers agreed on go to a
senior reviewer before they sign off, and which senior.

An item goes to review when its stage's `when` holds: a reproducible `sample` (drawn per
item and stage, as the routing audit sample is, so every process and rerun agrees), or
a listed condition: `low_agreement` (the answers were not unanimous) or
`low_confidence` (the consensus' confidence under `confidence_below`). The senior is the
least loaded of the project's senior reviewers who meet the item's requirements, are not
paused, have room under their `max_open` (open reviews) and did not answer it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.config.stages import StageWhen, review_stage
from bot.kinds.base import ItemAgreement
from bot.workflow.decision.escalation import announce_escalation, send_review
from bot.workflow.intake.qualified import requirements_of
from bot.workflow.intake.routing import audit_draw
from bot.workflow.project_versions import project_config
from storage import escalation_queries, quality_queries, queries
from storage.models import Item, ItemStatus, Project


def review_reason(
    config: ProjectConfig,
    item: Item,
    agreement: ItemAgreement,
    confidence: Callable[[], float | None],
) -> str | None:
    """Why the item goes to the review stage (for its audit trail), or None."""
    stage = review_stage(config.stages)
    if stage is None or not isinstance(stage.when, StageWhen):
        return None
    when = stage.when
    draw = audit_draw(config.name, item.external_id, salt=f"stage:{stage.name}")
    if draw < when.sample:
        return f"review sample (rate {when.sample:.0%})"
    if "low_agreement" in when.any_of and agreement.share < 1.0:
        return f"agreement {agreement.share:.2f} < 1.00"
    if "low_confidence" in when.any_of:
        value = confidence()
        if value is not None and value < when.confidence_below:
            return f"confidence {value:.2f} < {when.confidence_below:.2f}"
    return None


def choose_senior(
    session: Session, item: Item, config: ProjectConfig, *, answered_by: Collection[str]
) -> str | None:
    """The senior reviewer to give the item's review to, or None when nobody can."""
    requirements = requirements_of(item, config)
    seniors = [
        person
        for person in config.seniors.values()
        if person.id not in answered_by and requirements.met_by(person)
    ]
    paused = queries.paused_reviewers(session, [p.id for p in seniors]) if seniors else set()
    load = {p.id: escalation_queries.open_reviews(session, p.id) for p in seniors}
    free = [
        p.id
        for p in seniors
        if p.id not in paused and (p.max_open is None or load[p.id] < p.max_open)
    ]
    # Ties in load go by a draw fixed by the item, so seniors share a fresh project.
    return min(
        free,
        key=lambda senior: (load[senior], audit_draw(config.name, item.external_id, senior)),
        default=None,
    )


def hand_over_reviews(session: Session, senior: str, *, reason: str, now: datetime) -> int:
    """The senior's open reviews go to another senior who can take them (a new DM; the
    old one's buttons are refused to them), or, with nobody, to the leads as an
    escalation. Returns how many moved."""
    moved = 0
    for escalation_id in escalation_queries.open_review_ids(session, senior):
        escalation = escalation_queries.lock_escalation(session, escalation_id)
        item = queries.lock_item(session, escalation.item_id) if escalation else None
        if escalation is None or item is None or escalation.status != escalation_queries.OPEN:
            continue
        project = session.get(Project, item.project_id)
        assert project is not None and item.id is not None
        config = project_config(session, project)
        answered = {row.reviewer_id for row in quality_queries.item_answers(session, item.id)}
        taker = choose_senior(session, item, config, answered_by=answered | {senior})
        data = {"escalation_id": escalation.id, "from": senior, "to": taker, "reason": reason}
        if taker is None:  # nobody else can review it: the leads decide
            escalation.stage, escalation.assignee = escalation_queries.SIGN_OFF, None
            escalation.channel = escalation.message_ts = None
            escalation.reason = f"{escalation.reason}; its senior reviewer {reason}, no other"
            item.status, item.updated_at = ItemStatus.ESCALATED, now
        else:
            escalation.assignee = taker
        session.add_all([escalation, item])
        session.flush()
        record_event(
            session,
            "review_reassigned" if taker else "escalated",
            actor="quorum",
            project_id=item.project_id,
            item_id=item.id,
            at=now,
            data=data,
        )
        if taker is None:
            announce_escalation(
                session, escalation, now=now, key=f"escalation:{escalation.id}:leads"
            )
        else:
            send_review(
                session, escalation, key=f"escalation:{escalation.id}:post:{taker}", now=now
            )
        moved += 1
    return moved
