"""What leads, owners and auditors can read from Slack (`/quorum status`, `/quorum
audit`, `/quorum provenance`): their projects' items by state, what keeps items from
reviewers, open escalations, whether the audit trail still holds, and one item's
history. Read-only: nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from bot.audit.provenance import UnknownItemError, find_item, item_history
from bot.audit.verify import verify_trail
from bot.workflow.project_versions import current_configs
from bot.workflow.roles import oversees
from storage import queries, review_queries
from storage.models import ItemStatus, Project


@dataclass(frozen=True)
class ProjectStatus:
    name: str
    counts: list[tuple[str, int]]  # (item state, items): the states it has, in life order
    open_escalations: int
    waiting: list[tuple[str, int]]  # (why items wait for reviewers, how many)
    staffing_problem: str | None


@dataclass(frozen=True)
class Overseen:
    """The projects a person oversees, narrowed to `asked` when they named one;
    `refused` names the project they asked for but do not oversee (or that is unknown)."""

    projects: list[Project]
    refused: str | None = None


def overseen(session: Session, user_id: str, asked: str | None) -> Overseen:
    mine = [project for project, config in current_configs(session) if oversees(config, user_id)]
    if asked is None:
        return Overseen(mine)
    chosen = [p for p in mine if p.name == asked]
    return Overseen(chosen) if chosen else Overseen([], refused=asked)


def project_statuses(
    engine: Engine, user_id: str, asked: str | None
) -> tuple[Overseen, list[ProjectStatus]]:
    with Session(engine) as session:
        found = overseen(session, user_id, asked)
        statuses = []
        for project in found.projects:
            assert project.id is not None
            counts = queries.item_status_counts(session, project.id)
            statuses.append(
                ProjectStatus(
                    name=project.name,
                    counts=[
                        (state, counts[state]) for state in ItemStatus.ALL if counts.get(state)
                    ],
                    open_escalations=review_queries.open_escalation_count(session, [project.id]),
                    waiting=[
                        (reason, count)
                        for reason, count, _ in queries.understaffed_reasons(session, project.id)
                    ],
                    staffing_problem=project.staffing_problem,
                )
            )
    return found, statuses


@dataclass(frozen=True)
class AuditCheck:
    name: str
    events: int
    chains: int
    problems: int
    first_problem: str | None


def audit_checks(
    engine: Engine, user_id: str, asked: str | None, *, key: SecretStr | str | bytes
) -> tuple[Overseen, list[AuditCheck]]:
    """`quorum audit verify` for each project the person oversees."""
    with Session(engine) as session:
        found = overseen(session, user_id, asked)
    checks = []
    for project in found.projects:
        report = verify_trail(engine, key=key, project_id=project.id)
        first = report.problems[0].problem if report.problems else None
        checks.append(
            AuditCheck(project.name, report.events, report.chains, report.problem_count, first)
        )
    return found, checks


EVENTS_SHOWN = 25  # the latest events of an item's history in a Slack answer


@dataclass(frozen=True)
class ItemProvenance:
    """One item's history for someone who oversees its project, or why there is none:
    `missing` (no such item in the projects they oversee) or `several` (it is in more
    than one of them: the projects to choose from)."""

    history: dict | None = None
    missing: bool = False
    several: list[str] | None = None


def item_provenance(
    engine: Engine, user_id: str, external_id: str, asked: str | None
) -> tuple[Overseen, ItemProvenance]:
    with Session(engine) as session:
        found = overseen(session, user_id, asked)
        holding = []
        for project in found.projects:
            try:
                find_item(session, external_id, project.name)
            except UnknownItemError:
                continue
            holding.append(project.name)
    if not holding:
        return found, ItemProvenance(missing=True)
    if len(holding) > 1:
        return found, ItemProvenance(several=holding)
    history = item_history(engine, external_id, project=holding[0])
    history["events"] = history["events"][-EVENTS_SHOWN:]
    return found, ItemProvenance(history=history)
