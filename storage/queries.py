"""Queries the workflow needs, kept here so bot/ holds rules and not SQL."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TypedDict

from sqlalchemy import bindparam, exists, func, not_, or_
from sqlmodel import Session, col, select

from storage.models import (
    Assignment,
    AssignmentStatus,
    Item,
    ItemStatus,
    Label,
    PreLabelRecord,
    Project,
    ProjectVersion,
    Response,
    Reviewer,
    ReviewerGroup,
    pk,
)


def get_project(session: Session, name: str) -> Project | None:
    return session.exec(select(Project).where(Project.name == name)).first()


def list_projects(session: Session) -> Sequence[Project]:
    return session.exec(select(Project).order_by(Project.name)).all()


def project_version(session: Session, project_id: int, version: int) -> ProjectVersion | None:
    return session.exec(
        select(ProjectVersion).where(
            ProjectVersion.project_id == project_id, ProjectVersion.version == version
        )
    ).first()


def items_by_external_id(
    session: Session, project_id: int, external_ids: Iterable[str]
) -> dict[str, tuple[int, str]]:
    """external id -> (item id, content hash) for the ids that already exist."""
    found: dict[str, tuple[int, str]] = {}
    ids = list(external_ids)
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = ids[start : start + 900]
        rows = session.exec(
            select(Item.external_id, pk(Item.id), Item.content_hash).where(
                Item.project_id == project_id, col(Item.external_id).in_(chunk)
            )
        ).all()
        found.update({ext: (item_id, digest) for ext, item_id, digest in rows})
    return found


# The click path's reads, built once: constructing a statement costs about as much CPU
# as running it, and every answer runs these.
_LOCK_ITEM = select(Item).where(Item.id == bindparam("id")).with_for_update()
_LOCK_ASSIGNMENT = select(Assignment).where(Assignment.id == bindparam("id")).with_for_update()
_ITEM_ASSIGNMENTS = (
    select(Assignment).where(Assignment.item_id == bindparam("id")).order_by(col(Assignment.id))
)
_ASSIGNMENT_RESPONSE = select(Response).where(Response.assignment_id == bindparam("id"))


def lock_item(session: Session, item_id: int) -> Item | None:
    """The item row, locked for this transaction on PostgreSQL (SQLite locks the file)."""
    return session.exec(_LOCK_ITEM, params={"id": item_id}).first()


def lock_project(session: Session, project_id: int) -> None:
    """Hold the project's row for this transaction (PostgreSQL; SQLite locks the file)."""
    session.exec(select(pk(Project.id)).where(Project.id == project_id).with_for_update()).first()


def try_lock_item(session: Session, item_id: int) -> Item | None:
    """The item row locked for this transaction, or None when another process holds it
    (FOR UPDATE SKIP LOCKED on PostgreSQL), so several dispatchers never wait on each other."""
    return session.exec(
        select(Item).where(Item.id == item_id).with_for_update(skip_locked=True)
    ).first()


def lock_assignment(session: Session, assignment_id: int) -> Assignment | None:
    return session.exec(_LOCK_ASSIGNMENT, params={"id": assignment_id}).first()


def open_assignment_counts(
    session: Session, reviewer_ids: Sequence[str], *, project_id: int | None = None
) -> dict[str, int]:
    """Pending assignments per reviewer (of one project, or of all)."""
    if not reviewer_ids:
        return {}
    query = select(Assignment.reviewer_id, func.count()).where(
        col(Assignment.reviewer_id).in_(reviewer_ids),
        Assignment.status == AssignmentStatus.PENDING,
    )
    if project_id is not None:
        query = query.join(Item, col(Item.id) == Assignment.item_id).where(
            Item.project_id == project_id
        )
    rows = session.exec(query.group_by(Assignment.reviewer_id)).all()
    counts = dict.fromkeys(reviewer_ids, 0)
    counts.update({reviewer: count for reviewer, count in rows})
    return counts


def paused_reviewers(session: Session, reviewer_ids: Sequence[str]) -> set[str]:
    return set(
        session.exec(
            select(Reviewer.user_id).where(
                col(Reviewer.user_id).in_(reviewer_ids), col(Reviewer.paused).is_(True)
            )
        ).all()
    )


def assignments_for_item(session: Session, item_id: int) -> Sequence[Assignment]:
    return session.exec(_ITEM_ASSIGNMENTS, params={"id": item_id}).all()


def responses_for_item(session: Session, item_id: int) -> Sequence[Response]:
    return session.exec(
        select(Response).where(Response.item_id == item_id).order_by(col(Response.id))
    ).all()


def response_for_assignment(session: Session, assignment_id: int) -> Response | None:
    return session.exec(_ASSIGNMENT_RESPONSE, params={"id": assignment_id}).first()


def label_for_item(session: Session, item_id: int) -> Label | None:
    return session.exec(select(Label).where(Label.item_id == item_id)).first()


def item_status_counts(session: Session, project_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Item.status, func.count()).where(Item.project_id == project_id).group_by(Item.status)
    ).all()
    return dict(rows)


def delivered_pending_assignments(session: Session) -> Sequence[tuple[Assignment, Item]]:
    """Pending assignments whose review DM has been posted, with their items."""
    return session.exec(
        select(Assignment, Item)
        .join(Item, col(Item.id) == Assignment.item_id)
        .where(
            Assignment.status == AssignmentStatus.PENDING, col(Assignment.message_ts).is_not(None)
        )
        .order_by(col(Assignment.id))
    ).all()


class ProjectOutcomes(TypedDict):
    items: int
    answers: int
    methods: dict[str, int]  # labels by method (consensus, gold, lead, auto)
    escalated: int
    agreement: float | None  # mean agreement of the labels; None when there are none


def project_outcomes(session: Session, project_id: int) -> ProjectOutcomes:
    """Counts the demo summary shows: items, answers, labels by method, escalations."""
    items = session.exec(
        select(func.count()).select_from(Item).where(Item.project_id == project_id)
    ).one()
    answers = session.exec(
        select(func.count())
        .select_from(Assignment)
        .join(Item, col(Item.id) == Assignment.item_id)
        .where(Item.project_id == project_id, Assignment.status == AssignmentStatus.ANSWERED)
    ).one()
    methods = dict(
        session.exec(
            select(Label.method, func.count())
            .where(Label.project_id == project_id)
            .group_by(Label.method)
        ).all()
    )
    mean_agreement = session.exec(
        select(func.avg(Label.agreement)).where(Label.project_id == project_id)
    ).one()
    statuses = item_status_counts(session, project_id)
    return {
        "items": items,
        "answers": answers,
        "methods": methods,
        "escalated": statuses.get("escalated", 0),
        "agreement": mean_agreement,
    }


def undecided_item_count(session: Session) -> int:
    """Items not yet signed off or auto-accepted, across projects (escalated included)."""
    return session.exec(
        select(func.count())
        .select_from(Item)
        .where(col(Item.status).not_in(["signed_off", "auto_accepted"]))
    ).one()


# --- dispatch: poison items, staffing, reviewer groups -----------------------------------


def dispatchable_item_ids(
    session: Session,
    *,
    after_id: int,
    waiting_project_ids: Collection[int] = (),
    skip_project_ids: Collection[int] = (),
    limit: int = 100,
) -> list[int]:
    """Queued items after `after_id` (keyset, so one pass visits each once), leaving out
    those still waiting for a pre-label (as `prelabel_queries.routable_queued_items`) and
    the projects in `skip_project_ids` (nobody can take their items now)."""
    query = select(pk(Item.id)).where(
        Item.status == ItemStatus.QUEUED,
        col(Item.understaffed).is_(None),  # waiting for qualified people: see below
        col(Item.id) > after_id,
    )
    if waiting_project_ids:
        has_prelabel = exists().where(col(PreLabelRecord.item_id) == Item.id)
        query = query.where(
            or_(
                not_(col(Item.project_id).in_(list(waiting_project_ids))),
                col(Item.route_reason).is_not(None),
                has_prelabel,
            )
        )
    if skip_project_ids:
        query = query.where(not_(col(Item.project_id).in_(list(skip_project_ids))))
    return list(session.exec(query.order_by(col(Item.id)).limit(limit)).all())


def understaffed_item_ids(
    session: Session, project_id: int, *, after_id: int, limit: int = 100
) -> list[int]:
    """Items of the project waiting for qualified reviewers (queued, or assigned to
    fewer than they need), after `after_id` (keyset)."""
    return list(
        session.exec(
            select(pk(Item.id))
            .where(
                Item.project_id == project_id,
                col(Item.status).in_([ItemStatus.QUEUED, ItemStatus.ASSIGNED]),
                col(Item.understaffed).is_not(None),
                col(Item.id) > after_id,
            )
            .order_by(col(Item.id))
            .limit(limit)
        )
    )


def understaffed_reasons(session: Session, project_id: int) -> list[tuple[str, int, str]]:
    """(reason, items, the first item's external id) of the project's waiting items."""
    rows = session.exec(
        select(Item.understaffed, func.count(), func.min(Item.external_id))
        .where(
            Item.project_id == project_id,
            col(Item.status).in_([ItemStatus.QUEUED, ItemStatus.ASSIGNED]),
            col(Item.understaffed).is_not(None),
        )
        .group_by(Item.understaffed)
        .order_by(func.count().desc())
    ).all()
    return [(str(reason), int(count), str(first)) for reason, count, first in rows]


def projects_with_understaffed_items(session: Session) -> list[int]:
    return list(
        session.exec(
            select(Item.project_id)
            .where(
                col(Item.status).in_([ItemStatus.QUEUED, ItemStatus.ASSIGNED]),
                col(Item.understaffed).is_not(None),
            )
            .distinct()
        )
    )


def projects_with_queued_items(session: Session) -> list[int]:
    return list(
        session.exec(select(Item.project_id).where(Item.status == ItemStatus.QUEUED).distinct())
    )


def failed_items(session: Session, project_id: int | None = None, limit: int = 20) -> list[Item]:
    """Items dispatch gave up on, newest first."""
    query = select(Item).where(Item.status == ItemStatus.FAILED)
    if project_id is not None:
        query = query.where(Item.project_id == project_id)
    return list(session.exec(query.order_by(col(Item.updated_at).desc()).limit(limit)))


def failed_item_ids(session: Session, project_id: int) -> list[int]:
    return list(
        session.exec(
            select(pk(Item.id)).where(
                Item.project_id == project_id, Item.status == ItemStatus.FAILED
            )
        )
    )


def reviewer_group(session: Session, group_id: str) -> ReviewerGroup | None:
    return session.get(ReviewerGroup, group_id)


def lock_reviewer_group(session: Session, group_id: str) -> ReviewerGroup | None:
    return session.exec(
        select(ReviewerGroup).where(ReviewerGroup.group_id == group_id).with_for_update()
    ).first()


def projects_with_staffing_problems(session: Session) -> list[int]:
    return list(
        session.exec(select(pk(Project.id)).where(col(Project.staffing_problem).is_not(None)))
    )
