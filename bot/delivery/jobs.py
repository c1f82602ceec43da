"""The scheduled jobs: what runs, how often. Each is a sweep over the database, so a
job that missed a run (the bot was down) catches up on the next one.

A job is `run(ctx, now) -> int` (how much it did). Jobs owned by other parts of the
workflow are found by import at run time, so the schedule never depends on them being
present: see `escalation_reminders` and `audit_checkpoints`.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.context import QuorumContext
from bot.delivery.digest import send_digests
from bot.delivery.reassignment import reassign_expired
from bot.delivery.reminders import send_reminders
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


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _call_with(function: Callable[..., Any], **available: Any) -> Any:
    """Call a job owned elsewhere with the arguments its signature asks for, by name."""
    params = inspect.signature(function).parameters
    kwargs = {name: available[name] for name in params if name in available}
    missing = [
        name
        for name, p in params.items()
        if name not in kwargs
        and p.default is inspect.Parameter.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if missing:
        raise TypeError(f"{function.__qualname__} needs {missing}, which the scheduler lacks")
    return function(**kwargs)


def escalation_reminders(ctx: QuorumContext, now: datetime) -> int:
    """Issue 4's `bot.workflow.escalation.remind_stale_escalations`, once it exists.

    Called with whichever of session / engine / ctx (or `target`, which takes the
    context) / now / clock / rng it names; a `session` is one transaction around the call."""
    remind = _optional("bot.workflow.escalation", "remind_stale_escalations")
    if remind is None:
        return 0  # not built yet: registered so it starts running the day it lands
    available = {
        "engine": ctx.engine,
        "ctx": ctx,
        "target": ctx,
        "now": now,
        "clock": ctx.clock,
        "rng": ctx.rng,
    }
    if "session" in inspect.signature(remind).parameters:
        with session_scope(ctx.engine) as session:
            result = _call_with(remind, session=session, **available)
    else:
        result = _call_with(remind, **available)
    return result if isinstance(result, int) else len(result or [])


def audit_checkpoints(ctx: QuorumContext, now: datetime) -> int:
    """Sign each project's chain heads (bot.audit.write_checkpoint), when its trail grew."""
    write = _optional("bot.audit", "write_checkpoint")
    if write is None:
        return 0
    with session_scope(ctx.engine) as session:
        project_ids = [p.id for p in queries.list_projects(session)]
    written = 0
    for project_id in project_ids:
        with session_scope(ctx.engine) as session:
            if not schedule_queries.trail_grew_since_checkpoint(session, project_id):
                continue
            write(session, project_id, now, ctx.settings.quorum_audit_key)
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
