"""Webhooks, their deliveries (the outbox of webhooks) and the attempts made to send them.

A delivery is sent only when it is its webhook's *head*: the lowest-id delivery of that
webhook still pending. Claiming takes heads alone, with a lease (FOR UPDATE SKIP LOCKED
on PostgreSQL; on SQLite the claiming UPDATE re-checks the row), so however many sender
threads and processes there are, one webhook never has two deliveries in flight and a
delivery is never sent twice while its lease holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, insert, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.models import Project, Webhook, WebhookAttempt, WebhookDelivery


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
    """A delivery taken for one attempt, with what sending it needs."""

    claim: str  # the claim's own id (`claimed_by`): whoever still holds it may record it
    delivery_id: int
    webhook_id: int
    project_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: dict
    label_id: int | None
    attempts: int
    created_at: datetime


def claim_heads(
    session: Session, *, claimer: str, now: datetime, limit: int, lease_s: float
) -> list[Claimed]:
    """Lease up to `limit` due heads (one per webhook at most), oldest due first.
    `claimer` must be unique to this call: it is what tells this claim's rows from rows
    another call (of any thread or process) claimed meanwhile."""
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
        select(WebhookDelivery.id)
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
    candidates = list(session.exec(query).all())
    if not candidates:
        return []
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id).in_(candidates),
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
            _unleased(now),
        )
        .values(claimed_by=claimer, claimed_until=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    rows = session.exec(
        select(WebhookDelivery, Webhook)
        .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
        .where(
            col(WebhookDelivery.id).in_(candidates),
            col(WebhookDelivery.claimed_by) == claimer,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .execution_options(populate_existing=True)
    ).all()
    claimed = []
    for delivery, webhook in rows:
        assert delivery.id is not None  # read from the table
        claimed.append(
            Claimed(
                claim=claimer,
                delivery_id=delivery.id,
                webhook_id=delivery.webhook_id,
                project_id=webhook.project_id,
                url=webhook.url,
                secret=webhook.secret,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                body=delivery.body,
                label_id=delivery.label_id,
                attempts=delivery.attempts,
                created_at=delivery.created_at,
            )
        )
    return claimed


def lock_delivery(session: Session, delivery_id: int) -> WebhookDelivery | None:
    return session.exec(
        select(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def fill_event_body(
    session: Session, *, delivery_id: int, label_id: int, event_id: str, body: dict
) -> None:
    """Store the complete body of one label.signed_off event on the caller's delivery (its
    lock held) and on every other webhook's delivery of it that nobody holds and nobody
    tried yet; a delivery another sender holds keeps the body it is sending."""
    session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.label_id) == label_id,
            col(WebhookDelivery.event_id) == event_id,
            col(WebhookDelivery.attempts) == 0,
            or_(
                col(WebhookDelivery.id) == delivery_id,
                col(WebhookDelivery.claimed_by).is_(None),
            ),
        )
        .values(body=body)
        .execution_options(synchronize_session=False)
    )


def release_claims(session: Session, *, claims: Sequence[tuple[int, str]]) -> None:
    """Hand back deliveries claimed but never sent (a sender stopping): (id, claim) each."""
    for delivery_id, claim in claims:
        session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == delivery_id,
                col(WebhookDelivery.claimed_by) == claim,
            )
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def add_attempt(
    session: Session,
    *,
    delivery_id: int,
    attempted_at: datetime,
    status: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            attempted_at=attempted_at,
            status=status,
            error=error,
            duration_ms=duration_ms,
        )
    )


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
