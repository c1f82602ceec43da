"""Webhook events, emitted inside the transaction of the change they announce.

Emitting writes one WebhookDelivery row per live webhook of the project that subscribed
to the event's type, so the event is committed or rolled back with its cause (the
outbox pattern, as for Slack calls). It costs one small SELECT (the project's live
webhooks) and, when any is subscribed, one INSERT; the sender (bot/webhooks/sender.py)
is woken after the commit.

The body is `{"id", "type", "created_at", "project", "data"}`; the id (`evt_` + 32 hex)
is the receiver's dedupe key, the same for every webhook and every retry. For
`label.signed_off` the row keeps the label's id and `data` stays null here: the sender
fills it with the label's `labels` export record before the first attempt (building
provenance is not a cost the reviewer's click should pay) and keeps it, so every retry
carries the same body.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from bot.audit.provenance import iso
from storage import webhook_queries
from storage.models import Escalation, Item, ItemStatus, Label
from storage.webhook_queries import DeliveryStatus


class EventType(StrEnum):
    LABEL_SIGNED_OFF = "label.signed_off"  # any sign-off: consensus, gold, lead, auto
    ITEM_ESCALATED = "item.escalated"
    ITEM_FAILED = "item.failed"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)


class UnknownEventTypes(ValueError):
    """Event names a webhook cannot subscribe to; the message names them."""


def parse_event_types(text: str | Iterable[str] | None) -> list[str]:
    """The event types a subscription names ("a,b" or a list), in EVENT_TYPES order;
    every type when none is named."""
    if text is None:
        return list(EVENT_TYPES)
    names = text.split(",") if isinstance(text, str) else list(text)
    wanted = {name.strip() for name in names if name.strip()}
    if not wanted:
        return list(EVENT_TYPES)
    unknown = sorted(wanted - set(EVENT_TYPES))
    if unknown:
        raise UnknownEventTypes(
            f"unknown event type{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            f"choose among {', '.join(EVENT_TYPES)}"
        )
    return [name for name in EVENT_TYPES if name in wanted]


# -- waking the sender --------------------------------------------------------------------

_wake = threading.Event()
_WAKE_REGISTERED = "quorum.webhooks.wake"  # session.info: the after-commit wake is set up


def wake_senders() -> None:
    """Nudge this process's webhook sender: something may be due now."""
    _wake.set()


def wait_for_events(timeout: float) -> None:
    _wake.wait(timeout)
    _wake.clear()


def _wake_after_commit(session: Session) -> None:
    session.info.pop(_WAKE_REGISTERED, None)
    wake_senders()


# -- emitting -----------------------------------------------------------------------------


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def emit(
    session: Session,
    event_type: EventType,
    *,
    project_id: int,
    now: datetime,
    data: dict[str, Any] | None,
    label_id: int | None = None,
) -> str | None:
    """Queue the event for every live webhook of the project subscribed to its type, in
    the caller's transaction; the event's id, or None when nobody is subscribed."""
    subscribers = [
        s for s in webhook_queries.live_webhooks(session, project_id) if event_type in s.events
    ]
    if not subscribers:
        return None
    event_id = new_event_id()
    body = {
        "id": event_id,
        "type": event_type.value,
        "created_at": iso(now),
        "project": subscribers[0].project,
        "data": data,
    }
    webhook_queries.insert_deliveries(
        session,
        [
            {
                "webhook_id": s.webhook_id,
                "event_id": event_id,
                "event_type": event_type.value,
                "body": body,
                "label_id": label_id,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for s in subscribers
        ],
    )
    if not session.info.get(_WAKE_REGISTERED):  # once per transaction
        session.info[_WAKE_REGISTERED] = True
        event.listen(session, "after_commit", _wake_after_commit, once=True)
    return event_id


def label_signed_off(session: Session, label: Label, *, now: datetime) -> str | None:
    """`label.signed_off`: its data, the label's `labels` export record, is built by the
    sender (see the module's docstring)."""
    assert label.id is not None  # flushed by sign_off
    return emit(
        session,
        EventType.LABEL_SIGNED_OFF,
        project_id=label.project_id,
        now=now,
        data=None,
        label_id=label.id,
    )


def item_escalated(
    session: Session,
    item: Item,
    escalation: Escalation,
    *,
    agreement: float | None,
    tied: bool,
    now: datetime,
) -> str | None:
    """`item.escalated`: the item went to the leads' channel for a decision."""
    return emit(
        session,
        EventType.ITEM_ESCALATED,
        project_id=item.project_id,
        now=now,
        data={
            "id": item.external_id,
            "status": ItemStatus.ESCALATED,
            "reason": escalation.reason,
            "agreement": agreement,
            "tied": tied,
            "escalated_at": iso(now),
            "metadata": item.meta,
        },
    )


def item_failed(session: Session, item: Item, *, reason: str, now: datetime) -> str | None:
    """`item.failed`: the item cannot be sent to reviewers; `reason` says why."""
    return emit(
        session,
        EventType.ITEM_FAILED,
        project_id=item.project_id,
        now=now,
        data={
            "id": item.external_id,
            "status": ItemStatus.FAILED,
            "reason": reason,
            "failed_at": iso(now),
            "metadata": item.meta,
        },
    )
