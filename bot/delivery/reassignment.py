"""Moving an item on when its reviewer cannot or did not answer, so it is never stuck.

Two causes: the assignment ran past its due time (the scheduled sweep), or Slack said
the reviewer cannot be reached at all (channel_not_found, user_not_found,
account_inactive: the delivery worker). Either way the item is topped up with another
reviewer; when nobody is left it is decided on the answers it has, or escalated: the
one release rule of every path an assignment leaves its reviewer by
(bot.workflow.review.release.release_assignment).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime

from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.delivery import outbox
from bot.slack.wording import say
from bot.workflow.intake.dispatch import mark_failed
from bot.workflow.project_versions import config_for_item
from bot.workflow.review import release
from storage import outbox_store, queries, schedule_queries
from storage.db import session_scope
from storage.models import Assignment, AssignmentStatus, OutboxStatus

log = logging.getLogger(__name__)


def review_request_key(assignment_id: int) -> str:
    """The outbox key assign_reviewers gives an assignment's review DM."""
    return f"review:assignment:{assignment_id}"


def reassign_unreachable(
    session: Session, assignment_id: int, *, reason: str, now: datetime, rng: random.Random
) -> list[Assignment]:
    """Slack refused the reviewer for good (their account is gone): move the item on."""
    locked = release.lock_open(session, assignment_id)
    if locked is None:
        return []
    assignment, item = locked
    project, config = config_for_item(session, item)
    log.info("assignment %s: reviewer unreachable (%s), reassigning", assignment_id, reason)
    return release.release_assignment(
        session,
        assignment,
        item,
        project,
        config,
        status=AssignmentStatus.REASSIGNED,
        reason=f"slack: {reason}",
        actor="quorum",
        now=now,
        rng=rng,
    )


def expire_assignment(
    session: Session, assignment_id: int, *, now: datetime, rng: random.Random
) -> list[Assignment] | None:
    """Expire an overdue assignment: tell its reviewer the item moved on (or withdraw
    the DM if it never went out) and give the item to someone else."""
    locked = release.lock_open(session, assignment_id)
    if locked is None:
        return None
    assignment, item = locked
    if assignment.due_at is None or assignment.due_at > now:
        return None
    assert assignment.id is not None
    project, config = config_for_item(session, item)
    request = outbox_store.row_by_key(session, review_request_key(assignment.id))
    if request is not None and request.status == OutboxStatus.PENDING and not request.attempts:
        request.status = OutboxStatus.CANCELLED  # never sent: nothing to take back
        request.last_error = "assignment expired before it was sent"
        session.add(request)
    else:
        message = passed_on_message(config, reason="because it was not answered in time")
        outbox.enqueue_update(
            session,
            key=f"expired:assignment:{assignment.id}",
            now=now,
            target={"assignment_id": assignment.id},
            text=message["text"],
            blocks=message["blocks"],
            item_id=item.id,
        )
    return release.release_assignment(
        session,
        assignment,
        item,
        project,
        config,
        status=AssignmentStatus.EXPIRED,
        reason="expired",
        actor="quorum",
        now=now,
        rng=rng,
    )


def passed_on_message(config: ProjectConfig, *, reason: str) -> dict:
    """What the old review DM turns into: no buttons, a line saying where it went."""
    text = say("reassigned_dm", project_name=config.name, reason=reason)
    blocks = [
        SectionBlock(
            text=MarkdownTextObject(
                text=say("review_intro", project_name=config.name, question=config.question)
            )
        ),
        ContextBlock(elements=[MarkdownTextObject(text=text)]),
    ]
    return {"text": text, "blocks": [b.to_dict() for b in blocks]}


def reassign_expired(engine: Engine, *, now: datetime, rng: random.Random, limit: int = 500) -> int:
    """The scheduled sweep: every pending assignment past its due time, one transaction
    each so one bad item never holds up the rest."""
    with session_scope(engine) as session:
        due = schedule_queries.expired_assignment_ids(session, now=now, limit=limit)
    moved = 0
    for assignment_id in due:
        try:
            with session_scope(engine) as session:
                if expire_assignment(session, assignment_id, now=now, rng=rng) is not None:
                    moved += 1
        except Exception:
            log.exception("reassigning expired assignment %s failed", assignment_id)
    return moved


def fail_unshowable_item(
    session: Session, assignment_id: int, *, reason: str, now: datetime
) -> bool:
    """Slack refused the item's review message itself (its blocks, its length): no other
    reviewer could be shown it either. The item is marked failed with the reason (status,
    audit trail, one log line) and its pending assignments are withdrawn, so it neither
    waits for an answer nor is passed around; a new project version queues it again."""
    locked = release.lock_open(session, assignment_id)
    if locked is None:
        return False
    _assignment, item = locked
    withdrawn = []
    for other in queries.assignments_for_item(session, item.id or 0):
        if other.status == AssignmentStatus.PENDING:
            # Its review DM, if still queued, is dropped as obsolete when claimed.
            other.status = AssignmentStatus.EXPIRED
            session.add(other)
            withdrawn.append(other.id)
    mark_failed(
        session,
        item,
        reason=f"Slack refused its review message: {reason}",
        event="delivery_failed",
        now=now,
        data={"slack_error": reason, "assignment_id": assignment_id, "withdrawn": withdrawn},
    )
    return True
