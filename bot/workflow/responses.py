"""Recording a reviewer's answer exactly once, and only from the assigned reviewer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.workflow import review_messages, reviewer_queue, signoff
from bot.workflow.drafts import take_draft_notes
from bot.workflow.project_versions import project_config
from bot.workflow.values import validation_problem
from storage import queries
from storage.models import AssignmentStatus, Item, ItemStatus, Project, Response

CLOSED_STATES = (ItemStatus.SIGNED_OFF, ItemStatus.AUTO_ACCEPTED, ItemStatus.ESCALATED)


class AnswerOutcome:
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # the same answer again: a double click or a Slack retry
    NOT_ASSIGNED = "not_assigned"
    CLOSED = "closed"  # the item was decided or the assignment moved on
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AnswerResult:
    outcome: str
    item_id: int | None = None
    detail: str = ""


def validate_value(config: ProjectConfig, value: Any) -> str | None:
    """A reason the value is not a valid answer for this project, or None."""
    if config.kind == "label":
        values = value if isinstance(value, list) else [value]
        if not values or any(v not in config.labels for v in values):
            return f"{value!r} is not a label of this project"
        if isinstance(value, list) and not config.multi_label:
            return "this project takes a single label"
        return None
    return validation_problem(config, value)  # rating, preference, correction


def record_answer(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    value: Any,
    now: datetime,
    interaction_id: str | None = None,
    rationale: str | None = None,
) -> AnswerResult:
    assignment = queries.lock_assignment(session, assignment_id)
    if assignment is None:
        return AnswerResult(AnswerOutcome.UNKNOWN, detail="no such assignment")
    if assignment.reviewer_id != user_id:
        return AnswerResult(AnswerOutcome.NOT_ASSIGNED, assignment.item_id)
    item = queries.lock_item(session, assignment.item_id)
    assert item is not None
    existing = queries.response_for_assignment(session, assignment.id)
    if existing is not None:
        return AnswerResult(AnswerOutcome.DUPLICATE, item.id, detail="already answered")
    if item.status in CLOSED_STATES or assignment.status != AssignmentStatus.PENDING:
        return AnswerResult(AnswerOutcome.CLOSED, item.id, detail=item.status)
    project = session.get(Project, item.project_id)
    assert project is not None
    config = project_config(session, project)
    problem = validate_value(config, value)
    if problem:
        return AnswerResult(AnswerOutcome.INVALID, item.id, detail=problem)
    latency_ms = int((now - assignment.created_at).total_seconds() * 1000)
    notes = take_draft_notes(session, assignment.id)  # rationale and flags given before answering
    session.add(
        Response(
            assignment_id=assignment.id,
            item_id=item.id,
            reviewer_id=user_id,
            value=value,
            rationale=rationale or notes.rationale,
            flags=notes.flags,
            latency_ms=latency_ms,
            interaction_id=interaction_id,
            created_at=now,
            updated_at=now,
        )
    )
    assignment.status = AssignmentStatus.ANSWERED
    assignment.answered_at = now
    session.add(assignment)
    if item.status in (ItemStatus.QUEUED, ItemStatus.ASSIGNED):
        item.status = ItemStatus.ANSWERED if _all_answered(session, item) else item.status
    session.flush()
    record_event(
        session,
        "answered",
        actor=user_id,
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={
            "assignment_id": assignment.id,
            "reviewer": user_id,
            "value": value,
            "latency_ms": latency_ms,
        },
    )
    signoff.decide(session, item, project, config, now=now)
    # Rendered after the decision: when this answer closed the item, the DM says so and
    # offers no "Change my answer".
    review_messages.refresh(
        session, assignment, now=now, key=f"answered:assignment:{assignment.id}:1"
    )
    reviewer_queue.enqueue_home_refresh(session, user_id, now=now)
    return AnswerResult(AnswerOutcome.RECORDED, item.id)


def _all_answered(session: Session, item: Item) -> bool:
    return all(
        a.status != AssignmentStatus.PENDING for a in queries.assignments_for_item(session, item.id)
    )
