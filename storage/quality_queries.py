"""Reading answers, gold values and final labels for agreement, posteriors and reviewer stats.

Rows come back as plain tuples so a project's whole answer history can be loaded without
building an ORM object per answer. Correctness on gold needs no table of its own: it is
each answer compared with its item's ``gold`` (``gold_answers`` returns both side by side;
the comparison rules per task kind live in bot/kinds/).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, func
from sqlalchemy import select as core_select  # typed for more columns than sqlmodel's
from sqlmodel import Session, col, select

from storage.models import Assignment, AssignmentStatus, Item, Label, Response, pk

_CHUNK = 900  # stay under SQLite's bound-parameter limit


class AnswerRow(NamedTuple):
    response_id: int
    item_id: int
    reviewer_id: str
    value: Any
    rationale: str | None
    latency_ms: int | None
    created_at: datetime
    presentation: dict | None
    flags: list | None = None


class LabelRow(NamedTuple):
    item_id: int
    value: Any
    method: str
    agreement: float | None
    confidence: float | None
    signed_off_by: str | None
    signed_off_at: datetime


_ANSWER_COLUMNS = (
    pk(Response.id),
    col(Response.item_id),
    col(Response.reviewer_id),
    col(Response.value),
    col(Response.rationale),
    col(Response.latency_ms),
    col(Response.created_at),
    col(Assignment.presentation),
    col(Response.flags),
)


def _answers_query() -> Select[
    int, int, str, Any, str | None, int | None, datetime, dict | None, list | None
]:
    return (
        core_select(*_ANSWER_COLUMNS)
        .join(Assignment, col(Assignment.id) == Response.assignment_id)
        .where(col(Assignment.status) == AssignmentStatus.ANSWERED)
    )


def item_answers(session: Session, item_id: int) -> list[AnswerRow]:
    """The answers that count for an item (answered assignments), oldest first."""
    rows = session.execute(
        _answers_query().where(col(Response.item_id) == item_id).order_by(col(Response.id))
    ).all()
    return [AnswerRow(*row) for row in rows]


def project_answers(session: Session, project_id: int) -> list[AnswerRow]:
    """Every answer that counts in a project, in item then answer order."""
    rows = session.execute(
        _answers_query()
        .join(Item, col(Item.id) == Response.item_id)
        .where(col(Item.project_id) == project_id)
        .order_by(col(Response.item_id), col(Response.id))
    ).all()
    return [AnswerRow(*row) for row in rows]


def project_answer_values(session: Session, project_id: int) -> list[tuple[int, str, Any]]:
    """(item id, reviewer, value) of every answer that counts: the lean read the
    posterior's model fit needs at decision time."""
    rows = session.connection().execute(
        select(Response.item_id, Response.reviewer_id, Response.value)
        .join(Assignment, col(Assignment.id) == Response.assignment_id)
        .join(Item, col(Item.id) == Response.item_id)
        .where(Item.project_id == project_id, Assignment.status == AssignmentStatus.ANSWERED)
    )
    return [tuple(row) for row in rows]


def count_project_answers(session: Session, project_id: int) -> int:
    """How many answers a project has (cheap: decides when a cached model is stale)."""
    return session.exec(
        select(func.count())
        .select_from(Response)
        .join(Item, col(Item.id) == Response.item_id)
        .where(Item.project_id == project_id)
    ).one()


def item_contents(session: Session, item_ids: Iterable[int]) -> dict[int, dict]:
    ids = sorted(set(item_ids))
    found: dict[int, dict] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.exec(
            select(pk(Item.id), col(Item.content)).where(col(Item.id).in_(chunk))
        ).all()
        found.update(dict(rows))
    return found


def item_requirements(
    session: Session, item_ids: Iterable[int]
) -> list[tuple[int, dict | None, dict | None]]:
    """(item id, imported requirements, metadata) of the items."""
    ids = sorted(set(item_ids))
    found: list[tuple[int, dict | None, dict | None]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found += session.exec(
            select(pk(Item.id), col(Item.requires), col(Item.meta)).where(col(Item.id).in_(chunk))
        ).all()
    return found


def gold_values(session: Session, project_id: int) -> dict[int, Any]:
    """item id -> gold value for the project's gold items. JSON null and SQL NULL both mean
    "no gold" and differ by backend, so the filter happens here rather than in SQL."""
    rows = session.exec(select(pk(Item.id), Item.gold).where(Item.project_id == project_id)).all()
    return {item_id: gold for item_id, gold in rows if gold is not None}


def gold_answers(session: Session, project_id: int) -> list[tuple[AnswerRow, Any]]:
    """Each answer on a gold item beside the item's gold value, for scoring reviewers."""
    gold = gold_values(session, project_id)
    if not gold:
        return []
    return [
        (row, gold[row.item_id])
        for row in project_answers(session, project_id)
        if row.item_id in gold
    ]


def project_labels(session: Session, project_id: int) -> list[LabelRow]:
    rows = session.execute(
        core_select(
            col(Label.item_id),
            col(Label.value),
            col(Label.method),
            col(Label.agreement),
            col(Label.confidence),
            col(Label.signed_off_by),
            col(Label.signed_off_at),
        )
        .where(col(Label.project_id) == project_id)
        .order_by(col(Label.signed_off_at))
    ).all()
    return [LabelRow(*row) for row in rows]


def project_item_count(session: Session, project_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(Item).where(Item.project_id == project_id)
    ).one()
