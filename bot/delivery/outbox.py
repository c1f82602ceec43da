"""Writing Slack calls to the outbox, in the caller's transaction.

The workflow never talks to Slack directly: it records what it wants said here, in the
same transaction as the state change that caused it, and the delivery worker sends it.
A crash between commit and send therefore loses nothing, and a rollback sends nothing.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from storage.models import OutboxMessage

# Operations the delivery worker knows how to perform.
POST_DM = "post_dm"  # open the reviewer's DM, then chat.postMessage
POST_MESSAGE = "post_message"  # chat.postMessage to a channel (optionally in a thread)
UPDATE_MESSAGE = "update_message"  # chat.update of a message we posted earlier
PUBLISH_HOME = "publish_home"  # views.publish of a user's App Home

_wake = threading.Event()


def wake_delivery() -> None:
    """Nudge an in-process delivery worker so new messages go out without waiting a tick."""
    _wake.set()


def wait_for_work(timeout: float) -> None:
    _wake.wait(timeout)
    _wake.clear()


def enqueue(
    session: Session,
    operation: str,
    payload: dict[str, Any],
    *,
    key: str,
    now: datetime,
    item_id: int | None = None,
    assignment_id: int | None = None,
    escalation_id: int | None = None,
) -> OutboxMessage:
    """Queue one Slack call; a second enqueue with the same key is a no-op.

    The key names the intent ("review:assignment:12"), so redelivered clicks or retried
    jobs cannot queue the same message twice.
    """
    existing = session.exec(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
    ).first()
    if existing is not None:
        return existing
    message = OutboxMessage(
        idempotency_key=key,
        operation=operation,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
        item_id=item_id,
        assignment_id=assignment_id,
        escalation_id=escalation_id,
    )
    session.add(message)
    session.flush()
    return message


def enqueue_update(
    session: Session,
    *,
    key: str,
    now: datetime,
    target: dict[str, Any],
    text: str,
    blocks: list[dict],
    item_id: int | None = None,
) -> OutboxMessage:
    """Queue a chat.update. `target` names what to update ({"assignment_id": 3} or
    {"escalation_id": 4} or {"channel", "ts"}); it is resolved at send time, because the
    original message may not have been sent yet when the update is queued."""
    payload = {"target": target, "text": text, "blocks": blocks}
    return enqueue(
        session,
        UPDATE_MESSAGE,
        payload,
        key=key,
        now=now,
        item_id=item_id,
    )
