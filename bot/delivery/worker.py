"""The delivery worker: sends outbox rows to Slack, exactly once, never dropping one.

Per row, in short transactions of their own:
1. claim (storage.outbox_store.claim_due: SKIP LOCKED, with a lease);
2. prepare, under the row's lock: drop it if it is obsolete (its assignment moved on),
   hold it if it waits for another message, for the reviewer's work day, or for a
   pacing slot (bot/delivery/pacing.py); otherwise count the attempt and mark it
   "uncertain" *before* calling Slack;
3. send; a post retried after an uncertain attempt (timeout, dropped connection, 5xx,
   or a crash between Slack's answer and our commit) first looks for the idempotency
   key in the channel's message metadata and only posts if it is not there;
4. record the result: sent (plus a `message_sent` audit event when it belongs to an
   item), retry later (429: the whole method pauses for Retry-After; 5xx and network
   errors: exponential backoff with jitter), or failed for good, in which case an
   unreachable reviewer's item is handed to someone else (bot/delivery/reassignment.py).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from bot.audit.chain import record_event
from bot.config.project import Timing
from bot.delivery import outbox
from bot.delivery.media import MediaFiles, MediaUnavailable, MediaWait
from bot.delivery.pacing import Decision, Pacer, buckets_for
from bot.delivery.reassignment import (
    fail_unshowable_item,
    reassign_unreachable,
    review_request_key,
)
from bot.delivery.reminders import is_reminder_key
from bot.delivery.shown import flush_shown
from bot.delivery.work_hours import TZ_REFRESH, next_work_start, reviewer_zone
from bot.runtime.clock import SYSTEM_CLOCK, Clock
from bot.slack.outbound import SlackOutbound
from bot.workflow.project_versions import project_config
from bot.workflow.review.queue import home_view
from storage import outbox_store, queries
from storage.db import session_scope
from storage.models import (
    Assignment,
    AssignmentStatus,
    Escalation,
    Item,
    ItemStatus,
    OutboxMessage,
    OutboxStatus,
    Project,
    Reviewer,
)

log = logging.getLogger(__name__)

POSTS = (outbox.POST_DM, outbox.POST_MESSAGE)
KNOWN_OPERATIONS = (*POSTS, outbox.UPDATE_MESSAGE, outbox.PUBLISH_HOME, outbox.SHARE_FILE)
# The person cannot be reached at all: their review goes to someone else.
UNREACHABLE_ERRORS = {
    "channel_not_found",
    "user_not_found",
    "account_inactive",
    "user_disabled",
    "cannot_dm_bot",
    "is_archived",
    "not_in_channel",
}
# The message itself cannot be shown: a review request failing so fails its item.
UNSHOWABLE_ERRORS = {
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "no_text",
    "media_unavailable",  # a medium it shows cannot be uploaded (bot/delivery/media.py)
}
PERMANENT_ERRORS = (
    UNREACHABLE_ERRORS
    | UNSHOWABLE_ERRORS
    | {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "message_not_found",
        "cant_update_message",
        "invalid_metadata_format",
    }
)
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
OBSOLETE_ERRORS = {"hash_conflict"}  # a newer view was published meanwhile
MAX_BACKOFF_S = 300.0
CACHE_S = 600.0  # how long a process trusts its cached time zones and work hours
MAX_CLIENT_ERROR_ATTEMPTS = 5  # an unexpected 200-with-error answer is retried this often
COMMIT_ATTEMPTS = 5
UNCERTAIN = "uncertain"


def backoff_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff capped at 5 minutes, with "equal jitter" so processes that
    failed together do not retry together."""
    ceiling = min(MAX_BACKOFF_S, 1.0 * 2 ** max(0, attempts - 1))
    return ceiling * (0.5 + (rng or random).random() / 2)


@dataclass
class Plan:
    """What one attempt will do, read under the row's lock."""

    row_id: int
    operation: str
    payload: dict[str, Any]
    key: str
    item_id: int | None
    assignment_id: int | None
    escalation_id: int | None
    target: dict | None
    check_first: bool
    attempts: int
    method: str = field(default="")  # the Slack method in flight, for 429 pauses
    opened: bool = False  # this attempt opened the DM channel (kept for every process)


class DeliveryWorker:
    def __init__(
        self,
        engine: Engine,
        outbound: SlackOutbound,
        *,
        clock: Clock = SYSTEM_CLOCK,
        interval_s: float = 0.5,
        batch: int = 10,
        threads: int = 1,
        lease_s: float = 60.0,
        pacer: Pacer | None = None,
        rng: random.Random | None = None,
        kill_after_send: int = 0,
        on_permanent_failure: Callable[[OutboxMessage], None] | None = None,
        media: MediaFiles | None = None,
    ) -> None:
        self.engine = engine
        self.outbound = outbound
        self.media = media  # uploads the media a message shows; None: no media to show
        self.clock = clock
        self.interval_s = interval_s
        self.batch = batch
        self.threads = max(1, threads)
        self.lease = timedelta(seconds=lease_s)
        self.pacer = pacer or Pacer()
        self.rng = rng or random.Random()
        self.kill_after_send = kill_after_send  # TEST-ONLY fault hook (Settings docs)
        self.worker_id = f"delivery-{uuid.uuid4().hex[:8]}"  # each thread claims as <id>-<n>
        self._local = threading.local()
        self.on_permanent_failure = on_permanent_failure
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # In-process caches of slow-changing facts, to keep each send to a few queries.
        self._dm_channels: dict[str, str] = {}  # user -> DM channel id: stable
        self._open_booked: set[str] = set()  # users whose conversations.open is paid for
        # user -> (read at, zone); read at is a time.monotonic() reading
        self._zones: dict[str, tuple[float, tzinfo | None]] = {}
        self._item_projects: dict[int, int] = {}  # item -> project: never changes
        self._hours: dict[int, tuple[float, tuple[int, int]]] = {}  # project -> work hours
        self._sends = 0

    # -- running -------------------------------------------------------------------
    def start(self) -> None:
        """Run `threads` sender loops; they share nothing but the database, whose claims
        (SKIP LOCKED) keep them, like separate processes, off each other's rows."""
        for n in range(self.threads):
            thread = threading.Thread(
                target=self._loop, args=(f"{self.worker_id}-{n}",), name=f"{self.worker_id}-{n}"
            )
            thread.daemon = True
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking new rows; the send in flight finishes and is recorded, claimed
        rows not yet started go back to the queue for any other process."""
        self._stop.set()
        outbox.wake_delivery()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with session_scope(self.engine) as session:
            outbox_store.release_claims(session, worker_id=self.worker_id)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def claimer(self) -> str:
        """This thread's claim id: unique, so two threads never both own a row."""
        return getattr(self._local, "claimer", f"{self.worker_id}-main")

    def _loop(self, claimer: str) -> None:
        self._local.claimer = claimer
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # keep delivering whatever one bad batch did
                log.exception("delivery batch failed")
                handled = 0
            if not handled:
                outbox.wait_for_work(self.interval_s)

    def run_once(self) -> int:
        """Claim and process one batch; return how many rows were handled."""
        flush_shown(self.engine, self.clock.now())  # never re-send what a click showed
        with session_scope(self.engine) as session:
            rows = outbox_store.claim_due(
                session,
                worker_id=self.claimer,
                now=self.clock.now(),
                limit=self.batch,
                lease_s=self.lease.total_seconds(),
            )
            ids: list[int] = []
            for row in rows:
                assert row.id is not None  # claimed rows were read from the table
                ids.append(row.id)
        for index, claimed in enumerate(rows):
            if self._stop.is_set():
                with session_scope(self.engine) as session:
                    outbox_store.release_claims(
                        session, worker_id=self.claimer, row_ids=ids[index:]
                    )
                break
            try:
                self._deliver(claimed)
            except Exception:  # the row stays claimed; its lease brings it back
                log.exception("outbox %s: delivery failed unexpectedly", claimed.id)
        return len(ids)

    # -- one row -------------------------------------------------------------------
    def _deliver(self, claimed: OutboxMessage) -> None:
        """Send one claimed row (a snapshot read at claim time)."""
        row_id = claimed.id
        assert row_id is not None  # claimed rows were read from the table
        try:
            self._refresh_time_zone(claimed)
        except Exception:  # work hours fall back to what is cached; never block a send
            log.warning("outbox %s: time zone lookup failed", row_id, exc_info=True)
        plan = self._prepare(row_id)
        if plan is None:
            return
        try:
            result = self._perform(plan)
        except SlackApiError as exc:
            self._on_slack_error(plan, exc)
            return
        except MediaWait as wait:  # nothing was sent: come back, without counting an attempt
            at = self.clock.now() + timedelta(seconds=wait.seconds)
            self._retry(plan, error=str(wait), at=at, count=False, uncertain=plan.check_first)
            return
        except MediaUnavailable as exc:
            log.warning("outbox %s: %s", row_id, exc)
            self._fail(plan, "media_unavailable")
            return
        except Exception as exc:  # timeouts, dropped connections: Slack may have it
            log.warning("outbox %s: %s during %s", row_id, type(exc).__name__, plan.method)
            self._retry(
                plan,
                error=type(exc).__name__,
                uncertain=plan.check_first or plan.method == "chat.postMessage",
            )
            return
        self._sends += 1
        if self.kill_after_send and self._sends >= self.kill_after_send:
            os.kill(os.getpid(), signal.SIGKILL)  # TEST-ONLY: die between send and commit
        self._mark_sent(plan, result)

    def _prepare(self, row_id: int) -> Plan | None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            row = outbox_store.lock_claimed(session, row_id, worker_id=self.claimer)
            if row is None:
                return None
            if row.operation not in KNOWN_OPERATIONS:
                self._finish(row, OutboxStatus.FAILED, f"unknown operation {row.operation!r}")
                return None
            reason = self._obsolete(session, row)
            if reason:
                self._finish(row, OutboxStatus.CANCELLED, reason)
                return None
            needs_target, target = self._resolve_target(session, row)
            if needs_target and target is None:
                self._wait_for_original(session, row, now)
                return None
            recipient = self._recipient(session, row)
            if recipient is not None:
                morning = self._work_day_start(session, row, recipient, now)
                if morning is not None:
                    self._hold(row, morning)
                    return None
            decision = self._pace(session, row, target, now)
            if decision.at is not None:
                self._hold(row, decision.at, slot=decision.at if decision.reserved else None)
                return None
            check_first = row.operation in POSTS and (row.last_error or "").startswith(UNCERTAIN)
            if row.operation == outbox.PUBLISH_HOME and row.idempotency_key == outbox.home_key(
                row.payload.get("user", "")
            ):
                # Its view is read once this commits: from now on a change to the Home
                # must queue a publish of its own (outbox.publish_home_later).
                row.idempotency_key = f"{row.idempotency_key}:{row_id}"
            row.attempts += 1
            row.pace_slot_at = None
            row.claimed_until = now + self.lease
            if row.operation in POSTS:  # if we die mid-send, the next claimer checks first
                row.last_error = f"{UNCERTAIN}: attempt {row.attempts} in flight"
            session.add(row)
            return Plan(
                row_id=row_id,
                operation=row.operation,
                payload=dict(row.payload),
                key=row.idempotency_key,
                item_id=row.item_id,
                assignment_id=row.assignment_id,
                escalation_id=row.escalation_id,
                target=target,
                check_first=check_first,
                attempts=row.attempts,
            )

    def _perform(self, plan: Plan) -> dict:
        payload = plan.payload
        if payload.get("blocks") and self.media is not None:
            self.media.prepare(payload.get("prefetch") or [])
            payload = {**payload, "blocks": self.media.resolve(payload["blocks"])}
        if plan.operation in POSTS:
            if plan.operation == outbox.POST_DM:
                channel = self._open_dm(plan, payload["user"])
            else:
                channel = payload.get("channel") or (plan.target or {})["channel"]
            thread_ts = payload.get("thread_ts")
            if "thread_of" in payload:
                assert plan.target is not None  # _prepare holds the row until it is known
                thread_ts = plan.target["ts"]
            if plan.check_first:
                plan.method = "conversations.replies" if thread_ts else "conversations.history"
                found = self.outbound.find_posted(channel, plan.key, thread_ts=thread_ts)
                if found is not None:
                    log.info("outbox %s was already posted; not posting again", plan.row_id)
                    return {"channel": channel, "ts": found["ts"], "recovered": True}
            plan.method = "chat.postMessage"
            return self.outbound.post_message(
                channel,
                text=payload["text"],
                blocks=payload.get("blocks"),
                thread_ts=thread_ts,
                metadata={
                    "event_type": "quorum_outbox",
                    "event_payload": {"idempotency_key": plan.key},
                },
            )
        if plan.operation == outbox.UPDATE_MESSAGE:
            assert plan.target is not None  # _prepare holds the row until it is known
            plan.method = "chat.update"
            return self.outbound.update_message(
                plan.target["channel"],
                plan.target["ts"],
                text=payload["text"],
                blocks=payload["blocks"],  # outbox.enqueue_update always stores them
            )
        if plan.operation == outbox.SHARE_FILE:
            assert plan.target is not None  # _prepare holds the row until it is known
            if self.media is None:
                raise MediaUnavailable("this worker has no media store")
            plan.method = "files.completeUploadExternal"
            file_id = self.outbound.upload_file(
                filename=payload["filename"],
                data=self.media.original(payload["sha256"]),
                title=payload.get("title"),
                channel=plan.target["channel"],
                thread_ts=plan.target["ts"],
            )
            return {"channel": plan.target["channel"], "file": file_id}
        plan.method = "views.publish"
        view = payload.get("view") or self._home_view(payload["user"])
        self.outbound.publish_home(payload["user"], view, payload.get("hash"))
        return {}

    def _home_view(self, user: str) -> dict:
        """The user's App Home as the database has it now: built at send time, after the
        row was taken (see _prepare), so it shows every change that marked it stale."""
        with session_scope(self.engine) as session:
            return home_view(session, user, now=self.clock.now())

    def _dm_channel(self, session: Session, user: str) -> str | None:
        """The person's DM channel if any process has opened it (Reviewer.dm_channel)."""
        if user not in self._dm_channels:
            reviewer = session.get(Reviewer, user)
            if reviewer is None or reviewer.dm_channel is None:
                return None
            self._dm_channels[user] = reviewer.dm_channel
        return self._dm_channels[user]

    def _open_dm(self, plan: Plan, user: str) -> str:
        if user not in self._dm_channels:
            plan.method = "conversations.open"
            self._dm_channels[user] = self.outbound.open_dm(user)
            plan.opened = True
        return self._dm_channels[user]

    # -- deciding whether a row may go now ------------------------------------------
    def _obsolete(self, session: Session, row: OutboxMessage) -> str | None:
        """Why a review request or reminder is no longer wanted, if it is not."""
        key = row.idempotency_key
        is_review = key == review_request_key(row.assignment_id or 0)
        if row.assignment_id is None or not (is_review or is_reminder_key(key)):
            return None
        assignment = session.get(Assignment, row.assignment_id)
        if assignment is None or assignment.status != AssignmentStatus.PENDING:
            return f"assignment is {assignment.status if assignment else 'gone'}"
        if is_reminder_key(key):
            item = session.get(Item, assignment.item_id)
            if item is None or item.status not in ItemStatus.OPEN:
                return "item already decided"
            reviewer = session.get(Reviewer, assignment.reviewer_id)
            if reviewer is not None and reviewer.paused:
                return "reviewer paused"
        return None

    def _resolve_target(self, session: Session, row: OutboxMessage) -> tuple[bool, dict | None]:
        """(needs a target, the target's channel and ts if it is known yet)."""
        spec = row.payload.get("target") or row.payload.get("thread_of")
        if not spec:
            return False, None
        if "assignment_id" in spec:
            assignment = session.get(Assignment, spec["assignment_id"])
            if assignment is None or assignment.message_ts is None:
                return True, None
            return True, {"channel": assignment.channel, "ts": assignment.message_ts}
        if "escalation_id" in spec:
            escalation = session.get(Escalation, spec["escalation_id"])
            if escalation is None or escalation.message_ts is None:
                return True, None
            return True, {"channel": escalation.channel, "ts": escalation.message_ts}
        return True, {"channel": spec["channel"], "ts": spec["ts"]}

    def _original(self, session: Session, row: OutboxMessage) -> OutboxMessage | None:
        """The outbox row that posts the message this row updates or replies to."""
        spec = row.payload.get("target") or row.payload.get("thread_of") or {}
        if "assignment_id" in spec:
            found = outbox_store.row_by_key(session, review_request_key(spec["assignment_id"]))
            if found is not None:
                return found
            rows = outbox_store.rows_for_target(session, assignment_id=spec["assignment_id"])
        elif "escalation_id" in spec:
            rows = outbox_store.rows_for_target(session, escalation_id=spec["escalation_id"])
        else:
            return None
        return next(
            (
                r
                for r in rows
                if r.operation in POSTS
                and "thread_of" not in r.payload
                and not r.payload.get("thread_ts")
            ),
            None,
        )

    def _wait_for_original(self, session: Session, row: OutboxMessage, now: datetime) -> None:
        original = self._original(session, row)
        if original is not None and original.status in (
            OutboxStatus.FAILED,
            OutboxStatus.CANCELLED,
        ):
            self._finish(row, OutboxStatus.CANCELLED, "the original message was never sent")
            return
        later = now + timedelta(seconds=1)
        if original is not None and original.status == OutboxStatus.PENDING:
            later = max(later, original.next_attempt_at)
        elif (
            original is not None
            and original.status == OutboxStatus.SENDING
            and original.claimed_by == self.claimer
        ):
            # Claimed in this batch behind this update (updates are in the interactive
            # lane, claimed first): it goes out in a moment, and so can this one after it.
            later = now
        self._hold(row, later)

    def _recipient(self, session: Session, row: OutboxMessage) -> str | None:
        """The person a post notifies, whose work hours it must respect."""
        if row.operation == outbox.POST_DM:
            return row.payload.get("user")
        if row.operation == outbox.POST_MESSAGE and row.assignment_id is not None:
            assignment = session.get(Assignment, row.assignment_id)
            return assignment.reviewer_id if assignment else None
        return None

    def _work_hours(self, session: Session, row: OutboxMessage) -> tuple[int, int]:
        item_id = row.item_id
        if item_id is None and row.assignment_id is not None:
            assignment = session.get(Assignment, row.assignment_id)
            item_id = assignment.item_id if assignment else None
        if item_id is None:
            return Timing().work_hours
        if item_id not in self._item_projects:
            item = session.get(Item, item_id)
            if item is None:
                return Timing().work_hours
            self._item_projects[item_id] = item.project_id
        project_id = self._item_projects[item_id]
        cached = self._hours.get(project_id)
        if cached is not None and time.monotonic() - cached[0] <= CACHE_S:
            return cached[1]
        # Not read yet, or long enough ago that there may be a new config version.
        project = session.get(Project, project_id)
        assert project is not None  # item.project_id is a foreign key
        hours = project_config(session, project).timing.work_hours
        self._hours[project_id] = (time.monotonic(), hours)
        return hours

    def _zone(self, session: Session, user: str) -> tzinfo | None:
        read_at, zone = self._zones.get(user, (None, None))
        if read_at is None or time.monotonic() - read_at > CACHE_S:
            reviewer = session.get(Reviewer, user)
            zone = reviewer_zone(reviewer.tz, reviewer.tz_offset_s) if reviewer else None
            self._zones[user] = (time.monotonic(), zone)
        return zone

    def _work_day_start(
        self, session: Session, row: OutboxMessage, user: str, now: datetime
    ) -> datetime | None:
        zone = self._zone(session, user)
        if zone is None:
            return None
        return next_work_start(now, zone, self._work_hours(session, row))

    def _buckets(self, session: Session, row: OutboxMessage, target: dict | None) -> list[str]:
        payload = row.payload
        if row.operation == outbox.POST_DM:
            user = payload.get("user", "")
            opening = []
            if self._dm_channel(session, user) is None and user not in self._open_booked:
                # One conversations.open per person, booked with their first DM: the
                # rest of their DMs go after it (one channel), when it is known.
                opening = ["conversations.open"]
                self._open_booked.add(user)
            return opening + buckets_for("chat.postMessage", f"dm-{user}")
        if row.operation == outbox.POST_MESSAGE:
            channel = payload.get("channel") or (target or {}).get("channel")
            return buckets_for("chat.postMessage", channel)
        if row.operation == outbox.UPDATE_MESSAGE:
            return ["chat.update"]
        if row.operation == outbox.SHARE_FILE:
            return ["files.completeUploadExternal"]
        return ["views.publish"]

    def _pace(
        self, session: Session, row: OutboxMessage, target: dict | None, now: datetime
    ) -> Decision:
        buckets = self._buckets(session, row, target)
        if row.pace_slot_at is not None and row.pace_slot_at <= now:
            return self.pacer.admit(session, buckets, now)  # its slot is paid
        return self.pacer.reserve(session, buckets, now)

    def _refresh_time_zone(self, claimed: OutboxMessage) -> None:
        """Cache the recipient's time zone from users.info (weekly), outside any lock."""
        if claimed.operation not in POSTS:
            return
        user = claimed.payload.get("user") if claimed.operation == outbox.POST_DM else None
        seen = self._zones.get(user or "")
        if seen is not None and time.monotonic() - seen[0] < CACHE_S:
            return  # this process looked at it (and refreshed it if stale) lately
        now = self.clock.now()
        with session_scope(self.engine) as session:
            user = user or self._recipient(session, claimed)
            if user is None:
                return
            reviewer = session.get(Reviewer, user)
            checked = reviewer.tz_checked_at if reviewer is not None else None
            if checked is not None and now - checked < TZ_REFRESH:
                return
            if self.pacer.paused_until(session, ["users.info"], now):
                return
        try:
            tz, offset = self.outbound.user_time_zone(user)
        except SlackApiError as exc:
            if exc.response is not None and exc.response.status_code == 429:
                with session_scope(self.engine) as session:
                    until = now + timedelta(seconds=_retry_after(exc))
                    self.pacer.pause(session, "users.info", until, now)
            raise
        try:
            with session_scope(self.engine) as session:
                reviewer = session.get(Reviewer, user) or Reviewer(user_id=user, updated_at=now)
                reviewer.tz, reviewer.tz_offset_s, reviewer.tz_checked_at = tz, offset, now
                session.add(reviewer)
        except IntegrityError:  # another process cached it at the same moment
            pass
        self._zones[user] = (time.monotonic(), reviewer_zone(tz, offset))

    # -- recording the outcome -------------------------------------------------------
    def _mark_sent(self, plan: Plan, result: dict) -> None:
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                with session_scope(self.engine) as session:
                    self._record_sent(session, plan, result)
                return
            except (IntegrityError, OperationalError):
                # Another writer on the item's audit chain, or a deadlock: try again.
                # If this never commits the row stays "uncertain" and is found, not resent.
                if attempt == COMMIT_ATTEMPTS - 1:
                    log.exception("outbox %s: sent, but recording it failed", plan.row_id)
                    return
                time.sleep(0.05 * (attempt + 1))

    def _record_sent(self, session: Session, plan: Plan, result: dict) -> None:
        now = self.clock.now()
        # Lock order assignment -> item -> outbox row, as the workflow's writers do.
        assignment = (
            queries.lock_assignment(session, plan.assignment_id) if plan.assignment_id else None
        )
        item = queries.lock_item(session, plan.item_id) if plan.item_id else None
        outbox_store.mark_sent(
            session, plan.row_id, now=now, result={**result, "sender": self.claimer}
        )
        if plan.opened:
            self._keep_dm_channel(session, plan.payload["user"], result["channel"], now)
        is_thread = "thread_of" in plan.payload or plan.payload.get("thread_ts")
        if plan.operation in POSTS and "ts" in result and not is_thread:
            if assignment is not None:
                assignment.channel, assignment.message_ts = result["channel"], result["ts"]
                session.add(assignment)
            elif plan.escalation_id is not None:
                escalation = session.get(Escalation, plan.escalation_id)
                assert escalation is not None  # outbox.escalation_id is a foreign key
                escalation.channel, escalation.message_ts = result["channel"], result["ts"]
                session.add(escalation)
        if item is not None:
            record_event(
                session,
                "message_sent",
                actor="quorum",
                project_id=item.project_id,
                item_id=item.id,
                at=now,
                data={
                    "operation": plan.operation,
                    "key": plan.key,
                    "channel": result.get("channel"),
                    "ts": result.get("ts"),
                    "recovered": bool(result.get("recovered")),
                },
            )

    @staticmethod
    def _keep_dm_channel(session: Session, user: str, channel: str, now: datetime) -> None:
        reviewer = session.get(Reviewer, user)
        if reviewer is None:
            reviewer = Reviewer(user_id=user, updated_at=now)
        if reviewer.dm_channel != channel:
            reviewer.dm_channel = channel
            session.add(reviewer)

    def _on_slack_error(self, plan: Plan, exc: SlackApiError) -> None:
        response = exc.response
        status = getattr(response, "status_code", 200) if response is not None else 200
        error = (response.get("error") if response is not None else None) or "unknown_error"
        ambiguous = plan.method == "chat.postMessage" and status >= 500
        if status == 429 or error == "ratelimited":
            now = self.clock.now()
            until = now + timedelta(seconds=_retry_after(exc))
            log.info("outbox %s: %s rate limited until %s", plan.row_id, plan.method, until)
            with session_scope(self.engine) as session:
                self.pacer.pause(session, plan.method, until, now)
            self._retry(
                plan, error="ratelimited", at=until, count=False, uncertain=plan.check_first
            )
        elif error in OBSOLETE_ERRORS:
            self._finish_plan(plan, OutboxStatus.CANCELLED, error)
        elif error in PERMANENT_ERRORS:
            self._fail(plan, error)
        elif status >= 500 or error in TRANSIENT_ERRORS:
            self._retry(plan, error=error, uncertain=plan.check_first or ambiguous)
        elif plan.attempts >= MAX_CLIENT_ERROR_ATTEMPTS:
            self._fail(plan, error)
        else:
            self._retry(plan, error=error, uncertain=plan.check_first)

    def _retry(
        self,
        plan: Plan,
        *,
        error: str,
        uncertain: bool,
        at: datetime | None = None,
        count: bool = True,
    ) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            row = outbox_store.lock_claimed(session, plan.row_id, worker_id=self.claimer)
            if row is None:
                return  # our lease ran out and another process has it now
            if not count:
                row.attempts = max(0, row.attempts - 1)
            if at is None:
                at = now + timedelta(seconds=backoff_seconds(row.attempts, self.rng))
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = at
            row.last_error = f"{UNCERTAIN}: {error}" if uncertain else error
            row.claimed_by = None
            row.claimed_until = None
            session.add(row)

    def _fail(self, plan: Plan, error: str) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            if (
                plan.assignment_id is not None
                and plan.operation in POSTS
                and error in UNREACHABLE_ERRORS
            ):
                reassign_unreachable(
                    session, plan.assignment_id, reason=error, now=now, rng=self.rng
                )
            elif (
                plan.assignment_id is not None
                and error in UNSHOWABLE_ERRORS
                and plan.key == review_request_key(plan.assignment_id)
            ):
                fail_unshowable_item(session, plan.assignment_id, reason=error, now=now)
            row = session.exec(
                select(OutboxMessage).where(OutboxMessage.id == plan.row_id).with_for_update()
            ).one()
            self._finish(row, OutboxStatus.FAILED, error)
        log.warning("outbox %s failed permanently: %s", plan.row_id, error)
        if self.on_permanent_failure:
            self.on_permanent_failure(row)

    def _finish_plan(self, plan: Plan, status: str, reason: str) -> None:
        with session_scope(self.engine) as session:
            row = session.get(OutboxMessage, plan.row_id)
            assert row is not None  # outbox rows are never deleted
            self._finish(row, status, reason)

    @staticmethod
    def _finish(row: OutboxMessage, status: str, reason: str) -> None:
        row.status = status
        row.last_error = reason
        row.claimed_by = None
        row.claimed_until = None
        row.pace_slot_at = None

    @staticmethod
    def _hold(row: OutboxMessage, until: datetime, *, slot: datetime | None = None) -> None:
        """Back to the queue, due at `until`, without counting an attempt."""
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = until
        row.pace_slot_at = slot
        row.claimed_by = None
        row.claimed_until = None


def _retry_after(exc: SlackApiError) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return max(1.0, float(value))
            except (TypeError, ValueError):
                break
    return 1.0
