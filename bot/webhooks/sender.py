"""The webhook sender: POSTs each delivery, in order per webhook, until a 2xx or until it
gives up, recording every attempt.

One claiming loop per process leases due heads (storage/webhook_queries.py: a webhook's
head is its oldest pending delivery, so one failing endpoint holds back only its own later
deliveries) and hands them to a few sending threads. Per delivery, in short transactions:
1. before its first attempt, a `label.signed_off` body gets its data (the label's
   `labels` export record), saved so every retry sends the same body;
2. the POST (outside any transaction), signed with the webhook's secret, redirects not
   followed, the response read no further than an excerpt;
3. the attempt is recorded with the outcome: a 2xx delivers it; anything else is retried
   10 s later, then after twice the wait each time up to 10 minutes, until
   QUORUM_WEBHOOK_GIVE_UP_H after the event, when it is `failed` and the next one goes.
A crash between the POST and step 3 sends it again once the lease runs out: receivers
dedupe on Quorum-Webhook-Id (docs/webhooks.md).
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpcore
import httpx
from sqlalchemy import Engine

from bot.exports.records import label_records
from bot.runtime.clock import SYSTEM_CLOCK, Clock
from bot.runtime.settings import Settings
from bot.webhooks.events import wait_for_events, wake_senders
from bot.webhooks.targets import GuardedBackend, Resolver
from quorum_client.webhooks import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from storage import webhook_queries
from storage.db import session_scope
from storage.webhook_queries import Claimed, DeliveryStatus

log = logging.getLogger(__name__)

USER_AGENT = "Quorum-Webhooks/1 (+https://github.com/quorum-labelling/quorum)"
FIRST_RETRY_S = 10.0
MAX_RETRY_S = 600.0
EXCERPT_CHARS = 200  # what of a response body is kept, in the attempt's error
READ_LIMIT_BYTES = 4096  # what of a response body is read at all


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones: 10, 20, 40, … capped at
    10 minutes; a Retry-After the receiver asked for is honoured within that cap."""
    delay = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1))
    if retry_after is not None:
        delay = max(delay, min(MAX_RETRY_S, retry_after))
    return delay


def encode_body(body: dict) -> bytes:
    """The bytes sent (and signed): compact JSON of the stored body, the same every time."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Outcome:
    """How one POST ended."""

    status: int | None  # None: no answer (timeout, refused, dropped connection)
    error: str | None
    duration_ms: int
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


def _without_userinfo(raw: str) -> tuple[httpx.URL, httpx.BasicAuth | None]:
    """The URL without a `user:password@` part, and that part as Basic auth (which is
    what it means): httpx logs the URL of each request, and the password stays out."""
    url = httpx.URL(raw)
    if not url.userinfo:
        return url, None
    return url.copy_with(userinfo=b""), httpx.BasicAuth(url.username, url.password)


def make_client(
    *, timeout_s: float, allow_private: bool, resolver: Resolver | None
) -> httpx.Client:
    """The HTTP client: no redirects, no retries of its own. Without `allow_private`
    connections go through GuardedBackend and environment proxies are ignored (a proxy
    would connect where the guard cannot see)."""
    transport = httpx.HTTPTransport(retries=0)
    if not allow_private:
        transport = _guarded_transport(resolver or socket.getaddrinfo)
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        transport=transport,
        trust_env=allow_private,
        headers={"User-Agent": USER_AGENT},
    )


def _guarded_transport(resolver: Resolver) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(retries=0)
    # httpx takes no network backend; its pool is rebuilt around the guarded one, with
    # the same TLS context (certificates are checked against the URL's host name).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=GuardedBackend(resolver),
        retries=0,
    )
    return transport


class WebhookSender:
    """Sends due deliveries: `start()` runs the claiming loop and `threads` senders;
    `run_once()` sends what is due in the caller's thread (tests, simulations)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = SYSTEM_CLOCK,
        timeout_s: float = 10.0,
        give_up: timedelta = timedelta(hours=25),
        allow_private: bool = True,
        threads: int = 4,
        interval_s: float = 1.0,
        resolver: Resolver | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.timeout_s = timeout_s
        self.give_up = give_up
        self.threads = threads
        self.interval_s = interval_s
        # Long enough that a live POST (connect, send, an excerpt read: each phase bounded
        # by the timeout) is never taken over by another sender.
        self.lease_s = max(60.0, 4 * timeout_s)
        self.claimer = f"webhook-{uuid.uuid4().hex[:8]}"  # each claim: <claimer>-<n>
        self._claims = itertools.count(1)
        self.client = make_client(
            timeout_s=timeout_s, allow_private=allow_private, resolver=resolver
        )
        self._stop = threading.Event()
        self._queue: queue.Queue[Claimed | None] = queue.Queue()
        self._busy = 0
        self._lock = threading.Lock()
        self._loops: list[threading.Thread] = []

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings, *, clock: Clock) -> WebhookSender:
        return cls(
            engine,
            clock=clock,
            timeout_s=settings.quorum_webhook_timeout_s,
            give_up=timedelta(hours=settings.quorum_webhook_give_up_h),
            allow_private=settings.quorum_webhook_allow_private,
        )

    # -- running -----------------------------------------------------------------------
    def start(self) -> None:
        self._loops = [threading.Thread(target=self._claim_loop, daemon=True, name=self.claimer)]
        self._loops += [
            threading.Thread(target=self._send_loop, daemon=True, name=f"{self.claimer}-{n}")
            for n in range(self.threads)
        ]
        for thread in self._loops:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Claim nothing more; sends in flight finish and are recorded; deliveries claimed
        but not started go back to the queue for any process."""
        self._stop.set()
        wake_senders()
        deadline = time.monotonic() + timeout
        if self._loops:
            self._loops[0].join(max(0.0, deadline - time.monotonic()))
        unstarted: list[tuple[int, str]] = []
        while True:
            try:
                claimed = self._queue.get_nowait()
            except queue.Empty:
                break
            if claimed is not None:
                unstarted.append((claimed.delivery_id, claimed.claim))
        for _ in self._loops[1:]:
            self._queue.put(None)
        for thread in self._loops[1:]:
            thread.join(max(0.0, deadline - time.monotonic()))
        if unstarted:
            with session_scope(self.engine) as session:
                webhook_queries.release_claims(session, claims=unstarted)
        self.client.close()

    def _claim_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                free = self.threads - self._busy
            if free > 0:
                try:
                    claimed = self._claim(free)
                except Exception:
                    log.exception("claiming webhook deliveries failed")
                    claimed = []
                with self._lock:
                    self._busy += len(claimed)
                for delivery in claimed:
                    self._queue.put(delivery)
            # Woken by a commit that emitted, or by a finished send (its webhook's next
            # delivery may be due now); otherwise one cheap claim query per interval.
            wait_for_events(self.interval_s)

    def _send_loop(self) -> None:
        while True:
            claimed = self._queue.get()
            if claimed is None:
                return
            try:
                self.deliver(claimed)
            except Exception:  # the lease brings it back
                log.exception("webhook delivery %s failed unexpectedly", claimed.delivery_id)
            finally:
                with self._lock:
                    self._busy -= 1
                wake_senders()

    def run_once(self, limit: int = 20) -> int:
        """Claim what is due now and send it here, one after the other; how many attempts
        were made. Repeat until 0 to drain (a webhook's next delivery becomes due when
        the one before it is delivered)."""
        made = 0
        for claimed in self._claim(limit):
            if self.deliver(claimed):
                made += 1
        return made

    def _claim(self, limit: int) -> list[Claimed]:
        with session_scope(self.engine) as session:
            return webhook_queries.claim_heads(
                session,
                claimer=f"{self.claimer}-{next(self._claims)}",
                now=self.clock.now(),
                limit=limit,
                lease_s=self.lease_s,
            )

    # -- one delivery ------------------------------------------------------------------
    def deliver(self, claimed: Claimed) -> bool:
        """Make one attempt at a claimed delivery and record it; False when none was
        made (the claim was lost meanwhile)."""
        started = self.clock.now()
        try:
            body = self._body(claimed)
        except Exception as exc:  # its data could not be built: an attempt that failed
            log.exception("webhook delivery %s: building the event failed", claimed.delivery_id)
            outcome = Outcome(None, f"building the event failed: {type(exc).__name__}", 0)
            return self._record(claimed, outcome, started)
        if body is None:
            return False
        outcome = self._post(claimed, encode_body(body))
        return self._record(claimed, outcome, started)

    def _body(self, claimed: Claimed) -> dict | None:
        """The body to send: as stored, or, before a label event's first attempt, with its
        data built and saved (also on the other webhooks' deliveries of that event not yet
        taken, so all receive the same record). None when this sender lost the claim."""
        if claimed.label_id is None or claimed.body.get("data") is not None:
            return claimed.body
        with session_scope(self.engine) as session:
            mine = webhook_queries.lock_delivery(session, claimed.delivery_id)
            if mine is None or mine.claimed_by != claimed.claim:
                return None
            if mine.body.get("data") is not None:
                return mine.body  # another webhook's first attempt built it
            records = label_records(session, claimed.project_id, [claimed.label_id])
            if not records:
                raise LookupError(f"label {claimed.label_id} has no export record")
            body = {**mine.body, "data": records[0]}
            webhook_queries.fill_event_body(
                session,
                delivery_id=claimed.delivery_id,
                label_id=claimed.label_id,
                event_id=claimed.event_id,
                body=body,
            )
            return body

    def _post(self, claimed: Claimed, content: bytes) -> Outcome:
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            ID_HEADER: claimed.event_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(claimed.secret, claimed.event_id, timestamp, content),
        }
        begun = time.monotonic()
        try:
            url, auth = _without_userinfo(claimed.url)
            with self.client.stream("POST", url, content=content, headers=headers, auth=auth) as r:
                read = b""
                for chunk in r.iter_bytes():
                    read += chunk
                    if len(read) >= READ_LIMIT_BYTES:
                        break
                took = int((time.monotonic() - begun) * 1000)
                if 200 <= r.status_code < 300:
                    return Outcome(r.status_code, None, took)
                text = read[:READ_LIMIT_BYTES].decode("utf-8", "replace")
                if r.is_redirect:
                    text = f"redirect to {r.headers.get('location', '?')} not followed"
                return Outcome(r.status_code, _excerpt(text) or None, took, _retry_after(r))
        except httpx.TimeoutException as exc:
            error = f"timeout after {self.timeout_s:g} s ({type(exc).__name__})"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except (OSError, ValueError) as exc:  # a URL httpx cannot use, a socket error
            error = f"{type(exc).__name__}: {exc}"
        return Outcome(None, _excerpt(error), int((time.monotonic() - begun) * 1000))

    def _record(self, claimed: Claimed, outcome: Outcome, started: datetime) -> bool:
        """The attempt and what follows from it, in one transaction. An attempt whose
        claim was lost (its lease ran out and another sender took the delivery, or the
        webhook was removed) is logged but changes nothing else."""
        now = self.clock.now()
        with session_scope(self.engine) as session:
            delivery = webhook_queries.lock_delivery(session, claimed.delivery_id)
            if delivery is None:
                return False
            webhook_queries.add_attempt(
                session,
                delivery_id=claimed.delivery_id,
                attempted_at=started,
                status=outcome.status,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
            if delivery.claimed_by != claimed.claim:
                return True
            delivery.attempts += 1
            delivery.last_status = outcome.status
            delivery.last_error = outcome.error
            delivery.claimed_by = None
            delivery.claimed_until = None
            gave_up = False
            if outcome.delivered:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = now
            elif delivery.status == DeliveryStatus.PENDING:
                if now >= delivery.created_at + self.give_up:
                    delivery.status = DeliveryStatus.FAILED
                    gave_up = True
                else:
                    wait = retry_delay(delivery.attempts, outcome.retry_after)
                    delivery.next_attempt_at = now + timedelta(seconds=wait)
            session.add(delivery)
        if gave_up:
            log.warning(
                "webhook %s gave up on event %s (%s) after %d attempts: %s",
                claimed.webhook_id,
                claimed.event_id,
                claimed.event_type,
                delivery.attempts,
                outcome.error or f"HTTP {outcome.status}",
            )
        return True
