"""The scheduled jobs: what runs, how often. Each is a sweep over the database, so a
job that missed a run (the bot was down) catches up on the next one.

A job is `run(ctx, now) -> int` (how much it did).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.audit.chain import write_checkpoint
from bot.delivery.digest import send_digests
from bot.delivery.reassignment import reassign_expired
from bot.delivery.reminders import send_reminders
from bot.runtime.context import QuorumContext
from bot.slack.outbound import make_web_client
from bot.workflow.decision.escalation import remind_stale_escalations
from bot.workflow.intake.groups import GroupLookup, GroupLookupError, refresh_reviewer_groups
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


# Slack errors of usergroups.users.list worth trying again on the next run.
RETRY_GROUP_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}


def slack_group_lookup(ctx: QuorumContext) -> GroupLookup:
    """usergroups.users.list through the bot token (Tier 2: about 20 calls a minute,
    one per group per run)."""
    token = ctx.settings.slack_bot_token
    client = make_web_client(
        token.get_secret_value() if token else None, ctx.settings.slack_api_url
    )

    def members(group_id: str) -> list[str]:
        try:
            response = client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
            retry = error in RETRY_GROUP_ERRORS or exc.response.status_code >= 500
            raise GroupLookupError(error, retry=retry) from None
        except OSError as exc:  # Slack unreachable: the cached members stay
            raise GroupLookupError(type(exc).__name__, retry=True) from None
        return [str(user) for user in response.get("users") or []]

    return members


def reviewer_groups(ctx: QuorumContext, now: datetime) -> int:
    """Re-read the members of every user group a project uses (bot.workflow.intake.groups)."""
    return refresh_reviewer_groups(ctx.engine, slack_group_lookup(ctx), now=now, rng=ctx.rng)


def housekeeping(ctx: QuorumContext, now: datetime) -> int:
    """Forget tick locks older than a week (they only matter within their tick)."""
    with session_scope(ctx.engine) as session:
        return schedule_queries.prune_ticks(session, before=now - timedelta(days=7))


JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob("reminders", timedelta(minutes=5), reminders),
    ScheduledJob("reviewer_groups", timedelta(minutes=5), reviewer_groups),
    ScheduledJob("reassign_expired", timedelta(minutes=5), reassignments),
    ScheduledJob("escalation_reminders", timedelta(minutes=15), escalation_reminders),
    ScheduledJob("digest", timedelta(minutes=15), digests),
    ScheduledJob("audit_checkpoint", timedelta(hours=1), audit_checkpoints),
    ScheduledJob("housekeeping", timedelta(days=1), housekeeping),
)
