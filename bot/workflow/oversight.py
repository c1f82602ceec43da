"""What leads, owners and auditors can read from Slack (`/quorum status`, `/quorum
audit`): their projects' items by state, what keeps items from reviewers, open
escalations, and whether the audit trail still holds. Read-only: nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from bot.audit.verify import verify_trail
from bot.workflow.project_versions import current_configs
from bot.workflow.roles import oversees
from storage import queries, review_queries
from storage.models import ItemStatus, Project

# Item states in the order of an item's life.
STATES_SHOWN = (
    ItemStatus.QUEUED,
    ItemStatus.ASSIGNED,
    ItemStatus.ANSWERED,
    ItemStatus.ESCALATED,
    ItemStatus.SIGNED_OFF,
    ItemStatus.AUTO_ACCEPTED,
    ItemStatus.FAILED,
)


@dataclass(frozen=True)
class ProjectStatus:
    name: str
    counts: list[tuple[str, int]]  # (item state, items), the states it has, in STATES_SHOWN order
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
                    counts=[(state, counts[state]) for state in STATES_SHOWN if counts.get(state)],
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
