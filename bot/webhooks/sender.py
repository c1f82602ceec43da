"""The webhook sender: POSTs each delivery, in order per webhook, until a 2xx or until it
gives up, recording every attempt.

One claiming loop per process leases *runs* (storage/webhook_queries.py): for a webhook
whose head, its oldest pending delivery, is due, the head and up to RUN_SIZE - 1 pending
deliveries after it that are due too, in one transaction. A few sending threads each send
one run at a time, so one webhook has one request in flight and one failing endpoint holds
back only its own later deliveries. Per run:
1. the `label.signed_off` bodies not built yet get their data (the labels' `labels` export
   records, one call for the run) in one more transaction, saved so every retry sends the
   same body;
2. then each delivery in order: the POST (outside any transaction), signed with the
   webhook's secret, redirects not followed, the response read no further than an excerpt;
3. and its attempt recorded as it ends, in one short transaction: a 2xx delivers it and
   the next one goes; anything else is retried 10 s later, then after twice the wait each
   time up to 10 minutes, until QUORUM_WEBHOOK_GIVE_UP_H after the event, when it is
   `failed`. Either way the run ends there and its rest is released unsent, to be claimed
   again after it: nothing after a failed delivery is sent before it.
A crash between a POST and its record sends that one again once the lease runs out (the
ones recorded before it are not): receivers dedupe on Quorum-Webhook-Id (docs/webhooks.md).
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
from collections.abc import Sequence
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
from storage.webhook_queries import Claimed, DeliveryStatus, Recorded, Run

log = logging.getLogger(__name__)

USER_AGENT = "Quorum-Webhooks/1 (+https://github.com/quorum-labelling/quorum)"
FIRST_RETRY_S = 5.0  # the next poll after it is within the contract's 10 s
MAX_RETRY_S = 600.0
EXCERPT_CHARS = 200  # what of a response body is kept, in the attempt's error
READ_LIMIT_BYTES = 4096  # what of a response body is read at all
RUN_SIZE = 50  # deliveries of one webhook claimed (and sent in order) at once


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


@dataclass(frozen=True)
class Step:
    """What recording one attempt of a run decided."""

    attempted: bool  # an attempt was made (and logged)
    go_on: bool  # the run's next delivery may be sent
    lease_ends: datetime


class WebhookSender:
    """Sends due deliveries: `start()` runs the claiming loop and `threads` senders, each
    sending one webhook's run at a time; `run_once()` sends what is due in the caller's
    thread (tests, simulations)."""

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
        run_size: int = RUN_SIZE,
        resolver: Resolver | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.timeout_s = timeout_s
        self.give_up = give_up
        self.threads = threads
        self.interval_s = interval_s
        self.run_size = run_size
        # Long enough that a live POST (connect, send, an excerpt read: each phase bounded
        # by the timeout) is never taken over by another sender; a run's lease is renewed
        # as it goes (`_record`).
        self.lease_s = max(60.0, 4 * timeout_s)
        self.claimer = f"webhook-{uuid.uuid4().hex[:8]}"  # each claim: <claimer>-<n>
        self._claims = itertools.count(1)
        self.client = make_client(
            timeout_s=timeout_s, allow_private=allow_private, resolver=resolver
        )
        self._stop = threading.Event()
        self._queue: queue.Queue[Run | None] = queue.Queue()
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
        """Claim nothing more; sends in flight finish and are recorded, and the rest of
        their runs, like runs claimed but not started, go back to the queue for any
        process."""
        self._stop.set()
        wake_senders()
        deadline = time.monotonic() + timeout
        if self._loops:
            self._loops[0].join(max(0.0, deadline - time.monotonic()))
        unstarted: list[Run] = []
        while True:
            try:
                run = self._queue.get_nowait()
            except queue.Empty:
                break
            if run is not None:
                unstarted.append(run)
        for _ in self._loops[1:]:
            self._queue.put(None)
        for thread in self._loops[1:]:
            thread.join(max(0.0, deadline - time.monotonic()))
        if unstarted:
            with session_scope(self.engine) as session:
                for run in unstarted:
                    webhook_queries.release_claims(
                        session, claim=run.claim, delivery_ids=_ids(run.deliveries)
                    )
        self.client.close()

    def _claim_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                free = self.threads - self._busy
            if free > 0:
                try:
                    runs = self._claim(free)
                except Exception:
                    log.exception("claiming webhook deliveries failed")
                    runs = []
                with self._lock:
                    self._busy += len(runs)
                for run in runs:
                    self._queue.put(run)
            # Woken by a commit that emitted, or by a finished run (its webhook's next
            # deliveries may be due now); otherwise one cheap claim query per interval.
            wait_for_events(self.interval_s)

    def _send_loop(self) -> None:
        while True:
            run = self._queue.get()
            if run is None:
                return
            try:
                self.send_run(run)
            except Exception:  # the lease brings back what is left
                log.exception("webhook run to webhook %s failed unexpectedly", run.webhook_id)
            finally:
                with self._lock:
                    self._busy -= 1
                wake_senders()

    def run_once(self, limit: int = 20) -> int:
        """Claim the runs due now (of up to `limit` webhooks) and send them here, one
        after the other; how many attempts were made. Repeat until 0 to drain (a
        webhook's later deliveries are due again once a failed one is retried)."""
        made = 0
        for run in self._claim(limit):
            made += self.send_run(run)
        return made

    def _claim(self, limit: int) -> list[Run]:
        with session_scope(self.engine) as session:
            return webhook_queries.claim_runs(
                session,
                claimer=f"{self.claimer}-{next(self._claims)}",
                now=self.clock.now(),
                limit=limit,
                run_size=self.run_size,
                lease_s=self.lease_s,
            )

    # -- one run -----------------------------------------------------------------------
    def send_run(self, run: Run) -> int:
        """Send a claimed run in order, each delivery once the one before it is delivered,
        recording each attempt as it ends; stop at the first that is not delivered (or
        when the claim is lost, or the sender stops) and release the rest unsent. How
        many attempts were made."""
        try:
            bodies = self._fill(run, run.deliveries)
        except Exception:  # each delivery builds its own, and its failure is an attempt
            log.exception("webhook run to webhook %s: building the events failed", run.webhook_id)
            bodies = {}
        made = 0
        lease_ends = run.claimed_until
        for n, claimed in enumerate(run.deliveries):
            rest = _ids(run.deliveries[n + 1 :])
            if self._stop.is_set():
                self._release(run, [claimed.delivery_id, *rest])
                break
            step = self._deliver(run, claimed, bodies.get(claimed.delivery_id), rest, lease_ends)
            made += step.attempted
            if not step.go_on:
                break
            lease_ends = step.lease_ends
        return made

    def _fill(self, run: Run, deliveries: Sequence[Claimed]) -> dict[int, dict]:
        """Before their first attempt, label.signed_off bodies get their data (the labels'
        `labels` export records, one call for all of them), saved so every retry sends the
        same body (also on the other webhooks' deliveries of those events not yet taken,
        so all receive the same record). The bodies filled, by delivery id."""
        empty = [c for c in deliveries if c.label_id is not None and c.body.get("data") is None]
        if not empty:
            return {}
        label_ids = list(dict.fromkeys(c.label_id for c in empty if c.label_id is not None))
        with session_scope(self.engine) as session:
            records = label_records(session, run.project_id, label_ids)
            if len(records) != len(label_ids):  # which is missing: each delivery finds out
                if len(empty) > 1:
                    return {}
                raise LookupError(f"label {label_ids[0]} has no export record")
            record_of = dict(zip(label_ids, records, strict=True))
            bodies = {
                c.event_id: (c.label_id, {**c.body, "data": record_of[c.label_id]})
                for c in empty
                if c.label_id is not None
            }
            filled = webhook_queries.fill_event_bodies(session, claim=run.claim, bodies=bodies)
        return {c.delivery_id: bodies[c.event_id][1] for c in empty if c.delivery_id in filled}

    def _release(self, run: Run, delivery_ids: Sequence[int]) -> None:
        if delivery_ids:
            with session_scope(self.engine) as session:
                webhook_queries.release_claims(session, claim=run.claim, delivery_ids=delivery_ids)

    # -- one delivery ------------------------------------------------------------------
    def _deliver(
        self,
        run: Run,
        claimed: Claimed,
        filled: dict | None,
        rest: list[int],
        lease_ends: datetime,
    ) -> Step:
        """Make one attempt at a delivery of the run and record it."""
        started = self.clock.now()
        body = filled or claimed.body
        if claimed.label_id is not None and body.get("data") is None:
            try:  # the run's fill left it out: build it alone, to say what failed
                body = self._fill(run, [claimed]).get(claimed.delivery_id) or {}
            except Exception as exc:  # its data could not be built: an attempt that failed
                log.exception("webhook delivery %s: building the event failed", claimed.delivery_id)
                outcome = Outcome(None, f"building the event failed: {type(exc).__name__}", 0)
                return self._record(run, claimed, outcome, started, rest, lease_ends)
            if not body:  # not ours any more
                self._release(run, [claimed.delivery_id, *rest])
                return Step(attempted=False, go_on=False, lease_ends=lease_ends)
        outcome = self._post(run, claimed, encode_body(body))
        return self._record(run, claimed, outcome, started, rest, lease_ends)

    def _post(self, run: Run, claimed: Claimed, content: bytes) -> Outcome:
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            ID_HEADER: claimed.event_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(run.secret, claimed.event_id, timestamp, content),
        }
        begun = time.monotonic()
        try:
            url, auth = _without_userinfo(run.url)
            with self.client.stream("POST", url, content=content, headers=headers, auth=auth) as r:
                if 200 <= r.status_code < 300:  # the body is not read: a 2xx says it all
                    return Outcome(r.status_code, None, int((time.monotonic() - begun) * 1000))
                # An excerpt for the log, read within one timeout in all: a receiver that
                # trickles its answer must not hold the delivery past its lease.
                read = b""
                for chunk in r.iter_bytes():
                    read += chunk
                    if len(read) >= READ_LIMIT_BYTES or time.monotonic() - begun > self.timeout_s:
                        break
                took = int((time.monotonic() - begun) * 1000)
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

    def _record(
        self,
        run: Run,
        claimed: Claimed,
        outcome: Outcome,
        started: datetime,
        rest: list[int],
        lease_ends: datetime,
    ) -> Step:
        """The attempt and what follows from it, in one transaction: a 2xx delivers it;
        anything else is retried after a backoff, or failed past the give-up time. The
        run goes on only when it was delivered and its claim held (not when the webhook
        was removed meanwhile); otherwise the rest of the run is released. An attempt
        whose claim was lost (its lease ran out and another sender took the delivery) is
        logged but changes nothing else."""
        now = self.clock.now()
        attempts = claimed.attempts + 1  # the claim held it since it was read: current
        next_attempt_at = None
        if outcome.delivered:
            new_status = DeliveryStatus.DELIVERED
        elif now >= claimed.created_at + self.give_up:
            new_status = DeliveryStatus.FAILED
        else:
            new_status = DeliveryStatus.PENDING
            wait = retry_delay(attempts, outcome.retry_after)
            next_attempt_at = now + timedelta(seconds=wait)
        with session_scope(self.engine) as session:
            recorded = webhook_queries.record_attempt(
                session,
                delivery_id=claimed.delivery_id,
                claim=run.claim,
                attempted_at=started,
                status=outcome.status,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
                attempts=attempts,
                new_status=new_status,
                next_attempt_at=next_attempt_at,
                now=now,
            )
            go_on = (
                recorded == Recorded.HELD
                and outcome.delivered
                and bool(rest)
                and not self._stop.is_set()
            )
            # The rest of a long run (a slow endpoint) is leased again while a whole POST
            # still fits in what is left of its lease, so no other sender takes it over.
            if go_on and now + timedelta(seconds=0.75 * self.lease_s) > lease_ends:
                lease_ends = now + timedelta(seconds=self.lease_s)
                webhook_queries.extend_claims(
                    session, claim=run.claim, delivery_ids=rest, until=lease_ends
                )
            if not go_on:
                webhook_queries.release_claims(session, claim=run.claim, delivery_ids=rest)
        if recorded == Recorded.HELD and new_status == DeliveryStatus.FAILED:
            log.warning(
                "webhook %s gave up on event %s (%s) after %d attempts: %s",
                run.webhook_id,
                claimed.event_id,
                claimed.event_type,
                attempts,
                outcome.error or f"HTTP {outcome.status}",
            )
        return Step(attempted=True, go_on=go_on, lease_ends=lease_ends)


def _ids(deliveries: Sequence[Claimed]) -> list[int]:
    return [claimed.delivery_id for claimed in deliveries]
