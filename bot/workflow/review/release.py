"""An assignment leaving its reviewer, and the one rule for what then happens to its item.

An assignment leaves its reviewer when they skip it, when they pause, when Slack says
they cannot be reached, when it runs past its due time, or when they leave the project's
pool. Whatever the cause, `release_assignment` moves the item on the same way:

1. the item is topped up to its overlap from the pool (`assign_reviewers`, which records
   an `understaffed` event with the shortfall when the pool runs dry);
2. when nobody can be found and no other assignment is still pending, the item is
   decided on the answers it has by the sign-off rule (`decide`: consensus, or a lead
   on a tie, low agreement, …);
3. when it has no answers at all and nobody can take it, it goes to the leads.

So no item is ever left assigned to nobody.
"""

from __future__ import annotations

import random
from datetime import datetime

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.kinds.base import NO_ANSWERS
from bot.slack.review import build_closed
from bot.workflow.decision.decide import decide
from bot.workflow.decision.escalation import escalate
from bot.workflow.intake.assignment import assign_reviewers
from bot.workflow.project_versions import ApplyResult, config_for_item
from bot.workflow.review import messages, queue
from bot.workflow.review.outcome import Outcome, ReviewResult, closed, gone, load
from storage import queries, review_queries
from storage.models import (
    Assignment,
    AssignmentStatus,
    Escalation,
    Item,
    ItemStatus,
    Label,
    Project,
)

NO_REVIEWER = "no reviewer is available to take this item"  # an escalation reason


def lock_open(session: Session, assignment_id: int) -> tuple[Assignment, Item] | None:
    """Assignment then item, the order record_answer locks them in, or None when the
    assignment is no longer pending or the item is decided."""
    assignment = queries.lock_assignment(session, assignment_id)
    if assignment is None or assignment.status != AssignmentStatus.PENDING:
        return None
    item = queries.lock_item(session, assignment.item_id)
    if item is None or item.status not in ItemStatus.OPEN:
        return None
    return assignment, item


def release_assignment(
    session: Session,
    assignment: Assignment,
    item: Item,
    project: Project,
    config: ProjectConfig,
    *,
    status: str,
    reason: str | None,
    actor: str,
    now: datetime,
    rng: random.Random,
    event: str = "reassigned",
) -> list[Assignment]:
    """Take a pending `assignment` from its reviewer (it becomes `status`: skipped,
    reassigned or expired) and move its open item on by the rule above. The caller holds
    the assignment and item locks (see `lock_open`) and tells the reviewer. Records
    `event` with who the item went from and to; returns the replacement assignments."""
    assignment.status = status
    session.add(assignment)
    assert assignment.id is not None
    review_queries.delete_draft(session, assignment.id)
    session.flush()
    created = assign_reviewers(session, item, config, now=now, rng=rng)
    record_event(
        session,
        event,
        actor=actor,
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={
            "assignment_id": assignment.id,
            "reviewer": assignment.reviewer_id,
            "from": assignment.reviewer_id,
            "to": [a.reviewer_id for a in created],
            "new_assignment_ids": [a.id for a in created],
            "status": status,
            "reason": reason,
        },
    )
    if not created and item.understaffed is None:  # an understaffed item waits for more
        _decide_on_what_it_has(session, item, project, config, now=now)
    return created


def _decide_on_what_it_has(
    session: Session, item: Item, project: Project, config: ProjectConfig, *, now: datetime
) -> Label | Escalation | None:
    """Nobody else can take the item: decide on the answers it has, or ask a lead."""
    assert item.id is not None
    active = [
        a
        for a in queries.assignments_for_item(session, item.id)
        if a.status in (AssignmentStatus.PENDING, AssignmentStatus.ANSWERED)
    ]
    if any(a.status == AssignmentStatus.PENDING for a in active):
        return None  # the others are still working on it
    if active:
        return decide(session, item, project, config, now=now)
    return escalate(session, item, consensus=NO_ANSWERS, reason=NO_REVIEWER, now=now)


def release_reviewer(
    session: Session,
    user_id: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
    rng: random.Random,
    project_id: int | None = None,
) -> int:
    """Move every pending assignment of a reviewer (of one project, with `project_id`)
    to others, telling them in each DM: a pause, or leaving a project's pool. Returns
    how many moved."""
    moved = 0
    for pending, item, _ in review_queries.pending_queue(session, user_id):
        if project_id is not None and item.project_id != project_id:
            continue
        assert pending.id is not None
        locked = lock_open(session, pending.id)
        if locked is None:
            continue
        assignment, item = locked
        project, config = config_for_item(session, item)
        release_assignment(
            session,
            assignment,
            item,
            project,
            config,
            status=AssignmentStatus.REASSIGNED,
            reason=reason,
            actor=actor,
            now=now,
            rng=rng,
        )
        message = build_closed(config, assignment, status="reassigned", reason=reason)
        messages.enqueue_message(
            session, assignment, message, now=now, key=f"reassigned:assignment:{assignment.id}"
        )
        moved += 1
    return moved


def skip(
    session: Session, *, assignment_id: int, user_id: str, now: datetime, rng: random.Random
) -> ReviewResult:
    """Give the item back: the assignment is skipped and the item moves on by the rule
    above (another reviewer; else decided on its answers; else a lead)."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    assignment, item = loaded.assignment, loaded.item
    if loaded.closed:
        return closed(loaded)
    if assignment.status == AssignmentStatus.ANSWERED:
        return ReviewResult(Outcome.ALREADY_ANSWERED, item.id)
    if assignment.status == AssignmentStatus.SKIPPED:
        return ReviewResult(Outcome.DUPLICATE, item.id, detail="already skipped")
    if assignment.status != AssignmentStatus.PENDING:
        return gone(loaded)
    release_assignment(
        session,
        assignment,
        item,
        loaded.project,
        loaded.config,
        status=AssignmentStatus.SKIPPED,
        reason=None,
        actor=user_id,
        now=now,
        rng=rng,
        event="skipped",
    )
    messages.refresh(session, assignment, now=now, key=f"skipped:assignment:{assignment.id}")
    queue.mark_home_stale(session, user_id, now=now)
    return ReviewResult(Outcome.SKIPPED, item.id)


def release_removed_reviewers(
    session: Session, applied: ApplyResult, *, actor: str, now: datetime, rng: random.Random
) -> int:
    """A new project version dropped reviewers from its pool: their pending items of
    that project go to others (or are decided) by the release rule. Returns how many."""
    return sum(
        release_reviewer(
            session,
            reviewer,
            reason="removed from the project's reviewers",
            actor=actor,
            now=now,
            rng=rng,
            project_id=applied.project_id,
        )
        for reviewer in applied.removed_reviewers
    )
