"""The daily digest each project posts to its `digest_channel`: where the items stand,
how well reviewers agree, which items are slowest and who is behind.

Posted once a day, at the first run at or after QUORUM_DIGEST_HOUR_UTC; the outbox key
(one per project and date) keeps it to one across processes and restarts, and a bot
that was down at that hour posts it when it comes back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.delivery import outbox
from bot.slack.messages import SlackMessage
from bot.slack.wording import say, say_plain
from bot.workflow.project_versions import project_config
from storage import outbox_store, queries, schedule_queries
from storage.db import session_scope
from storage.models import ItemStatus, Project

SLOWEST = 5
BEHIND = 10


def digest_key(project_id: int, now: datetime) -> str:
    return f"digest:project:{project_id}:{now.date().isoformat()}"


def _age(now: datetime, since: datetime) -> str:
    hours = (now - since).total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def build_digest(
    session: Session, project: Project, config: ProjectConfig, *, now: datetime
) -> SlackMessage:
    assert project.id is not None  # a project read from the table has its key
    counts = queries.item_status_counts(session, project.id)
    signed_today, agreement_today = schedule_queries.label_agreement(
        session, project.id, since=now - timedelta(days=1)
    )
    _, agreement_all = schedule_queries.label_agreement(session, project.id)
    slowest = schedule_queries.slowest_open_items(session, project.id, limit=SLOWEST)
    reminder_after = timedelta(hours=config.timing.reminder_after_hours)
    behind = schedule_queries.pending_by_reviewer(
        session, project.id, created_before=now - reminder_after
    )[:BEHIND]
    summary = say(
        "digest_summary",
        total=sum(counts.values()),
        open=sum(counts.get(s, 0) for s in ItemStatus.OPEN),
        escalated=counts.get(ItemStatus.ESCALATED, 0),
        signed_off=counts.get(ItemStatus.SIGNED_OFF, 0),
        auto_accepted=counts.get(ItemStatus.AUTO_ACCEPTED, 0),
        signed_today=signed_today,
        agreement_today=agreement_today,
        agreement_all=agreement_all,
    )
    slow_text = say(
        "digest_slowest",
        items=[
            {
                "external_id": s.external_id.replace("`", "'")[:80],
                "age": _age(now, s.waiting_since),
                "pending": s.pending,
            }
            for s in slowest
        ],
    )
    behind_text = say(
        "digest_behind",
        after=_age(now, now - reminder_after),
        reviewers=[
            {"reviewer": b.reviewer, "overdue": b.pending, "age": _age(now, b.oldest)}
            for b in behind
        ],
    )
    date = now.date().isoformat()
    # The header block is plain_text (shown as it is); the notification text is mrkdwn.
    header = say_plain("digest_header", project_name=config.name, date=date)
    text = say("digest_header", project_name=config.name, date=date)
    blocks = [
        HeaderBlock(text=header if len(header) <= 150 else header[:149] + "…"),
        SectionBlock(text=MarkdownTextObject(text=summary)),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=slow_text)),
        SectionBlock(text=MarkdownTextObject(text=behind_text)),
        ContextBlock(
            elements=[MarkdownTextObject(text=f"As of {now.strftime('%Y-%m-%d %H:%M')} UTC")]
        ),
    ]
    return SlackMessage(text=text, blocks=[b.to_dict() for b in blocks])


def send_digests(engine: Engine, *, now: datetime, hour_utc: int) -> int:
    """Queue today's digest for every project that has a digest channel, once."""
    if now.hour < hour_utc:
        return 0
    queued = 0
    with session_scope(engine) as session:
        projects = queries.list_projects(session)
    for project in projects:
        with session_scope(engine) as session:
            config = project_config(session, project)
            if not config.digest_channel:
                continue
            assert project.id is not None  # read from the table
            key = digest_key(project.id, now)
            if outbox_store.row_by_key(session, key) is not None:
                continue
            message = build_digest(session, project, config, now=now)
            outbox.enqueue(
                session,
                outbox.POST_MESSAGE,
                {"channel": config.digest_channel, "text": message.text, "blocks": message.blocks},
                key=key,
                now=now,
            )
            queued += 1
    return queued
