"""Webhooks, their deliveries (the outbox of webhooks) and the attempts made to send them.

Deliveries to one webhook go in order: its *head* (the lowest-id delivery still pending)
first. A sender claims a *run*: for a webhook whose head is due, the head and the pending
deliveries after it that are due too (up to a size), leased together in one transaction
(FOR UPDATE on PostgreSQL, SKIP LOCKED for the heads; on SQLite the claiming UPDATE
re-checks each row and a run is cut at the first row it could not take). So however
many sender threads and processes there are, one webhook never has two deliveries in
flight and a delivery is never sent twice while its lease holds. What a run did not
send (after a failure, or when its sender stops) is released, to be claimed again in
order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, and_, bindparam, func, insert, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage import in_lists
from storage.models import Project, UTCDateTime, Webhook, WebhookAttempt, WebhookDelivery


class DeliveryStatus:
    PENDING = "pending"  # waiting for its turn, being sent, or retrying
    DELIVERED = "delivered"  # a 2xx came back
    FAILED = "failed"  # gave up (QUORUM_WEBHOOK_GIVE_UP_H after the event)
    DROPPED = "dropped"  # its webhook was removed before it went out


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# -- webhooks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscriber:
    """A live webhook of a project, as emitting an event needs it."""

    webhook_id: int
    events: list[str]
    project: str


def live_webhooks(session: Session, project_id: int) -> list[Subscriber]:
    """The project's webhooks not removed, with the project's name: one small SELECT."""
    rows = session.exec(
        select(Webhook.id, Webhook.events, Project.name)
        .join(Project, col(Project.id) == col(Webhook.project_id))
        .where(col(Webhook.project_id) == project_id, col(Webhook.removed_at).is_(None))
        .order_by(col(Webhook.id))
    ).all()
    return [
        Subscriber(webhook_id=w, events=list(e or []), project=p)
        for w, e, p in rows
        if w is not None  # a primary key: always set once read
    ]


def add_webhook(
    session: Session, *, project_id: int, url: str, events: list[str], secret: str, now: datetime
) -> Webhook:
    webhook = Webhook(project_id=project_id, url=url, events=events, secret=secret, created_at=now)
    session.add(webhook)
    session.flush()
    return webhook


@dataclass(frozen=True)
class WebhookSummary:
    """A webhook as `quorum webhook list` shows it (never its secret)."""

    id: int
    project: str
    url: str
    events: list[str]
    created_at: datetime
    pending: int
    failed: int


def webhook_summaries(session: Session, *, project_id: int | None = None) -> list[WebhookSummary]:
    """Live webhooks, oldest first, with their pending and failed delivery counts."""
    query = (
        select(Webhook, Project.name)
        .join(Project, col(Project.id) == col(Webhook.project_id))
        .where(col(Webhook.removed_at).is_(None))
        .order_by(col(Webhook.id))
    )
    if project_id is not None:
        query = query.where(col(Webhook.project_id) == project_id)
    hooks = session.exec(query).all()
    if not hooks:
        return []
    counts: dict[tuple[int, str], int] = {}
    for webhook_id, status, count in session.exec(
        select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count())
        .where(
            col(WebhookDelivery.status).in_([DeliveryStatus.PENDING, DeliveryStatus.FAILED]),
            col(WebhookDelivery.webhook_id).in_([hook.id for hook, _ in hooks]),
        )
        .group_by(col(WebhookDelivery.webhook_id), col(WebhookDelivery.status))
    ).all():
        counts[(webhook_id, status)] = count
    summaries = []
    for hook, project in hooks:
        assert hook.id is not None  # read from the table
        summaries.append(
            WebhookSummary(
                id=hook.id,
                project=project,
                url=hook.url,
                events=list(hook.events or []),
                created_at=hook.created_at,
                pending=counts.get((hook.id, DeliveryStatus.PENDING), 0),
                failed=counts.get((hook.id, DeliveryStatus.FAILED), 0),
            )
        )
    return summaries


def remove_webhook(session: Session, webhook_id: int, *, now: datetime) -> int | None:
    """Remove a live webhook: no new deliveries, and its pending ones dropped (returned:
    how many). None when there is no live webhook with this id."""
    webhook = session.exec(
        select(Webhook).where(col(Webhook.id) == webhook_id).with_for_update()
    ).first()
    if webhook is None or webhook.removed_at is not None:
        return None
    webhook.removed_at = now
    session.add(webhook)
    result = session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.webhook_id) == webhook_id,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.DROPPED, last_error="webhook removed")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- deliveries ---------------------------------------------------------------------------


def insert_deliveries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """New pending deliveries, due at once (one INSERT for all of them)."""
    if rows:
        session.execute(insert(WebhookDelivery), list(rows))


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(
        col(WebhookDelivery.claimed_until).is_(None), col(WebhookDelivery.claimed_until) < now
    )


@dataclass(frozen=True)
class Claimed:
    """One delivery of a run, as it was when claimed."""

    delivery_id: int
    event_id: str
    event_type: str
    body: dict
    label_id: int | None
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Run:
    """A webhook's oldest pending deliveries, due now, leased together to be sent in order
    by one sender: the head first, then each one after the one before it is delivered."""

    claim: str  # the claim's own id (`claimed_by`): whoever still holds it may record it
    webhook_id: int
    project_id: int
    url: str
    secret: str
    claimed_until: datetime
    deliveries: tuple[Claimed, ...]


def _due_heads(session: Session, *, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(webhook id, head id) of up to `limit` webhooks whose head is due and unleased,
    oldest due first: the one query an idle sender makes per interval."""
    other = aliased(WebhookDelivery)
    head = (
        select(other.id)
        .where(col(other.webhook_id) == Webhook.id, col(other.status) == DeliveryStatus.PENDING)
        .order_by(col(other.id))
        .limit(1)
        .correlate(Webhook)
        .scalar_subquery()
    )
    query = (
        select(WebhookDelivery.webhook_id, WebhookDelivery.id)
        .select_from(Webhook)
        .join(WebhookDelivery, col(WebhookDelivery.id) == head)
        .where(
            col(Webhook.removed_at).is_(None),
            col(WebhookDelivery.next_attempt_at) <= now,
            _unleased(now),
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
    )
    if _postgres(session):
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    return [
        (webhook_id, head_id)
        for webhook_id, head_id in session.exec(query).all()
        if head_id is not None  # a primary key: always set once read
    ]


def _run_ids(
    session: Session, *, webhook_id: int, head_id: int, now: datetime, run_size: int
) -> list[int]:
    """The ids of the run that starts at the webhook's head: its pending deliveries in
    order, up to the first one not due; none when any of them is leased (another sender
    is still sending this webhook: a delivery committed late has the lower id)."""
    query = (
        select(WebhookDelivery.id, WebhookDelivery.next_attempt_at, WebhookDelivery.claimed_until)
        .where(
            col(WebhookDelivery.webhook_id) == webhook_id,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
        )
        .order_by(col(WebhookDelivery.id))
        .limit(run_size)
    )
    if _postgres(session):
        query = query.with_for_update(of=WebhookDelivery)  # not SKIP: a gap breaks the order
    ids: list[int] = []
    for delivery_id, due, leased_until in session.exec(query).all():
        if leased_until is not None and leased_until >= now:
            return []
        if due > now or delivery_id is None:
            break
        ids.append(delivery_id)
    return ids if ids and ids[0] == head_id else []


def claim_runs(
    session: Session, *, claimer: str, now: datetime, limit: int, run_size: int, lease_s: float
) -> list[Run]:
    """Lease a run of up to `run_size` deliveries of each of up to `limit` webhooks whose
    head is due, in one transaction. `claimer` must be unique to this call: it is what
    tells this claim's rows from rows another call (of any thread or process) claimed
    meanwhile. A run is cut where a row could not be claimed, so it never has a gap."""
    heads = _due_heads(session, now=now, limit=limit)
    if not heads:
        return []
    planned = {
        webhook_id: ids
        for webhook_id, head_id in heads
        if (
            ids := _run_ids(
                session, webhook_id=webhook_id, head_id=head_id, now=now, run_size=run_size
            )
        )
    }
    wanted = [delivery_id for ids in planned.values() for delivery_id in ids]
    if not wanted:
        return []
    until = now + timedelta(seconds=lease_s)
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id).in_(wanted),
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
            _unleased(now),
        )
        .values(claimed_by=claimer, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    rows = session.exec(
        select(WebhookDelivery, Webhook)
        .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
        .where(
            col(WebhookDelivery.id).in_(wanted),
            col(WebhookDelivery.claimed_by) == claimer,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
        )
        .execution_options(populate_existing=True)
    ).all()
    got = {delivery.id: (delivery, webhook) for delivery, webhook in rows}
    runs: list[Run] = []
    cut: list[int] = []
    for webhook_id, ids in planned.items():
        taken = list(itertools.takewhile(lambda delivery_id: delivery_id in got, ids))
        cut += [delivery_id for delivery_id in ids[len(taken) :] if delivery_id in got]
        if not taken:
            continue
        webhook = got[taken[0]][1]
        assert webhook.id is not None  # read from the table
        runs.append(
            Run(
                claim=claimer,
                webhook_id=webhook_id,
                project_id=webhook.project_id,
                url=webhook.url,
                secret=webhook.secret,
                claimed_until=until,
                deliveries=tuple(_claimed(got[delivery_id][0]) for delivery_id in taken),
            )
        )
    if cut:
        release_claims(session, claim=claimer, delivery_ids=cut)
    return runs


def _claimed(delivery: WebhookDelivery) -> Claimed:
    assert delivery.id is not None  # read from the table
    return Claimed(
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        body=delivery.body,
        label_id=delivery.label_id,
        attempts=delivery.attempts,
        created_at=delivery.created_at,
    )


def extend_claims(
    session: Session, *, claim: str, delivery_ids: Sequence[int], until: datetime
) -> None:
    """Lease the rest of a run longer (a long run to a slow endpoint)."""
    if delivery_ids:
        session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id).in_(list(delivery_ids)),
                col(WebhookDelivery.claimed_by) == claim,
                col(WebhookDelivery.status) == DeliveryStatus.PENDING,
            )
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )


def release_claims(session: Session, *, claim: str, delivery_ids: Sequence[int]) -> None:
    """Hand back deliveries claimed but not sent (the rest of a run after a failure, a
    sender stopping): the next claim, of any process, takes them in order."""
    if delivery_ids:
        session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id).in_(list(delivery_ids)),
                col(WebhookDelivery.claimed_by) == claim,
            )
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def _fill_statement() -> Any:
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]  # set by SQLAlchemy's mapping
    return (
        update(table)
        .where(
            table.c.id == bindparam("delivery"),
            or_(
                table.c.claimed_by == bindparam("claim"),
                and_(table.c.claimed_by.is_(None), table.c.attempts == 0),
            ),
        )
        .values(body=bindparam("filled"))
    )


_FILL = _fill_statement()  # built once: executed with one parameter set per delivery


def fill_event_bodies(
    session: Session, *, claim: str, bodies: dict[str, tuple[int, dict]]
) -> set[int]:
    """Store the complete bodies of label.signed_off events (event id -> (label id, body))
    on this claim's deliveries of them, and on every other webhook's delivery of them that
    nobody holds and nobody tried yet; a delivery another sender holds keeps the body it
    is sending. Returns the ids of the deliveries filled."""
    if not bodies:
        return set()
    dialect = session.get_bind().dialect.name
    label_ids = sorted({label_id for label_id, _ in bodies.values()})
    targets = select(WebhookDelivery.id, WebhookDelivery.event_id).where(
        in_lists.one_of(col(WebhookDelivery.label_id), "label_ids", dialect),
        col(WebhookDelivery.status) == DeliveryStatus.PENDING,
        # The claim's own, even after an attempt (one whose data could not be built);
        # another webhook's only when nobody holds it and nothing was sent for it yet.
        or_(
            col(WebhookDelivery.claimed_by) == claim,
            and_(col(WebhookDelivery.claimed_by).is_(None), col(WebhookDelivery.attempts) == 0),
        ),
    )
    if dialect == "postgresql":
        # Rows another transaction holds are someone else's to fill: never wait for them.
        targets = targets.with_for_update(skip_locked=True, of=WebhookDelivery)
    found = session.connection().execute(targets, {"label_ids": in_lists.bound(label_ids, dialect)})
    rows = [(delivery_id, event_id) for delivery_id, event_id in found if event_id in bodies]
    if rows:
        # The UPDATE checks again: on SQLite a row unclaimed when read may be claimed now.
        session.connection().execute(
            _FILL,
            [
                {"delivery": delivery_id, "claim": claim, "filled": bodies[event_id][1]}
                for delivery_id, event_id in rows
            ],
        )
    return {delivery_id for delivery_id, _ in rows}


class Recorded(StrEnum):
    """What recording an attempt found of the delivery's claim."""

    HELD = "held"  # the claim held it: its new state is stored
    REMOVED = "removed"  # held, but its webhook was removed meanwhile (now dropped)
    LOST = "lost"  # another claim has it (this one's lease ran out): only the attempt is kept


def _record_statements() -> tuple[Any, Any, Any]:
    attempt = WebhookAttempt.__table__  # type: ignore[attr-defined]  # set by SQLAlchemy's mapping
    delivery = WebhookDelivery.__table__  # type: ignore[attr-defined]  # set by SQLAlchemy's mapping
    held = (delivery.c.id == bindparam("delivery"), delivery.c.claimed_by == bindparam("claim"))
    state: dict[str, Any] = {
        "attempts": bindparam("attempts"),
        "last_status": bindparam("last_status"),
        "last_error": bindparam("last_error"),
        "claimed_by": None,
        "claimed_until": None,
    }
    pending = (
        update(delivery)
        .where(*held, delivery.c.status == DeliveryStatus.PENDING)
        .values(
            **state,
            status=bindparam("new_status"),
            next_attempt_at=func.coalesce(
                bindparam("next", type_=UTCDateTime), delivery.c.next_attempt_at
            ),
            delivered_at=bindparam("delivered_at", type_=UTCDateTime),
        )
    )
    dropped = (  # sent while its webhook was removed: delivered if it got through
        update(delivery)
        .where(*held)
        .values(
            **state,
            status=func.coalesce(bindparam("delivered_status", type_=String), delivery.c.status),
            delivered_at=bindparam("delivered_at", type_=UTCDateTime),
        )
    )
    return attempt.insert(), pending, dropped


_ADD_ATTEMPT, _RECORD_PENDING, _RECORD_DROPPED = _record_statements()  # built once


def record_attempt(
    session: Session,
    *,
    delivery_id: int,
    claim: str,
    attempted_at: datetime,
    status: int | None,
    error: str | None,
    duration_ms: int,
    attempts: int,
    new_status: str,
    next_attempt_at: datetime | None,
    now: datetime,
) -> Recorded:
    """One attempt, and, when `claim` still holds the delivery, its new state: `attempts`
    made, `new_status` (delivered, failed, or pending again with `next_attempt_at`).
    Two statements when the claim holds it (the common case)."""
    connection = session.connection()
    connection.execute(
        _ADD_ATTEMPT,
        {
            "delivery_id": delivery_id,
            "attempted_at": attempted_at,
            "status": status,
            "error": error,
            "duration_ms": duration_ms,
        },
    )
    delivered = new_status == DeliveryStatus.DELIVERED
    values = {
        "delivery": delivery_id,
        "claim": claim,
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
        "delivered_at": now if delivered else None,
    }
    done = connection.execute(
        _RECORD_PENDING, {**values, "new_status": new_status, "next": next_attempt_at}
    )
    if done.rowcount:
        return Recorded.HELD
    done = connection.execute(
        _RECORD_DROPPED, {**values, "delivered_status": new_status if delivered else None}
    )
    return Recorded.REMOVED if done.rowcount else Recorded.LOST


# -- what `quorum webhook log` shows ------------------------------------------------------


@dataclass(frozen=True)
class AttemptEntry:
    attempted_at: datetime
    webhook_id: int
    project: str
    event_id: str
    event_type: str
    status: int | None
    error: str | None
    duration_ms: int | None
    delivery_status: str
    next_attempt_at: datetime


def attempt_log(
    session: Session, *, project_id: int | None = None, limit: int = 50
) -> list[AttemptEntry]:
    """The latest attempts, newest first, with their delivery's state."""
    query = (
        select(WebhookAttempt, WebhookDelivery, Webhook.project_id, Project.name)
        .join(WebhookDelivery, col(WebhookDelivery.id) == col(WebhookAttempt.delivery_id))
        .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
        .join(Project, col(Project.id) == col(Webhook.project_id))
        .order_by(col(WebhookAttempt.id).desc())
        .limit(limit)
    )
    if project_id is not None:
        query = query.where(col(Webhook.project_id) == project_id)
    return [
        AttemptEntry(
            attempted_at=attempt.attempted_at,
            webhook_id=delivery.webhook_id,
            project=project,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=attempt.status,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
            delivery_status=delivery.status,
            next_attempt_at=delivery.next_attempt_at,
        )
        for attempt, delivery, _, project in session.exec(query).all()
    ]
