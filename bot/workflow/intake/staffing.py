"""Who can review a project's items, and saying once when nobody (or too few) can.

A project's pool is the reviewers its file lists plus the members of its Slack user
group as last read (bot/workflow/intake/groups.py); paused reviewers are left out. When
the pool cannot staff an item, the project records why in `Project.staffing_problem`:
the change of that value, not each dispatch pass, is what is reported (an `understaffed`
event on the project's chain, one log line, one note in the leads' channel through the
outbox), so a project nobody can staff says so once instead of every second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.people import Person
from bot.config.project import ProjectConfig
from bot.delivery import outbox
from bot.slack.text import escape_mrkdwn
from storage import queries
from storage.models import Project

log = logging.getLogger(__name__)


def reviewer_people(session: Session, config: ProjectConfig) -> dict[str, Person]:
    """The project's reviewers by id: those listed in its file (with their attributes),
    then its group's members (with none, unless also listed)."""
    people = dict(config.people)
    if config.reviewer_group:
        group = queries.reviewer_group(session, config.reviewer_group)
        for member in group.members if group else []:
            people.setdefault(member, Person(id=member))
    return people


def reviewer_pool(session: Session, config: ProjectConfig) -> list[str]:
    """The project's reviewers: those listed in its file, then its group's members."""
    return list(reviewer_people(session, config))


def is_reviewer(session: Session, config: ProjectConfig, user_id: str) -> bool:
    return user_id in reviewer_pool(session, config)


@dataclass(frozen=True)
class Staffing:
    available: int  # reviewers in the pool who are not paused
    problem: str | None  # why the project cannot (fully) staff an item, for people

    @property
    def can_assign(self) -> bool:
        return self.available > 0


def staffing_of(session: Session, config: ProjectConfig) -> Staffing:
    pool = reviewer_pool(session, config)
    available = len(pool) - len(queries.paused_reviewers(session, pool)) if pool else 0
    if available >= config.initial_overlap:
        return Staffing(available, None)
    return Staffing(available, _why(session, config, pool, available))


def _why(session: Session, config: ProjectConfig, pool: list[str], available: int) -> str:
    group_note = ""
    if config.reviewer_group:
        group = queries.reviewer_group(session, config.reviewer_group)
        if group is None:
            group_note = f"; user group {config.reviewer_group} has not been read from Slack yet"
        elif group.error:
            group_note = (
                f"; user group {config.reviewer_group} could not be read from Slack ({group.error})"
            )
        else:
            group_note = f"; user group {config.reviewer_group} has {len(group.members)} members"
    if not pool:
        return f"no reviewers{group_note}"
    if not available:
        return f"all {len(pool)} reviewers are paused{group_note}"
    return (
        f"only {available} reviewer(s) available for an overlap of {config.initial_overlap}; "
        f"items get fewer reviews{group_note}"
    )


def report_staffing(
    session: Session, project: Project, config: ProjectConfig, staffing: Staffing, *, now: datetime
) -> bool:
    """Record a change of the project's staffing problem (once, under the project's row
    lock, so several dispatching processes report it once between them). True when
    something changed."""
    if project.staffing_problem == staffing.problem:
        return False
    assert project.id is not None
    # Re-read under the row lock: another process may have reported it meanwhile.
    session.refresh(project, with_for_update=True)
    if project.staffing_problem == staffing.problem:
        return False
    project.staffing_problem = staffing.problem
    session.add(project)
    if staffing.problem is None:
        log.info("project %s can staff its items again", project.name)
        record_event(session, "staffed", actor="quorum", project_id=project.id, at=now, data={})
        return True
    log.warning("project %s cannot staff its items: %s", project.name, staffing.problem)
    record_event(
        session,
        "understaffed",
        actor="quorum",
        project_id=project.id,
        at=now,
        data={
            "problem": staffing.problem,
            "available": staffing.available,
            "wanted": config.initial_overlap,
        },
    )
    if config.escalation_channel:
        text = (
            f":warning: *{escape_mrkdwn(config.name)}* cannot staff its items: "
            f"{escape_mrkdwn(staffing.problem)}. Add reviewers to the project file "
            "(or its user group), or resume paused reviewers."
        )
        outbox.enqueue(
            session,
            outbox.POST_MESSAGE,
            {"channel": config.escalation_channel, "text": text},
            key=f"understaffed:project:{project.id}:{int(now.timestamp() * 1000)}",
            now=now,
        )
    return True
