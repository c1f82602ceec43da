"""What keeps items from reviewers, for `quorum status`: items dispatch gave up on (with
their reason) and projects that cannot staff their items (with why)."""

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
class DispatchProblems:
    failed: list[FailedItem] = field(default_factory=list)  # the newest, at most `shown`
    failed_total: int = 0
    understaffed: list[tuple[str, str]] = field(default_factory=list)  # (project, why)


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
    return DispatchProblems(failed[:shown], total, understaffed)
