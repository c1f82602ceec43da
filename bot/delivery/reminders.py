"""Reminders for review requests left unanswered, in the thread of the original DM.

At most `timing.max_reminders` per assignment, each `timing.reminder_after_hours`
after the DM went out (or after the previous reminder). Paused reviewers get none.
A reminder is queued like any other message; the delivery worker holds it until the
reviewer's work day starts, and drops it if they answered meanwhile.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.delivery import outbox
from bot.slack.wording import say
from bot.workflow.project_versions import project_config
from storage import queries, review_queries, schedule_queries
from storage.db import session_scope
from storage.models import AssignmentStatus, ItemStatus, Project

log = logging.getLogger(__name__)

REMINDER_KEY = "reminder:assignment:{assignment_id}:{number}"


def is_reminder_key(key: str) -> bool:
    return key.startswith("reminder:assignment:")


def send_reminders(engine: Engine, *, now: datetime) -> int:
    """Queue every reminder that is due; return how many were queued."""
    with session_scope(engine) as session:
        candidates = schedule_queries.reminder_candidates(session, review_operation=outbox.POST_DM)
        configs: dict[int, ProjectConfig] = {}
        due = []
        for candidate in candidates:
            if candidate.project_id not in configs:
                project = session.get(Project, candidate.project_id)
                assert project is not None  # item.project_id is a foreign key
                configs[candidate.project_id] = project_config(session, project)
            timing = configs[candidate.project_id].timing
            if candidate.reminders_sent >= timing.max_reminders:
                continue
            if now - candidate.reference < timedelta(hours=timing.reminder_after_hours):
                continue
            due.append(candidate.assignment_id)
    queued = 0
    for assignment_id in due:
        try:
            with session_scope(engine) as session:
                queued += remind(session, assignment_id, now=now)
        except Exception:
            log.exception("queuing a reminder for assignment %s failed", assignment_id)
    return queued


def remind(session: Session, assignment_id: int, *, now: datetime) -> int:
    """Queue the next reminder for one assignment if it is still due (re-checked under
    the assignment's lock, so two runs never remind twice)."""
    assignment = queries.lock_assignment(session, assignment_id)
    if assignment is None or assignment.status != AssignmentStatus.PENDING:
        return 0
    if assignment.message_ts is None or assignment.channel is None:
        return 0  # the DM itself has not gone out yet
    item = queries.lock_item(session, assignment.item_id)
    if item is None or item.status not in ItemStatus.OPEN:
        return 0
    reviewer = review_queries.get_reviewer(session, assignment.reviewer_id)
    if reviewer is not None and reviewer.paused:
        return 0
    project = session.get(Project, item.project_id)
    assert project is not None  # item.project_id is a foreign key
    config = project_config(session, project)
    timing = config.timing
    if assignment.reminders_sent >= timing.max_reminders:
        return 0
    after = timedelta(hours=timing.reminder_after_hours)
    if assignment.last_reminded_at is not None and now - assignment.last_reminded_at < after:
        return 0
    number = assignment.reminders_sent + 1
    due = assignment.due_at.strftime("%a %d %b %H:%M UTC") if assignment.due_at else None
    text = say("reminder", project_name=config.name, due=due)
    outbox.enqueue(
        session,
        outbox.POST_MESSAGE,
        {
            "channel": assignment.channel,
            "thread_of": {"assignment_id": assignment.id},
            "text": text,
        },
        key=REMINDER_KEY.format(assignment_id=assignment.id, number=number),
        now=now,
        item_id=item.id,
        assignment_id=assignment.id,
    )
    assignment.reminders_sent = number
    assignment.last_reminded_at = now
    session.add(assignment)
    record_event(
        session,
        "reminder_sent",
        actor="quorum",
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={"assignment_id": assignment.id, "reviewer": assignment.reviewer_id, "number": number},
    )
    return 1
