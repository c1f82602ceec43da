"""The scheduled jobs: what runs, how often. Each is a sweep over the database, so a
job that missed a run (the bot was down) catches up on the next one.

A job is `run(ctx, now) -> int` (how much it did).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.audit.chain import write_checkpoint
from bot.delivery.digest import send_digests
from bot.delivery.reassignment import reassign_expired
from bot.delivery.reminders import send_reminders
from bot.runtime.context import QuorumContext
from bot.workflow.decision.escalation import remind_stale_escalations
from storage import queries, schedule_queries
from storage.db import session_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    every: timedelta
    run: Callable[[QuorumContext, datetime], int]


def reminders(ctx: QuorumContext, now: datetime) -> int:
    return send_reminders(ctx.engine, now=now)


def reassignments(ctx: QuorumContext, now: datetime) -> int:
    return reassign_expired(ctx.engine, now=now, rng=ctx.rng)


def digests(ctx: QuorumContext, now: datetime) -> int:
    return send_digests(ctx.engine, now=now, hour_utc=ctx.settings.quorum_digest_hour_utc)


def escalation_reminders(ctx: QuorumContext, now: datetime) -> int:
    """Chase open escalations in their threads (bot.workflow.decision.escalation)."""
    return remind_stale_escalations(ctx, now)


def audit_checkpoints(ctx: QuorumContext, now: datetime) -> int:
    """Sign each project's chain heads (bot.audit.chain.write_checkpoint), when its trail grew."""
    with session_scope(ctx.engine) as session:
        project_ids = [p.id for p in queries.list_projects(session) if p.id is not None]
    written = 0
    for project_id in project_ids:
        with session_scope(ctx.engine) as session:
            if not schedule_queries.trail_grew_since_checkpoint(session, project_id):
                continue
            write_checkpoint(session, project_id, now, ctx.settings.quorum_audit_key)
            written += 1
    return written


def housekeeping(ctx: QuorumContext, now: datetime) -> int:
    """Forget tick locks older than a week (they only matter within their tick)."""
    with session_scope(ctx.engine) as session:
        return schedule_queries.prune_ticks(session, before=now - timedelta(days=7))


JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob("reminders", timedelta(minutes=5), reminders),
    ScheduledJob("reassign_expired", timedelta(minutes=5), reassignments),
    ScheduledJob("escalation_reminders", timedelta(minutes=15), escalation_reminders),
    ScheduledJob("digest", timedelta(minutes=15), digests),
    ScheduledJob("audit_checkpoint", timedelta(hours=1), audit_checkpoints),
    ScheduledJob("housekeeping", timedelta(days=1), housekeeping),
)
