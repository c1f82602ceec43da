"""Slack user groups as reviewer pools (`reviewer_group: S…` in a project file).

A group's members are read with usergroups.users.list (scope `usergroups:read`) by a
scheduled job and kept in `reviewer_group`, which every process reads when it picks
reviewers (intake/staffing.reviewer_pool). A member who left the group gives up their
pending items of each project that uses it by the one release rule
(`review.release.release_reviewer`), unless the project file also lists them by name.

Lookups that fail for good (the group was deleted, the app lacks the scope, the token
is bad) are recorded on the row and logged when the error changes, not on every run;
the project then reports that it cannot staff its items (intake/staffing.py). A rate
limit or a network problem leaves the cached members as they are until the next run.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from bot.workflow.intake.staffing import report_staffing, staffing_of
from bot.workflow.project_versions import current_configs, project_config
from bot.workflow.review.release import release_reviewer
from storage import queries
from storage.db import session_scope
from storage.models import Project, ReviewerGroup

log = logging.getLogger(__name__)

GROUP_GONE = "no_such_subteam"  # the group was deleted: nobody is in it any more
LEFT_GROUP = "left the project's reviewer group"


class GroupLookupError(Exception):
    """usergroups.users.list failed: Slack's error code, and whether to just try later."""

    def __init__(self, error: str, *, retry: bool) -> None:
        super().__init__(error)
        self.error = error
        self.retry = retry


GroupLookup = Callable[[str], list[str]]  # group id -> member ids, or GroupLookupError


def groups_in_use(session: Session) -> dict[str, list[int]]:
    """Group id -> the projects whose current config names it."""
    uses: dict[str, list[int]] = {}
    for project, config in current_configs(session):
        assert project.id is not None
        group = config.reviewer_group
        if group:
            uses.setdefault(group, []).append(project.id)
    return uses


def refresh_reviewer_groups(
    engine: Engine, lookup: GroupLookup, *, now: datetime, rng: random.Random
) -> int:
    """Read every group a project uses; store its members and release those who left.
    Returns how many groups changed (members or error)."""
    with session_scope(engine) as session:
        uses = groups_in_use(session)
    changed = 0
    for group_id, project_ids in sorted(uses.items()):
        members: list[str] | None
        try:
            members, error = lookup(group_id), None
        except GroupLookupError as exc:
            if exc.retry:
                log.info("user group %s: lookup deferred (%s)", group_id, exc.error)
                continue
            members, error = ([] if exc.error == GROUP_GONE else None), exc.error
        with session_scope(engine) as session:
            changed += store_group(
                session, group_id, members, error=error, project_ids=project_ids, now=now, rng=rng
            )
    return changed


def store_group(
    session: Session,
    group_id: str,
    members: list[str] | None,
    *,
    error: str | None,
    project_ids: list[int],
    now: datetime,
    rng: random.Random,
) -> int:
    """Store what a lookup found (`members` None: unknown, keep the last known ones);
    1 when the group changed."""
    row = queries.lock_reviewer_group(session, group_id)
    if row is None:
        row = ReviewerGroup(group_id=group_id, members=[], refreshed_at=now)
    before = list(row.members)
    after = before if members is None else list(dict.fromkeys(members))
    if after == before and row.error == error and row in session:
        row.refreshed_at = now
        session.add(row)
        return 0
    if error and error != row.error:
        log.warning(
            "user group %s cannot be read from Slack: %s%s",
            group_id,
            error,
            " (add the usergroups:read scope to the Slack app and reinstall it)"
            if error == "missing_scope"
            else "",
        )
    elif not error and row.error:
        log.info("user group %s can be read again", group_id)
    row.members, row.error, row.refreshed_at = after, error, now
    session.add(row)
    session.flush()  # the pool the release rule picks replacements from is the new one
    left = [m for m in before if m not in set(after)]
    if left:
        log.info("user group %s: %d member(s) left", group_id, len(left))
    for user_id in left:
        for project_id in project_ids:
            _release_if_gone(session, user_id, project_id, now=now, rng=rng)
    for project_id in project_ids:  # said at once, even when nothing is queued
        project = session.get(Project, project_id)
        assert project is not None
        config = project_config(session, project)
        report_staffing(session, project, config, staffing_of(session, config), now=now)
    return 1


def _release_if_gone(
    session: Session, user_id: str, project_id: int, *, now: datetime, rng: random.Random
) -> None:
    project = session.get(Project, project_id)
    assert project is not None
    if user_id in project_config(session, project).people:
        return  # still listed by name in the project file
    release_reviewer(
        session, user_id, reason=LEFT_GROUP, actor="quorum", now=now, rng=rng, project_id=project_id
    )
