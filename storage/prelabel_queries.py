"""Queries for LLM assist: items waiting for a pre-label, pre-labels, calibration data.

An item of an LLM-assisted project is "waiting for a pre-label" while it is queued, not
yet routed (`route_reason` is NULL) and has no `prelabel` row. The row (a pre-label or a
recorded failure) is what releases it to routing, so a crash between the LLM call and
the write leaves the item waiting, and it is simply asked again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence

from sqlalchemy import Exists, and_, exists, not_, or_
from sqlmodel import Session, col, select

from storage.models import Escalation, Event, Item, ItemStatus, Label, PreLabelRecord

CHUNK = 900  # stay under SQLite's bound-parameter limit


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _has_prelabel() -> Exists:
    return exists().where(col(PreLabelRecord.item_id) == Item.id)


def items_awaiting_prelabel(
    session: Session, project_ids: Collection[int], *, limit: int = 100
) -> Sequence[Item]:
    """Queued, unrouted items of these (LLM-assisted) projects that have no pre-label row."""
    if not project_ids:
        return []
    return session.exec(
        select(Item)
        .where(
            Item.status == ItemStatus.QUEUED,
            col(Item.route_reason).is_(None),
            col(Item.project_id).in_(list(project_ids)),
            not_(_has_prelabel()),
        )
        .order_by(col(Item.id))
        .limit(limit)
    ).all()


def routable_queued_items(
    session: Session, *, waiting_project_ids: Collection[int], limit: int = 500
) -> Sequence[Item]:
    """Queued items dispatch may handle now: everything except items of LLM-assisted
    projects that still wait for their pre-label."""
    query = select(Item).where(Item.status == ItemStatus.QUEUED)
    if waiting_project_ids:
        query = query.where(
            or_(
                not_(col(Item.project_id).in_(list(waiting_project_ids))),
                col(Item.route_reason).is_not(None),
                _has_prelabel(),
            )
        )
    return session.exec(query.order_by(col(Item.id)).limit(limit)).all()


def latest_prelabel(session: Session, item_id: int) -> PreLabelRecord | None:
    return session.exec(
        select(PreLabelRecord)
        .where(PreLabelRecord.item_id == item_id)
        .order_by(col(PreLabelRecord.id).desc())
    ).first()


def latest_prelabels(session: Session, item_ids: Iterable[int]) -> dict[int, PreLabelRecord]:
    """item id -> its newest pre-label row, for the items that have one."""
    found: dict[int, PreLabelRecord] = {}
    for chunk in _chunks(list(item_ids)):
        rows = session.exec(
            select(PreLabelRecord)
            .where(col(PreLabelRecord.item_id).in_(chunk))
            .order_by(col(PreLabelRecord.id))
        ).all()
        found.update({row.item_id: row for row in rows})  # later ids overwrite earlier
    return found


def human_labelled_items(
    session: Session, project_id: int, methods: Collection[str]
) -> Sequence[tuple[Item, Label]]:
    """Items whose label people reached (consensus, lead, gold), with that label."""
    return session.exec(
        select(Item, Label)
        .join(Label, col(Label.item_id) == Item.id)
        .where(Label.project_id == project_id, col(Label.method).in_(list(methods)))
        .order_by(col(Item.id))
    ).all()


def routed_events(session: Session, item_ids: Iterable[int]) -> dict[int, dict]:
    """item id -> the data of its (latest) `routed` event."""
    found: dict[int, dict] = {}
    for chunk in _chunks(list(item_ids)):
        rows = session.exec(
            select(Event.item_id, col(Event.data))
            .where(Event.kind == "routed", col(Event.item_id).in_(chunk))
            .order_by(col(Event.id))
        ).all()
        found.update({item_id: data for item_id, data in rows if item_id is not None})
    return found


def escalations_awaiting_summary(
    session: Session, project_ids: Collection[int], *, done_kinds: Collection[str], limit: int = 50
) -> Sequence[Escalation]:
    """Open escalations without a summary whose item has no summary event yet (done or
    failed: a failure is not retried in a loop)."""
    if not project_ids:
        return []
    attempted = exists().where(
        and_(col(Event.item_id) == Escalation.item_id, col(Event.kind).in_(list(done_kinds)))
    )
    return session.exec(
        select(Escalation)
        .where(
            Escalation.status == "open",
            Escalation.stage == "sign_off",  # summaries are for the leads
            col(Escalation.summary).is_(None),
            col(Escalation.project_id).in_(list(project_ids)),
            not_(attempted),
        )
        .order_by(col(Escalation.id))
        .limit(limit)
    ).all()
