"""A reviewer's own view of their work: the queue, counts and agreement for App Home and
`/quorum stats`, and "send me my next item". Pausing is bot.workflow.review.pause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.delivery import outbox
from bot.kinds.registry import kind_named
from bot.slack.home import (
    EscalationEntry,
    FlagEntry,
    HomeData,
    QueueEntry,
    ReviewerStats,
    build_home,
)
from bot.slack.messages import context, intro, serialise
from bot.slack.wording import say
from bot.workflow.intake.staffing import is_reviewer
from bot.workflow.project_versions import config_for_item, current_configs
from bot.workflow.review import messages
from bot.workflow.roles import oversees
from storage import escalation_queries, queries, review_queries
from storage.models import Assignment, AssignmentStatus, Project
from storage.review_queries import lock_or_create_reviewer

QUEUE_ON_HOME = 20
ESCALATIONS_ON_HOME = 20


@dataclass(frozen=True)
class Membership:
    project: Project
    config: ProjectConfig
    reviewer: bool
    oversees: bool  # a lead, owner or auditor: sees escalations and flags (bot/workflow/roles)


def memberships(session: Session, user_id: str) -> list[Membership]:
    """The projects a person reviews (listed, in the project's reviewer group, or as a
    senior reviewer), leads, owns or audits, by their current config."""
    found = []
    for project, config in current_configs(session):
        reviewer = is_reviewer(session, config, user_id) or user_id in config.seniors
        overseer = oversees(config, user_id)
        if reviewer or overseer:
            found.append(Membership(project, config, reviewer, overseer))
    return found


# --- counts -------------------------------------------------------------------------------


def _local_starts(now: datetime, offset_s: int | None) -> tuple[datetime, datetime]:
    """Start of the reviewer's local day and week (Monday), as UTC datetimes."""
    offset = timedelta(seconds=offset_s or 0)
    local = now + offset
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=local.weekday())
    return day - offset, week - offset


def reviewer_stats(session: Session, user_id: str, *, now: datetime) -> ReviewerStats:
    reviewer = review_queries.get_reviewer(session, user_id)
    day, week = _local_starts(now, reviewer.tz_offset_s if reviewer else None)
    pairs = review_queries.answers_with_final_labels(session, user_id)
    agreed = sum(
        kind_named(kind).same_answer(
            kind_named(kind).canonical(answer), kind_named(kind).canonical(final)
        )
        for kind, answer, final in pairs
    )
    return ReviewerStats(
        pending=review_queries.pending_count(session, user_id),
        today=review_queries.answered_since(session, user_id, day),
        week=review_queries.answered_since(session, user_id, week),
        total=review_queries.answered_since(session, user_id, None),
        agreement=agreed / len(pairs) if pairs else None,
        compared=len(pairs),
        paused=bool(reviewer and reviewer.paused),
    )


def home_data(session: Session, user_id: str, *, now: datetime) -> HomeData:
    queue_rows = review_queries.pending_queue(session, user_id, limit=QUEUE_ON_HOME)
    ids = [a.id for a, _, _ in queue_rows if a.id is not None]
    drafts = review_queries.pending_draft_ids(session, ids)
    queue = [
        QueueEntry(a.id, project.name, item.external_id, a.created_at, a.id in drafts)
        for a, item, project in queue_rows
        if a.id is not None
    ]
    member = memberships(session, user_id)
    led = [m.project.id for m in member if m.oversees and m.project.id is not None]
    escalations = [
        EscalationEntry(p.name, item.external_id, e.reason, e.created_at, e.channel)
        for e, item, p in escalation_queries.open_escalations(
            session, led, limit=ESCALATIONS_ON_HOME
        )
    ]
    flags = [
        FlagEntry(
            p.name,
            item.external_id,
            str(event.data.get("reason")),
            event.actor,
            event.created_at,
            event.data.get("note"),
        )
        for event, item, p in review_queries.recent_flags(session, led)
    ]
    return HomeData(
        user=user_id,
        stats=reviewer_stats(session, user_id, now=now),
        queue=queue,
        is_reviewer=any(m.reviewer for m in member) or bool(queue),
        is_lead=bool(led),
        escalations=escalations,
        escalations_total=review_queries.open_escalation_count(session, led),
        flags=flags,
    )


def home_view(session: Session, user_id: str, *, now: datetime) -> dict:
    return build_home(home_data(session, user_id, now=now))


def mark_home_stale(session: Session, user_id: str, *, now: datetime) -> None:
    """The person's Home tab no longer shows what this transaction changes: queue its
    views.publish a few seconds ahead, or leave the one still waiting, so a reviewer
    answering ten items in a minute costs a few publishes, not ten. Nothing is built
    here; the delivery worker builds the view (home_view) when it sends, from the
    database as it is then, so the publish shows the newest state."""
    outbox.publish_home_later(session, user_id, now=now)


def remember_timezone(
    session: Session, user_id: str, *, tz: str | None, offset_s: int | None, now: datetime
) -> None:
    reviewer = lock_or_create_reviewer(session, user_id, now=now)
    if (reviewer.tz, reviewer.tz_offset_s) != (tz, offset_s):
        reviewer.tz, reviewer.tz_offset_s, reviewer.updated_at = tz, offset_s, now
        session.add(reviewer)


def knows_timezone(session: Session, user_id: str) -> bool:
    reviewer = review_queries.get_reviewer(session, user_id)
    return reviewer is not None and reviewer.tz_offset_s is not None


# --- next item ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NextItem:
    project_name: str | None = None
    external_id: str | None = None
    more: int = 0
    paused: bool = False


def repost(session: Session, assignment: Assignment, *, now: datetime, key: str) -> None:
    """Send the item again as a new DM at the bottom of the conversation, and turn the
    old one into a pointer, so there is one live copy of the request."""
    message = messages.current_message(session, assignment)
    if assignment.channel and assignment.message_ts:
        note = say("moved_below")
        moved = build_closed_pointer(session, assignment, note)
        outbox.enqueue_update(
            session,
            key=f"{key}:old",
            now=now,
            target={"channel": assignment.channel, "ts": assignment.message_ts},
            text=note,
            blocks=moved,
            item_id=assignment.item_id,
        )
    outbox.enqueue(
        session,
        outbox.POST_DM,
        {"user": assignment.reviewer_id, "text": message.text, "blocks": message.blocks},
        key=key,
        now=now,
        item_id=assignment.item_id,
        assignment_id=assignment.id,
    )


def build_closed_pointer(session: Session, assignment: Assignment, note: str) -> list[dict]:
    item = queries.lock_item(session, assignment.item_id)
    assert item is not None
    _, config = config_for_item(session, item)
    return serialise([intro(config), context(note)])


def open_item(
    session: Session, *, assignment_id: int, user_id: str, now: datetime, key: str
) -> NextItem | None:
    """The "Open" button on App Home: re-post that pending item; None if it is not the
    user's."""
    assignment = queries.lock_assignment(session, assignment_id)
    if assignment is None or assignment.reviewer_id != user_id:
        return None
    if assignment.status not in (AssignmentStatus.PENDING, AssignmentStatus.ANSWERED):
        return None
    repost(session, assignment, now=now, key=key)
    item = queries.lock_item(session, assignment.item_id)
    assert item is not None
    project = session.get(Project, item.project_id)
    assert project is not None
    return NextItem(project.name, item.external_id)


def next_item(session: Session, *, user_id: str, now: datetime, key: str) -> NextItem:
    """`/quorum next`: re-post the oldest pending item, or say there is none."""
    reviewer = review_queries.get_reviewer(session, user_id)
    paused = bool(reviewer and reviewer.paused)
    rows = review_queries.pending_queue(session, user_id, limit=1)
    if not rows:
        return NextItem(paused=paused)
    assignment, item, project = rows[0]
    repost(session, assignment, now=now, key=key)
    more = review_queries.pending_count(session, user_id) - 1
    return NextItem(project.name, item.external_id, more=more, paused=paused)
