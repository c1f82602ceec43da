"""Writing Slack calls to the outbox, in the caller's transaction.

The workflow never talks to Slack directly: it records what it wants said here, in the
same transaction as the state change that caused it, and the delivery worker sends it.
A crash between commit and send therefore loses nothing, and a rollback sends nothing.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from storage import outbox_store

# Operations the delivery worker knows how to perform.
POST_DM = "post_dm"  # open the reviewer's DM, then chat.postMessage
POST_MESSAGE = "post_message"  # chat.postMessage to a channel (optionally in a thread)
UPDATE_MESSAGE = "update_message"  # chat.update of a message we posted earlier
PUBLISH_HOME = "publish_home"  # views.publish of a user's App Home
SHARE_FILE = "share_file"  # upload a stored medium into a thread (Slack's own player)

# How long a stale App Home waits for more changes before it is published: a reviewer
# answering one item after another gets one publish every few seconds, not one each.
# Opening the tab publishes at once (handlers/events/app_home.py), so this is only how
# stale a Home left open gets; views.publish is Tier 4 (about 100/min per workspace),
# which 50 reviewers answering at once would pass at one publish each per 3 s.
HOME_REFRESH_DELAY = timedelta(seconds=10)

# Lanes: the delivery worker claims every due row of the interactive lane (a person is
# waiting: the DM they clicked, their App Home) before any row of the bulk lane (review
# DMs after an import, reminders, digests).
LANE_INTERACTIVE = 0
LANE_BULK = 1

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
    new: bool = False,
    lane: int = LANE_BULK,
    due: datetime | None = None,
) -> None:
    """Queue one Slack call; a second enqueue with the same key is a no-op.

    The key names the intent ("review:assignment:12"), so redelivered clicks or retried
    jobs cannot queue the same message twice. With `new`, the caller knows the key is
    unused (it names a row this transaction created, such as the answer it recorded) and
    the look-up is skipped; the unique key still refuses a second row.
    """
    if not new and outbox_store.has_key(session, key):
        return
    outbox_store.insert_message(
        session,
        key=key,
        operation=operation,
        payload=payload,
        due=due or now,
        now=now,
        lane=lane,
        item_id=item_id,
        assignment_id=assignment_id,
        escalation_id=escalation_id,
    )


def enqueue_update(
    session: Session,
    *,
    key: str,
    now: datetime,
    target: dict[str, Any],
    text: str,
    blocks: list[dict],
    item_id: int | None = None,
    new: bool = False,
    lane: int = LANE_INTERACTIVE,
    due: datetime | None = None,
) -> None:
    """Queue a chat.update (interactive lane unless told otherwise). `target` names what to update ({"assignment_id": 3} or
    {"escalation_id": 4} or {"channel", "ts"}); it is resolved at send time, because the
    original message may not have been sent yet when the update is queued."""
    payload = {"target": target, "text": text, "blocks": blocks}
    enqueue(
        session,
        UPDATE_MESSAGE,
        payload,
        key=key,
        now=now,
        item_id=item_id,
        new=new,
        lane=lane,
        due=due,
    )


def home_key(user_id: str) -> str:
    """The key of a user's App Home publish that has not been taken for sending yet."""
    return f"home:{user_id}"


def publish_home_later(session: Session, user_id: str, *, now: datetime) -> None:
    """Mark the user's App Home stale: one publish_home row, due HOME_REFRESH_DELAY from
    now, or the one still waiting (a burst of changes leaves one publish). The view is
    not built here: the delivery worker builds it from the database when it sends, so
    the Home shows the state after the last change, and building it costs the change's
    transaction nothing."""
    outbox_store.upsert_pending(
        session,
        key=home_key(user_id),
        operation=PUBLISH_HOME,
        payload={"user": user_id},
        due=now + HOME_REFRESH_DELAY,
        now=now,
        lane=LANE_INTERACTIVE,
    )
