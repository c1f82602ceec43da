"""What keeps items from reviewers, for `quorum status`: items dispatch gave up on (with
their reason), projects that cannot staff their items (with why) and items waiting for
qualified reviewers (by reason)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session

from storage import queries
from storage.models import ItemStatus


@dataclass(frozen=True)
class FailedItem:
    project: str
    external_id: str
    reason: str


@dataclass(frozen=True)
class WaitingItems:
    project: str
    reason: str  # understaffed: needs de + cardiology, 1 of 3 qualified reviewers available
    items: int
    example: str  # one of them (the first external id)


@dataclass(frozen=True)
class DispatchProblems:
    failed: list[FailedItem] = field(default_factory=list)  # the newest, at most `shown`
    failed_total: int = 0
    understaffed: list[tuple[str, str]] = field(default_factory=list)  # (project, why)
    waiting: list[WaitingItems] = field(default_factory=list)


def dispatch_problems(
    engine: Engine, project: str | None = None, *, shown: int = 20
) -> DispatchProblems:
    with Session(engine) as session:
        projects = [p for p in queries.list_projects(session) if not project or p.name == project]
        failed: list[FailedItem] = []
        total = 0
        for p in projects:
            assert p.id is not None
            total += queries.item_status_counts(session, p.id).get(ItemStatus.FAILED, 0)
            failed += [
                FailedItem(p.name, item.external_id, item.failure or "")
                for item in queries.failed_items(session, p.id, limit=shown)
            ]
        understaffed = [(p.name, p.staffing_problem) for p in projects if p.staffing_problem]
        waiting = [
            WaitingItems(p.name, reason, count, first)
            for p in projects
            if p.id is not None
            for reason, count, first in queries.understaffed_reasons(session, p.id)
        ]
    return DispatchProblems(failed[:shown], total, understaffed, waiting)
