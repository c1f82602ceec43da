"""Moving queued items on: route each one, then auto-accept it or assign reviewers.

Runs in small batches, one transaction each, so a crash part-way leaves every item
either untouched (still queued) or fully routed with its DMs in the outbox.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from bot.audit.chain import record_event
from bot.runtime.clock import SYSTEM_CLOCK, Clock
from bot.workflow.decision.labels import sign_off
from bot.workflow.intake.assignment import assign_reviewers
from bot.workflow.intake.routing import route_item, routed_event_data
from bot.workflow.llm_projects import llm_projects
from bot.workflow.project_versions import project_config
from storage import prelabel_queries, queries
from storage.db import session_scope
from storage.models import Item, ItemStatus, Project


@dataclass
class DispatchReport:
    auto_accepted: int = 0
    sent_to_reviewers: int = 0

    @property
    def total(self) -> int:
        return self.auto_accepted + self.sent_to_reviewers


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
    return "human"


def dispatch_queued(
    engine: Engine,
    *,
    clock: Clock = SYSTEM_CLOCK,
    rng: random.Random | None = None,
    batch: int = 100,
    limit: int | None = None,
) -> DispatchReport:
    """Route and assign queued items until none is left (or `limit` were handled)."""
    rng = rng or random.Random()
    report = DispatchReport()
    while limit is None or report.total < limit:
        with session_scope(engine) as session:
            # Items of LLM-assisted projects wait for their pre-label (intake/prelabel.py).
            waiting = llm_projects(session)
            items = prelabel_queries.routable_queued_items(
                session, waiting_project_ids=waiting, limit=batch
            )
            if not items:
                break
            progressed = False
            for item in items:
                # SKIP LOCKED: another `quorum serve` process is dispatching this one.
                assert item.id is not None
                locked = queries.try_lock_item(session, item.id)
                if locked is None or locked.status != ItemStatus.QUEUED:
                    continue
                progressed = True
                project = session.get(Project, locked.project_id)
                assert project is not None
                outcome = dispatch_item(session, locked, project, clock=clock, rng=rng)
                if outcome == "auto":
                    report.auto_accepted += 1
                else:
                    report.sent_to_reviewers += 1
                    if locked.status == ItemStatus.QUEUED:
                        # Nobody could take it (all paused): leave it queued but stop looping.
                        return report
            if not progressed:  # every candidate is being handled elsewhere
                break
    return report
