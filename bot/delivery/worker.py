"""The delivery worker: sends outbox rows to Slack, retries what failed, never drops.

Each row is claimed, sent and marked in its own short transactions. A transient error
(429, 5xx, a dropped connection) puts the row back with a due time; a permanent one
(the channel or user is gone) marks it failed so the workflow can reassign.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.clock import SYSTEM_CLOCK, Clock
from bot.delivery import outbox
from bot.slack.outbound import SlackOutbound
from storage import outbox_store
from storage.db import session_scope
from storage.models import Assignment, Escalation, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

PERMANENT_ERRORS = {
    "channel_not_found",
    "user_not_found",
    "account_inactive",
    "user_disabled",
    "is_archived",
    "not_in_channel",
    "cannot_dm_bot",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "message_not_found",
}
MAX_BACKOFF_S = 300.0


class NotReady(Exception):
    """The row depends on another that has not been sent yet (an update before its post)."""


def backoff_seconds(attempts: int) -> float:
    return min(MAX_BACKOFF_S, 1.0 * 2 ** max(0, attempts - 1))


class DeliveryWorker:
    def __init__(
        self,
        engine: Engine,
        outbound: SlackOutbound,
        *,
        clock: Clock = SYSTEM_CLOCK,
        interval_s: float = 0.5,
        batch: int = 20,
        on_permanent_failure: Callable[[OutboxMessage], None] | None = None,
    ) -> None:
        self.engine = engine
        self.outbound = outbound
        self.clock = clock
        self.interval_s = interval_s
        self.batch = batch
        self.worker_id = f"delivery-{uuid.uuid4().hex[:8]}"
        self.on_permanent_failure = on_permanent_failure
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.worker_id, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking new rows; the row in flight finishes first."""
        self._stop.set()
        outbox.wake_delivery()
        if self._thread:
            self._thread.join(timeout)
        with session_scope(self.engine) as session:
            outbox_store.release_claims(session, worker_id=self.worker_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except Exception:  # keep delivering whatever one bad batch did
                log.exception("delivery batch failed")
                sent = 0
            if not sent:
                outbox.wait_for_work(self.interval_s)

    def run_once(self) -> int:
        """Claim and process one batch; return how many rows were handled."""
        with session_scope(self.engine) as session:
            rows = outbox_store.claim_due(
                session, worker_id=self.worker_id, now=self.clock.now(), limit=self.batch
            )
            ids = [row.id for row in rows]
        for row_id in ids:
            if self._stop.is_set():
                break
            self._deliver(row_id)
        return len(ids)

    def drain(self, *, timeout_s: float = 30.0) -> None:
        """Send everything that is due now (tests and the demo)."""
        deadline = time.monotonic() + timeout_s
        while self.run_once() and time.monotonic() < deadline:
            pass

    # -- one row -------------------------------------------------------------------
    def _deliver(self, row_id: int) -> None:
        with session_scope(self.engine) as session:
            row = session.get(OutboxMessage, row_id)
            if (
                row is None
                or row.status != OutboxStatus.SENDING
                or row.claimed_by != self.worker_id
            ):
                return
            uncertain = row.attempts > 0 and row.last_error == "uncertain"
            row.attempts += 1
            row.last_error = "uncertain"  # if we die mid-send, the next claimer checks first
            session.add(row)
            snapshot = row  # expire_on_commit=False keeps it readable after commit
            target = self._resolve_target(session, snapshot)
        try:
            result = self._perform(snapshot, target, check_first=uncertain)
        except NotReady:
            self._reschedule(
                row_id, seconds=1.0, error="waiting for the original message", count=False
            )
            return
        except SlackApiError as exc:
            self._handle_slack_error(row_id, exc)
            return
        except Exception as exc:  # network errors, timeouts: Slack may or may not have it
            log.warning("outbox %s: %s", row_id, type(exc).__name__)
            self._reschedule(row_id, error=f"uncertain: {type(exc).__name__}", uncertain=True)
            return
        self._mark_sent(row_id, result)

    def _resolve_target(self, session, row: OutboxMessage) -> dict | None:  # type: ignore[no-untyped-def]
        target = row.payload.get("target") or row.payload.get("thread_of")
        if not target:
            return None
        if "assignment_id" in target:
            assignment = session.get(Assignment, target["assignment_id"])
            if assignment is None or assignment.message_ts is None:
                return None
            return {"channel": assignment.channel, "ts": assignment.message_ts}
        if "escalation_id" in target:
            escalation = session.get(Escalation, target["escalation_id"])
            if escalation is None or escalation.message_ts is None:
                return None
            return {"channel": escalation.channel, "ts": escalation.message_ts}
        return {"channel": target["channel"], "ts": target["ts"]}

    def _perform(self, row: OutboxMessage, target: dict | None, *, check_first: bool) -> dict:
        payload = row.payload
        metadata = {
            "event_type": "quorum_outbox",
            "event_payload": {"idempotency_key": row.idempotency_key},
        }
        if row.operation in (outbox.POST_DM, outbox.POST_MESSAGE):
            if row.operation == outbox.POST_DM:
                channel = self.outbound.open_dm(payload["user"])
            else:
                channel = payload["channel"]
            thread_ts = payload.get("thread_ts")
            if "thread_of" in payload:
                if target is None:
                    raise NotReady
                thread_ts = target["ts"]
            if check_first:
                found = self.outbound.find_message_by_key(channel, row.idempotency_key)
                if found is not None:
                    return {"channel": channel, "ts": found["ts"], "recovered": True}
            return self.outbound.post_message(
                channel,
                text=payload["text"],
                blocks=payload.get("blocks"),
                thread_ts=thread_ts,
                metadata=metadata,
            )
        if row.operation == outbox.UPDATE_MESSAGE:
            if target is None:
                raise NotReady
            return self.outbound.update_message(
                target["channel"], target["ts"], text=payload["text"], blocks=payload["blocks"]
            )
        if row.operation == outbox.PUBLISH_HOME:
            self.outbound.publish_home(payload["user"], payload["view"])
            return {}
        raise ValueError(f"unknown outbox operation {row.operation!r}")

    # -- bookkeeping ---------------------------------------------------------------
    def _mark_sent(self, row_id: int, result: dict) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            row = session.get(OutboxMessage, row_id)
            row.status = OutboxStatus.SENT
            row.sent_at = now
            row.result = result
            row.last_error = None
            row.claimed_until = None
            session.add(row)
            if row.operation in (outbox.POST_DM, outbox.POST_MESSAGE) and "ts" in result:
                self._remember_message(session, row, result)

    def _remember_message(self, session, row: OutboxMessage, result: dict) -> None:  # type: ignore[no-untyped-def]
        if "thread_of" in row.payload or row.payload.get("thread_ts"):
            return
        if row.assignment_id is not None:
            assignment = session.get(Assignment, row.assignment_id)
            assignment.channel, assignment.message_ts = result["channel"], result["ts"]
            session.add(assignment)
        elif row.escalation_id is not None:
            escalation = session.get(Escalation, row.escalation_id)
            escalation.channel, escalation.message_ts = result["channel"], result["ts"]
            session.add(escalation)

    def _handle_slack_error(self, row_id: int, exc: SlackApiError) -> None:
        error = exc.response.get("error", "unknown_error") if exc.response else "unknown_error"
        if exc.response is not None and exc.response.status_code == 429:
            retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
            self._reschedule(row_id, seconds=retry_after, error="ratelimited", count=False)
        elif error in PERMANENT_ERRORS:
            self._fail(row_id, error)
        else:
            self._reschedule(row_id, error=error)

    def _reschedule(
        self,
        row_id: int,
        *,
        error: str,
        seconds: float | None = None,
        count: bool = True,
        uncertain: bool = False,
    ) -> None:
        with session_scope(self.engine) as session:
            row = session.get(OutboxMessage, row_id)
            if not count:
                row.attempts = max(0, row.attempts - 1)
            delay = seconds if seconds is not None else backoff_seconds(row.attempts)
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = self.clock.now() + timedelta(seconds=delay)
            row.last_error = "uncertain" if uncertain else error
            row.claimed_by = None
            row.claimed_until = None
            session.add(row)

    def _fail(self, row_id: int, error: str) -> None:
        with session_scope(self.engine) as session:
            row = session.get(OutboxMessage, row_id)
            row.status = OutboxStatus.FAILED
            row.last_error = error
            row.claimed_until = None
            session.add(row)
        log.warning("outbox %s failed permanently: %s", row_id, error)
        if self.on_permanent_failure:
            self.on_permanent_failure(row)
