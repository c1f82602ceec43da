"""Moving queued items on: route each one, then auto-accept it or assign reviewers.

Each item is dispatched in a transaction of its own, so a crash part-way leaves every
item either untouched (still queued) or fully routed with its DMs in the outbox, and an
item that cannot be dispatched (a poison item: Slack would refuse its message, its
content breaks a builder) is marked `failed` with its reason instead of rolling back,
and blocking, everything after it. One pass visits each queued item once (keyset on the
id); projects nobody can staff are left out of the pass and report it once
(intake/staffing.py). Items waiting for qualified reviewers (intake/qualified.py) are
left out of that scan and looked at again only when their project's free reviewers
change. A stop flag is checked between items, so shutting down never waits for a large
backlog.
"""

from __future__ import annotations

import logging
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from bot.audit.chain import record_event
from bot.runtime.clock import SYSTEM_CLOCK, Clock
from bot.webhooks import events as webhook_events
from bot.workflow.decision.labels import sign_off
from bot.workflow.intake.assignment import assign_reviewers
from bot.workflow.intake.qualified import free_reviewers
from bot.workflow.intake.routing import route_item, routed_event_data
from bot.workflow.intake.staffing import report_staffing, staffing_of
from bot.workflow.project_versions import project_config
from storage import prelabel_queries, queries
from storage.db import session_scope
from storage.models import Item, ItemStatus, Project

log = logging.getLogger(__name__)

MAX_FAILURE_CHARS = 500


@dataclass
class DispatchReport:
    auto_accepted: int = 0
    sent_to_reviewers: int = 0
    failed: int = 0
    topped_up: int = 0  # understaffed items that got more reviewers

    @property
    def total(self) -> int:
        return self.auto_accepted + self.sent_to_reviewers + self.topped_up


def dispatch_item(
    session: Session, item: Item, project: Project, *, clock: Clock, rng: random.Random
) -> str:
    assert item.id is not None
    config = project_config(session, project)
    now = clock.now()
    if item.route_reason is None:
        llm_on = config.llm.enabled
        prelabel = prelabel_queries.latest_prelabel(session, item.id) if llm_on else None
        decision = route_item(config, item, prelabel)
        item.route_reason = decision.reason
        session.add(item)
        record_event(
            session,
            "routed",
            actor="quorum",
            project_id=item.project_id,
            item_id=item.id,
            at=now,
            data=routed_event_data(config, decision),
        )
        if not decision.to_humans:
            sign_off(
                session,
                item,
                project,
                value=decision.value,
                method="auto",
                now=now,
                actor="quorum",
                confidence=decision.confidence,
                reason=decision.reason,
            )
            return "auto"
    assign_reviewers(session, item, config, now=now, rng=rng)
    return "human" if item.status != ItemStatus.QUEUED else "waiting"


def dispatch_queued(
    engine: Engine,
    *,
    clock: Clock = SYSTEM_CLOCK,
    rng: random.Random | None = None,
    batch: int = 100,
    limit: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> DispatchReport:
    """Top up the understaffed items of projects where someone became free (oldest
    first: they have waited longest), then route and assign queued items until none is
    left (or `limit` were handled, or `stop()` says so: it is asked before each item)."""
    rng = rng or random.Random()
    report = DispatchReport()
    stopping = stop or (lambda: False)
    report.topped_up = top_up_understaffed(engine, clock=clock, rng=rng, stop=stopping)
    survey = survey_projects(engine, now=clock.now())
    after = 0
    while limit is None or report.total < limit:
        if stopping():
            break
        with session_scope(engine) as session:
            item_ids = queries.dispatchable_item_ids(
                session,
                after_id=after,
                waiting_project_ids=survey.llm_assisted,
                skip_project_ids=survey.unstaffed,
                limit=batch,
            )
        if not item_ids:
            break
        for item_id in item_ids:
            if stopping() or (limit is not None and report.total >= limit):
                return report
            after = item_id
            outcome = _dispatch_one(engine, item_id, clock=clock, rng=rng)
            if outcome == "auto":
                report.auto_accepted += 1
            elif outcome == "human":
                report.sent_to_reviewers += 1
            elif outcome == "failed":
                report.failed += 1
    return report


def _dispatch_one(
    engine: Engine, item_id: int, *, clock: Clock, rng: random.Random, top_up: bool = False
) -> str | None:
    """One item in its own transaction: its outcome, "failed", or None (left for later:
    another process has it, or the database hiccupped). `top_up`: an understaffed item,
    queued or assigned, given to whoever qualifies now ("topped_up" when someone did)."""
    try:
        with session_scope(engine) as session:
            # SKIP LOCKED: another `quorum serve` process is dispatching this one.
            locked = queries.try_lock_item(session, item_id)
            wanted = (ItemStatus.QUEUED, ItemStatus.ASSIGNED) if top_up else (ItemStatus.QUEUED,)
            if locked is None or locked.status not in wanted:
                return None
            if top_up and locked.understaffed is None:
                return None
            project = session.get(Project, locked.project_id)
            assert project is not None
            if top_up:
                config = project_config(session, project)
                created = assign_reviewers(session, locked, config, now=clock.now(), rng=rng)
                return "topped_up" if created else None
            return dispatch_item(session, locked, project, clock=clock, rng=rng)
    except Exception as exc:
        if _transient(exc):
            log.warning("dispatching item %s failed; it stays queued", item_id, exc_info=True)
            return None
        log.debug("item %s cannot be dispatched", item_id, exc_info=True)
        return (
            "failed"
            if fail_item(engine, item_id, reason=describe_failure(exc), now=clock.now())
            else None
        )


def _transient(exc: Exception) -> bool:
    """A database that is busy or gone, not a problem of the item: try again later."""
    # IntegrityError: another process assigned the same item at the same moment.
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | IntegrityError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def describe_failure(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:MAX_FAILURE_CHARS]


def fail_item(engine: Engine, item_id: int, *, reason: str, now: datetime) -> bool:
    """Mark a queued item `failed` with its reason (status, its audit trail, one log
    line); True when this call did. A new version of its project queues it again."""
    with session_scope(engine) as session:
        item = queries.lock_item(session, item_id)
        if item is None or item.status != ItemStatus.QUEUED:
            return False
        mark_failed(session, item, reason=reason, event="dispatch_failed", now=now)
    return True


def mark_failed(
    session: Session,
    item: Item,
    *,
    reason: str,
    event: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    """The one way an item becomes `failed` (the caller holds its lock): its reason on
    the item, an `event` in its audit trail, one log line."""
    item.status = ItemStatus.FAILED
    item.failure = reason[:MAX_FAILURE_CHARS]
    item.updated_at = now
    session.add(item)
    record_event(
        session,
        event,
        actor="quorum",
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={"reason": reason[:MAX_FAILURE_CHARS], **(data or {})},
    )
    webhook_events.item_failed(session, item, reason=reason[:MAX_FAILURE_CHARS], now=now)
    log.error(
        "item %s (id %r, project %s) cannot be sent and is marked failed: %s",
        item.id,
        item.external_id[:64],
        item.project_id,
        reason,
    )


@dataclass(frozen=True)
class Survey:
    """What one pass needs to know of the projects with queued items."""

    unstaffed: set[int]  # nobody can take their items now: left out of the pass
    llm_assisted: set[int]  # their unrouted items wait for a pre-label (intake/prelabel.py)


def survey_projects(engine: Engine, *, now: datetime) -> Survey:
    """Read each project with queued items (and each with a staffing problem) once,
    reporting a change of its staffing problem. A project whose config cannot be read
    is left in the pass: its items fail one by one, each with the reason."""
    with session_scope(engine) as session:
        project_ids = set(queries.projects_with_queued_items(session))
        project_ids |= set(queries.projects_with_staffing_problems(session))
    survey = Survey(unstaffed=set(), llm_assisted=set())
    for project_id in sorted(project_ids):
        try:
            with session_scope(engine) as session:
                project = session.get(Project, project_id)
                assert project is not None
                config = project_config(session, project)
                staffing = staffing_of(session, config)
                report_staffing(session, project, config, staffing, now=now)
        except Exception:
            log.warning("reading project %s for dispatch failed", project_id, exc_info=True)
            continue
        if not staffing.can_assign:
            survey.unstaffed.add(project_id)
        if config.llm.enabled:
            survey.llm_assisted.add(project_id)
    return survey


# Per database, per project: its version and the reviewers free at the last complete
# top-up pass. Understaffed items are looked at again only when that changes (someone
# added, resumed or under their max_open again), not on every pass. Losing it (a new
# process) costs one look at each.
_last_free: weakref.WeakKeyDictionary[Engine, dict[int, tuple[int, frozenset[str]]]] = (
    weakref.WeakKeyDictionary()
)


def top_up_understaffed(
    engine: Engine, *, clock: Clock, rng: random.Random, stop: Callable[[], bool]
) -> int:
    """Give waiting items to the qualified reviewers who became free; how many got some."""
    seen = _last_free.setdefault(engine, {})
    with session_scope(engine) as session:
        project_ids = queries.projects_with_understaffed_items(session)
    topped = 0
    for project_id in project_ids:
        try:
            with session_scope(engine) as session:
                project = session.get(Project, project_id)
                assert project is not None
                config = project_config(session, project)
                mark = (project.current_version, free_reviewers(session, config, project_id).free)
        except Exception:
            log.warning("reading project %s for top-ups failed", project_id, exc_info=True)
            continue
        if seen.get(project_id) == mark:
            continue
        after = 0
        while not stop():
            with session_scope(engine) as session:
                item_ids = queries.understaffed_item_ids(session, project_id, after_id=after)
            if not item_ids:
                seen[project_id] = mark
                break
            for item_id in item_ids:
                if stop():
                    return topped
                after = item_id
                topped += (
                    _dispatch_one(engine, item_id, clock=clock, rng=rng, top_up=True) == "topped_up"
                )
    return topped
