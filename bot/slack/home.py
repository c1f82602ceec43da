"""The App Home tab: a reviewer's queue, counts and agreement; for leads, the open
escalations and recent flags of their projects. Built from plain data (filled in by
bot.workflow.review.queue) so the view can be tested without a database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock, SectionBlock
from slack_sdk.models.views import View

from bot.slack import ids
from bot.slack.messages import (
    actions,
    assignment_value,
    button,
    context,
    control,
    section,
    slack_time,
)
from bot.slack.text import channel_link, escape_mrkdwn, mention
from bot.slack.wording import say

MAX_HOME_BLOCKS = 100
QUEUE_SHOWN = 20
ESCALATIONS_SHOWN = 15
FLAGS_SHOWN = 8


@dataclass(frozen=True)
class QueueEntry:
    assignment_id: int
    project_name: str
    external_id: str
    since: datetime
    has_draft: bool = False


@dataclass(frozen=True)
class EscalationEntry:
    project_name: str
    external_id: str
    reason: str | None
    since: datetime
    channel: str | None = None


@dataclass(frozen=True)
class FlagEntry:
    project_name: str
    external_id: str
    reason: str
    reviewer: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class ReviewerStats:
    pending: int = 0
    today: int = 0
    week: int = 0
    total: int = 0
    agreement: float | None = None
    compared: int = 0
    paused: bool = False


@dataclass(frozen=True)
class HomeData:
    user: str
    stats: ReviewerStats
    queue: list[QueueEntry] = field(default_factory=list)
    is_reviewer: bool = True
    is_lead: bool = False
    escalations: list[EscalationEntry] = field(default_factory=list)
    escalations_total: int = 0
    flags: list[FlagEntry] = field(default_factory=list)


def _flag_word(reason: str) -> str:
    try:
        return control(f"flag_{reason}")
    except Exception:
        return escape_mrkdwn(reason)


def _queue_blocks(data: HomeData) -> list[Block]:
    stats = data.stats
    blocks: list[Block] = [
        HeaderBlock(text=control("home_queue")),
        context(
            say(
                "home_stats",
                pending=stats.pending,
                today=stats.today,
                week=stats.week,
                agreement=stats.agreement,
                compared=stats.compared,
            )
        ),
    ]
    if stats.paused:
        blocks.append(section(say("home_paused")))
    toggle = (
        button(control("resume"), ids.RESUME, "resume", style="primary")
        if stats.paused
        else button(control("pause"), ids.PAUSE, "pause")
    )
    blocks.append(actions([toggle], block_id="home_pause"))
    if not data.queue:
        blocks.append(section(say("home_empty")))
        return blocks
    for entry in data.queue[:QUEUE_SHOWN]:
        text = say(
            "home_queue_entry",
            project_name=entry.project_name,
            external_id=entry.external_id,
            since=slack_time(entry.since),
            draft=entry.has_draft,
        )
        blocks.append(
            SectionBlock(
                block_id=ids.block("queue", entry.assignment_id),
                text=section(text).text,
                accessory=button(
                    control("open"), ids.OPEN_ITEM, assignment_value(entry.assignment_id)
                ),
            )
        )
    hidden = stats.pending - min(len(data.queue), QUEUE_SHOWN)
    if hidden > 0:
        blocks.append(context(say("home_queue_more", count=hidden)))
    return blocks


def _lead_blocks(data: HomeData) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), HeaderBlock(text=control("home_escalations"))]
    if not data.escalations:
        blocks.append(section(say("home_no_escalations")))
    for entry in data.escalations[:ESCALATIONS_SHOWN]:
        blocks.append(
            section(
                say(
                    "home_escalation_entry",
                    project_name=entry.project_name,
                    external_id=entry.external_id,
                    reason=entry.reason or None,
                    since=slack_time(entry.since),
                    channel=channel_link(entry.channel) if entry.channel else None,
                )
            )
        )
    hidden = data.escalations_total - min(len(data.escalations), ESCALATIONS_SHOWN)
    if hidden > 0:
        blocks.append(context(say("home_queue_more", count=hidden)))
    if data.flags:
        blocks += [DividerBlock(), HeaderBlock(text=control("home_flags"))]
        for flag in data.flags[:FLAGS_SHOWN]:
            blocks.append(
                section(
                    say(
                        "home_flag_entry",
                        project_name=flag.project_name,
                        external_id=flag.external_id,
                        reason=_flag_word(flag.reason),
                        reviewer=mention(flag.reviewer),
                        at=slack_time(flag.at),
                        note=flag.note or None,
                    )
                )
            )
    return blocks


def build_home(data: HomeData) -> dict:
    """The Home tab view (type home) for views.publish."""
    blocks: list[Block] = []
    if data.is_reviewer or not data.is_lead:
        blocks += _queue_blocks(data)
    if data.is_lead:
        blocks += _lead_blocks(data)
    blocks = blocks[:MAX_HOME_BLOCKS]
    return View(type="home", callback_id="quorum_home", blocks=blocks).to_dict()
