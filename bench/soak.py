"""Soak: valid clicks among hostile traffic, against a real `quorum serve`.

    python -m bench.soak --quick                  # 45 s of hostile traffic (about 1.5 min)
    python -m bench.soak                          # 3 min (about 4 min)
    python -m bench.soak --seconds 600 --backend postgres --json soak.json

Real review DMs (one label project, `--reviewers` 30, set up as bench/clicks.py does)
are answered by signed valid clicks at a steady `--rate` (one in flight per reviewer,
bench/loadgen.py in its own process): first a calm phase with nothing else, then the
soak, while threads of this process send hostile requests at `--hostile-factor` times
the valid rate (a seeded random.Random picks each one: unsigned and badly signed bodies,
stale timestamps, malformed JSON and forms, `payload=null`, empty actions, bodies over
the 1 MiB limit, crafted private_metadata, foreign teams, over-long texts, bad event ids)
and `--slow-clients` connections that send less than their Content-Length and hang.

Every second the server's process tree is read from /proc: RSS, threads, open file
descriptors and its TCP connections. Figures: valid clicks sent, answered 200 and
recorded exactly once (in the database, as bench/clicks.py checks it), their latency in
the calm phase and during the soak, hostile requests by class and status (a 5xx, a reset
or no answer is a failure), and each resource at the start, median, max and end of the
soak with its slope. Stored under "soak" in bench/results/<mode>-<label>.json (merged
into the stored run of that mode and label, if there is one); `python -m bench` runs it
as a stage. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from bench import report
from bench.clicks import (
    ESCALATION_CHANNEL,
    LEAD,
    Click,
    Progress,
    RoundRaw,
    build_clicks,
    check_database,
    import_items,
    quorum_server_env,
    review_dms,
    reviewers_for,
    run_round,
    setup_projects,
    summarize,
    wait_for_posts,
)
from bench.emulator_ext import BenchEmulator
from bench.servers import (
    BENCH_DIR,
    SIGNING_SECRET,
    Checkout,
    ScratchDb,
    ServerProcess,
    process_tree,
    scratch_db,
    start_quorum,
)
from bot.sandbox.slack_requests import SlackRequestSender

REPO = BENCH_DIR.parent
MODES: dict[str, dict[str, float]] = {
    "quick": {"seconds": 45.0, "calm_s": 10.0},
    "full": {"seconds": 180.0, "calm_s": 20.0},
}
PROJECT = "soak"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_BODY = 1024 * 1024  # QUORUM_HTTP_MAX_BODY_BYTES's default
BODY_TIMEOUT_S = 10.0  # QUORUM_HTTP_BODY_TIMEOUT_S's default: slow clients get 408 then
RESERVED = 2  # review DMs per reviewer that only hostile requests name, never clicked
TAIL_S = 3.0  # sampling after the hostile traffic stopped: do connections go back?


# ---- one raw HTTP exchange --------------------------------------------------------------


@dataclass
class Shot:
    """One hostile request: what is sent, in pieces (each after a pause, during which
    an early answer stops the sending), and the statuses a correct server answers."""

    kind: str
    variant: str
    pieces: list[tuple[float, bytes]]
    expected: frozenset[int]
    timeout_s: float = 10.0
    body_has: str | None = None  # a 200 must say this (an inline error, say)


def request_head(
    length: int | None,
    *,
    content_type: str | None = FORM,
    timestamp: str | None = None,
    signature: str | None = None,
    chunked: bool = False,
) -> bytes:
    lines = ["POST /slack/events HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    if timestamp is not None:
        lines.append(f"X-Slack-Request-Timestamp: {timestamp}")
    if signature is not None:
        lines.append(f"X-Slack-Signature: {signature}")
    lines.append("User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def signed(
    body: bytes, content_type: str | None = FORM, *, at: int | None = None, secret: str = ""
) -> bytes:
    """A whole request, signed as Slack signs it (for ``at``, default now)."""
    timestamp = int(time.time()) if at is None else at
    signature = SlackRequestSender.sign(secret or SIGNING_SECRET, timestamp, body)
    head = request_head(
        len(body), content_type=content_type, timestamp=str(timestamp), signature=signature
    )
    return head + body


def fire(port: int, shot: Shot) -> tuple[int, str, bytes]:
    """(status, error, start of the answer's body); status 0 = connection refused, reset
    or closed without an answer, -1 = no answer within the shot's timeout."""
    deadline = time.monotonic() + shot.timeout_s
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as exc:
        return 0, f"connect: {type(exc).__name__}", b""
    with sock:
        for pause, data in shot.pieces:
            if pause and select.select([sock], [], [], pause)[0]:
                break  # answered (or closed) before the body was all sent: read why
            try:
                sock.sendall(data)
            except OSError:
                break  # the server stopped reading; its answer says why
        return _answer(sock, deadline)


def _answer(sock: socket.socket, deadline: float) -> tuple[int, str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return -1, "no answer in time", b""
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return -1, "no answer in time", b""
        except OSError as exc:
            return 0, f"{type(exc).__name__} before the answer", b""
        if not chunk:
            return 0, "closed without an answer", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split()
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return 0, "not an HTTP answer", b""
    try:  # the start of the body, for the shots that check it; errors here are not failures
        while len(body) < 4096 and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
    except OSError:
        pass
    return status, "", body[:4096]


# ---- hostile requests -------------------------------------------------------------------


def form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def payload_of(click: Click) -> dict[str, Any]:
    return json.loads(parse_qs(click.body)["payload"][0])


@dataclass
class Target:
    """A review DM no valid click answers: hostile requests name it, nothing may record it."""

    user: str
    assignment_id: int
    payload: dict[str, Any]  # the block_actions payload a real click on it would send


class HostileMix:
    """Builds hostile requests, each kind as likely as the others, from one seeded
    random.Random (so a run's sequence of kinds and shapes is reproducible)."""

    def __init__(
        self,
        rng: random.Random,
        targets: list[Target],
        reviewers: list[str],
        response_url: Callable[[str], str],
    ) -> None:
        self.rng = rng
        self.targets = targets
        self.reviewers = reviewers
        # Live on the emulator, as Slack's are: a command's answer that goes there
        # must not fail on a made-up host.
        self.response_url = response_url
        self.kinds: dict[str, Callable[[], Shot]] = {
            "unsigned": self.unsigned,
            "bad signature": self.bad_signature,
            "stale timestamp": self.stale_timestamp,
            "malformed JSON": self.malformed_json,
            "malformed form": self.malformed_form,
            "payload=null and kin": self.null_payload,
            "empty or broken actions": self.empty_actions,
            "oversize body": self.oversize,
            "crafted private_metadata": self.crafted_metadata,
            "foreign team or org": self.foreign_team,
            "over-long text": self.over_long,
            "bad event id": self.bad_event_id,
        }

    def fast(self) -> Shot:
        return self.rng.choice(list(self.kinds.values()))()

    # -- pieces --

    def _target(self) -> Target:
        return self.rng.choice(self.targets)

    def _click(self) -> dict[str, Any]:
        """A real click's payload on a reserved DM, with a fresh action_ts."""
        payload = json.loads(json.dumps(self._target().payload))
        payload["actions"][0]["action_ts"] = f"{time.time():.6f}"
        return payload

    def _shot(self, kind: str, variant: str, data: bytes, expected: set[int], **extra: Any) -> Shot:
        return Shot(kind, variant, [(0.0, data)], frozenset(expected), **extra)

    def _view(self, user: str, callback_id: str, metadata: str, values: dict) -> dict[str, Any]:
        return {
            "type": "view_submission",
            "team": {"id": "T0QUORUM", "domain": "quorum-emulator"},
            "user": {"id": user, "team_id": "T0QUORUM"},
            "api_app_id": "A0QUORUM",
            "trigger_id": f"{int(time.time())}.1.{self.rng.getrandbits(64):x}",
            "view": {
                "id": f"V{self.rng.getrandbits(40):010X}",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": metadata,
                "state": {"values": values},
                "hash": "1.h",
            },
            "response_urls": [],
            "is_enterprise_install": False,
        }

    def _event(self, event_id: Any, team: str = "T0QUORUM") -> dict[str, Any]:
        user = self.rng.choice(self.reviewers)
        return {
            "token": "legacy-verification-token",
            "team_id": team,
            "api_app_id": "A0QUORUM",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "tab": "home"},
        }

    # -- the kinds --

    def unsigned(self) -> Shot:
        body = form(self._click())
        variant = self.rng.choice(["no headers", "signature only", "timestamp only"])
        timestamp = None if variant == "signature only" else str(int(time.time()))
        signature = f"v0={self.rng.getrandbits(256):064x}"
        head = request_head(
            len(body),
            timestamp=None if variant == "no headers" else timestamp,
            signature=signature if variant == "signature only" else None,
        )
        return self._shot("unsigned", variant, head + body, {401})

    def bad_signature(self) -> Shot:
        body = form(self._click())
        now = int(time.time())
        variant = self.rng.choice(["random", "other secret", "other body", "empty v0="])
        if variant == "random":
            signature = f"v0={self.rng.getrandbits(256):064x}"
        elif variant == "other secret":
            signature = SlackRequestSender.sign("not-the-secret", now, body)
        elif variant == "other body":  # a valid signature of the body before tampering
            signature = SlackRequestSender.sign(SIGNING_SECRET, now, body)
            body = body.replace(b"billing", b"bug", 1) + b"%20"
        else:
            signature = "v0="
        head = request_head(len(body), timestamp=str(now), signature=signature)
        return self._shot("bad signature", variant, head + body, {401})

    def stale_timestamp(self) -> Shot:
        offset = self.rng.choice([-1, 1]) * self.rng.randint(301, 86_400)
        variant = "old" if offset < 0 else "future"
        data = signed(form(self._click()), at=int(time.time()) + offset)
        return self._shot("stale timestamp", variant, data, {401})

    def malformed_json(self) -> Shot:
        envelope = json.dumps(self._event(f"Ev{self.rng.getrandbits(40):010X}"))
        variants = {
            "{": b"{",
            "truncated": envelope[: self.rng.randint(1, len(envelope) - 1)].encode(),
            "deep": b"[" * 50_000 + b"]" * 50_000,
            "null": b"null",
            "a string": b'"event_callback"',
            "text": bytes(self.rng.choices(b'abc{}[]:," 019', k=self.rng.randint(1, 300))),
        }
        variant = self.rng.choice([*variants, "not UTF-8"])
        if variant == "not UTF-8":  # the signature check already needs text: 401 or 400
            body = b'{"type": "' + bytes(self.rng.randint(0x80, 0xFF) for _ in range(40)) + b'"}'
            return self._shot("malformed JSON", variant, signed(body, JSON), {400, 401})
        return self._shot("malformed JSON", variant, signed(variants[variant], JSON), {400})

    def malformed_form(self) -> Shot:
        variants = {
            "payload=notjson": b"payload=notjson%20" + b"x" * self.rng.randint(0, 50),
            "payload={": b"payload=%7B",
            "bad escapes": b"payload=%ZZ%7B%G1",
            "no payload": b"foo=bar&baz=",
            "&&=": b"=&&=&payload",
            "payload={}": b"payload=%7B%7D",
            # Bolt reads a body that starts with "{" as JSON whatever the content type,
            # so a signed click sent that way is a click: only a broken one here.
            "JSON as a form": json.dumps({**self._click(), "actions": []}).encode(),
        }
        variant = self.rng.choice(list(variants))
        return self._shot("malformed form", variant, signed(variants[variant]), {400})

    def null_payload(self) -> Shot:
        variant = self.rng.choice(["null", "[]", "1", '"x"', "true"])
        data = signed(urlencode({"payload": variant}).encode())
        return self._shot("payload=null and kin", f"payload={variant}", data, {400})

    def empty_actions(self) -> Shot:
        payload = self._click()
        variant = self.rng.choice(["[]", "null", "[1]", "[{}]", "26 actions"])
        payload["actions"] = {
            "[]": [],
            "null": None,
            "[1]": [1],
            "[{}]": [{}],
            "26 actions": payload["actions"] * 26,
        }[variant]
        return self._shot("empty or broken actions", variant, signed(form(payload)), {400})

    def oversize(self) -> Shot:
        """Over the 1 MiB limit: announced (413 before any of it is read) or streamed
        without a length (413 once past it). The client sends in 64 KiB pieces and stops
        when answered, as an HTTP client that watches for an early answer does."""
        piece = b"payload=" + b"x" * (65536 - 8)
        if self.rng.random() < 0.5:
            length = MAX_BODY + self.rng.randint(1, MAX_BODY)
            head = request_head(length, timestamp=str(int(time.time())), signature="v0=00")
            pieces = [(0.0, head)] + [(0.02, piece)] * math.ceil(length / len(piece))
            return Shot("oversize body", "announced", pieces, frozenset({413}))
        head = request_head(None, chunked=True, timestamp=str(int(time.time())), signature="v0=")
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        pieces = [(0.0, head)] + [(0.005, chunk)] * (MAX_BODY // len(piece) + 4)
        pieces.append((0.005, b"0\r\n\r\n"))
        return Shot("oversize body", "streamed", pieces, frozenset({413}))

    def crafted_metadata(self) -> Shot:
        """Modal submissions whose private_metadata we never wrote: refused at once (200,
        nothing stored). `a` is never a real assignment, so a refusal is all it can get."""
        callbacks = {
            "correction": "quorum_correction",
            "rationale": "quorum_rationale",
            "flag": "quorum_flag_reason",
            "decide": "quorum_decide",
        }
        shapes = {
            "n=10^12": '{"a":1,"n":1000000000000,"j":[]}',
            "a=10^30": '{"a":' + "9" * 30 + "}",
            "a=-1": '{"a":-1}',
            "a as text": '{"a":"1"}',
            "a=1.5": '{"a":1.5}',
            "deep": "[" * 1400 + "]" * 1400,
            "not JSON": "{a:1",
            "j wrong": '{"a":1,"n":3,"j":["x"]}',
        }
        callback = self.rng.choice(list(callbacks))
        shape = self.rng.choice(list(shapes))
        if callback in ("rationale", "flag") and shape in ("n=10^12", "j wrong"):
            shape = "a=-1"  # `a` alone would be read as assignment 1 there
        user = self.rng.choice(self.reviewers)
        payload = self._view(user, callbacks[callback], shapes[shape], {})
        variant = f"{callback}, {shape}"
        return self._shot("crafted private_metadata", variant, signed(form(payload)), {200})

    def foreign_team(self) -> Shot:
        variant = self.rng.choice(["click T0OTHER", "click E0OTHER", "command", "event"])
        if variant == "click T0OTHER":
            payload = self._click()
            payload["team"] = {"id": "T0OTHER", "domain": "other"}
            payload["user"]["team_id"] = "T0OTHER"
            data = signed(form(payload))
        elif variant == "click E0OTHER":
            payload = self._click()
            payload["enterprise"] = {"id": "E0OTHER", "name": "Other org"}
            data = signed(form(payload))
        elif variant == "command":
            command = {
                "command": "/quorum",
                "text": "stats",
                "team_id": "T0OTHER",
                "user_id": self.rng.choice(self.reviewers),
                "trigger_id": "1.2.3",
                "response_url": self.response_url(self.reviewers[0]),
            }
            data = signed(urlencode(command).encode())
        else:
            envelope = self._event(f"Ev{self.rng.getrandbits(40):010X}", team="T0OTHER")
            data = signed(json.dumps(envelope).encode(), JSON)
        return self._shot("foreign team or org", variant, data, {403})

    def over_long(self) -> Shot:
        target = self._target()
        length = self.rng.randint(3001, 20_000)
        text = "".join(self.rng.choices("abcdef \n", k=length))
        variant = self.rng.choice(["rationale", "flag note", "command", "button value"])
        if variant in ("rationale", "flag note"):
            values: dict[str, Any] = {}
            callback = "quorum_rationale" if variant == "rationale" else "quorum_flag_reason"
            block = "rationale" if variant == "rationale" else "flag_note"
            values[block] = {"text": {"type": "plain_text_input", "value": text}}
            if variant == "flag note":
                option = {"text": {"type": "plain_text", "text": "Other"}, "value": "other"}
                values["flag_reason"] = {
                    "choice": {"type": "radio_buttons", "selected_option": option}
                }
            metadata = json.dumps({"a": target.assignment_id})
            payload = self._view(target.user, callback, metadata, values)
            data = signed(form(payload))  # the modal stays open with an inline error
            return self._shot("over-long text", variant, data, {200}, body_has="errors")
        if variant == "command":  # over the composer's 40,000: an explanation, nothing done
            command = {
                "command": "/quorum",
                "text": "pause " + "x" * (40_001 + length),
                "team_id": "T0QUORUM",
                "user_id": target.user,
                "trigger_id": "1.2.3",
                "response_url": self.response_url(target.user),
            }
            return self._shot("over-long text", variant, signed(urlencode(command).encode()), {200})
        payload = self._click()  # over a button value's 2,000: the envelope is refused
        payload["actions"][0]["value"] = text
        return self._shot("over-long text", variant, signed(form(payload)), {400})

    def bad_event_id(self) -> Shot:
        variants: dict[str, Any] = {
            "65 chars": "Ev" + "A" * 63,
            "punctuation": "Ev-1/../x",
            "lower-case prefix": "ev0123",
            "a number": 12,
            "empty": "",
            "Ev alone": "Ev",
            "a list": ["Ev1"],
        }
        variant = self.rng.choice(list(variants))
        body = json.dumps(self._event(variants[variant])).encode()
        return self._shot("bad event id", variant, signed(body, JSON), {400})

    def slow(self) -> Shot:
        """Less than the Content-Length, then silence or a byte every half second: the
        server gives up after its body deadline (408) and closes the connection."""
        body = form(self._click())
        head = request_head(len(body) + 4096, timestamp=str(int(time.time())), signature="v0=")
        timeout = BODY_TIMEOUT_S + 10
        if self.rng.random() < 0.5:
            pieces = [(0.0, head + body[:100])]
            return Shot("slow client", "stalls", pieces, frozenset({408}), timeout_s=timeout)
        pieces = [(0.0, head)] + [(0.5, body[i : i + 1]) for i in range(40)]
        return Shot("slow client", "drips", pieces, frozenset({408}), timeout_s=timeout)


@dataclass
class HostileResult:
    sent: Counter[str] = field(default_factory=Counter)  # kind -> requests
    statuses: dict[str, Counter[str]] = field(default_factory=dict)  # kind -> status -> n
    variants: dict[str, Counter[str]] = field(default_factory=dict)  # kind -> variant -> n
    unexpected: Counter[str] = field(default_factory=Counter)  # kind -> a 4xx/2xx not expected
    failures: Counter[str] = field(default_factory=Counter)  # kind -> 5xx, reset, no answer
    examples: list[dict[str, Any]] = field(default_factory=list)  # the first few of either
    latency_ms: dict[str, list[float]] = field(default_factory=dict)


class HostileTraffic:
    """`workers` threads sending hostile requests at `rate` per second in all, and
    `slow` threads each holding one slow connection at a time."""

    def __init__(
        self,
        port: int,
        targets: list[Target],
        reviewers: list[str],
        response_url: Callable[[str], str],
        *,
        rate: float,
        workers: int,
        slow: int,
        seed: int,
    ) -> None:
        self.port = port
        self.targets = targets
        self.reviewers = reviewers
        self.response_url = response_url
        self.rate = rate
        self.workers = workers
        self.slow = slow
        self.seed = seed
        self.result = HostileResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started = 0.0
        self.stopped = 0.0  # no new requests from here
        self.drained = 0.0  # the last answer

    def start(self) -> HostileTraffic:
        self.started = time.monotonic()
        for index in range(self.workers):
            self._spawn(self._fast, index)
        for index in range(self.slow):
            self._spawn(self._slow, index)
        return self

    def _spawn(self, target: Callable[[int], None], index: int) -> None:
        thread = threading.Thread(
            target=target, args=(index,), daemon=True, name=f"hostile-{index}"
        )
        thread.start()
        self._threads.append(thread)

    def _mix(self, index: int) -> HostileMix:
        rng = random.Random(f"{self.seed}:{index}")
        return HostileMix(rng, self.targets, self.reviewers, self.response_url)

    def _fast(self, index: int) -> None:
        mix = self._mix(index)
        interval = self.workers / self.rate
        next_at = self.started + index * interval / self.workers
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self._send(mix.fast())
            next_at = max(next_at + interval, time.monotonic())

    def _slow(self, index: int) -> None:
        mix = self._mix(self.workers + index)
        # Staggered, so that slow connections are held all through the soak, not in waves.
        while not self._stop.wait(index * BODY_TIMEOUT_S / self.slow):
            index = 0
            self._send(mix.slow())

    def _send(self, shot: Shot) -> None:
        sent = time.monotonic()
        try:
            status, error, body = fire(self.port, shot)
        except Exception as exc:  # a bug of ours, not the server's: counted, loudly
            status, error, body = 0, f"client error {exc!r}", b""
        elapsed_ms = (time.monotonic() - sent) * 1000
        failed = status >= 500 or status <= 0
        unexpected = not failed and (
            status not in shot.expected
            or (status == 200 and shot.body_has is not None and shot.body_has.encode() not in body)
        )
        with self._lock:
            r = self.result
            r.sent[shot.kind] += 1
            r.statuses.setdefault(shot.kind, Counter())[_status_name(status)] += 1
            r.variants.setdefault(shot.kind, Counter())[shot.variant] += 1
            r.latency_ms.setdefault(shot.kind, []).append(elapsed_ms)
            if failed:
                r.failures[shot.kind] += 1
            if unexpected:
                r.unexpected[shot.kind] += 1
            if (failed or unexpected) and len(r.examples) < 20:
                r.examples.append(
                    {
                        "kind": shot.kind,
                        "variant": shot.variant,
                        "status": status,
                        "error": error,
                        "expected": sorted(shot.expected),
                        "body": body[:200].decode("utf-8", "replace"),
                    }
                )

    def stop(self, timeout_s: float = BODY_TIMEOUT_S + 15) -> None:
        """No new requests; the slow ones in flight still get their answer (up to the
        server's body deadline), so that every request sent is counted."""
        if not self._stop.is_set():
            self.stopped = time.monotonic()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self.drained = time.monotonic()

    def summary(self) -> dict[str, Any]:
        r = self.result
        seconds = (self.stopped or time.monotonic()) - self.started
        kinds = {}
        for kind in sorted(r.sent, key=lambda k: -r.sent[k]):
            latencies = r.latency_ms.get(kind) or []
            kinds[kind] = {
                "sent": r.sent[kind],
                "statuses": dict(sorted(r.statuses[kind].items())),
                "variants": dict(sorted(r.variants[kind].items())),
                "unexpected": r.unexpected[kind],
                "failures": r.failures[kind],
                "p50_ms": statistics.median(latencies) if latencies else None,
                "max_ms": max(latencies) if latencies else None,
            }
        total = sum(r.sent.values())
        fast = total - r.sent["slow client"]
        return {
            "sent": total,
            "seconds": seconds,
            "drain_s": (self.drained - self.stopped) if self.drained else None,
            "per_s": fast / seconds if seconds else None,
            "target_per_s": self.rate,
            "workers": self.workers,
            "slow_clients": self.slow,
            "seed": self.seed,
            "failures": sum(r.failures.values()),
            "unexpected": sum(r.unexpected.values()),
            "kinds": kinds,
            "examples": r.examples,
        }


def _status_name(status: int) -> str:
    return {0: "reset/closed", -1: "no answer"}.get(status, str(status))


# ---- the server, from /proc --------------------------------------------------------------

TCP_STATES = {"01": "established", "08": "close_wait"}


def _status_fields(pid: int) -> dict[str, int]:
    found = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "Threads"):
                found[name] = int(value.split()[0])
    return found


def _sockets(pid: int) -> tuple[int, set[str]]:
    """(open fds, inodes of the socket fds) of one process."""
    inodes = set()
    fds = os.listdir(f"/proc/{pid}/fd")
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return len(fds), inodes


def _tcp(pid: int, inodes: set[str], port: int) -> Counter[str]:
    """The process's own TCP sockets by state: connections to its port ("in") and the
    ones it opened (database, Slack API: "out")."""
    counts: Counter[str] = Counter()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) < 10 or cols[9] not in inodes:
                continue
            state = TCP_STATES.get(cols[3])
            if state is None:
                continue
            local_port = int(cols[1].rsplit(":", 1)[1], 16)
            counts[f"{state}_{'in' if local_port == port else 'out'}"] += 1
    return counts


@dataclass
class Sample:
    t: float  # time.monotonic()
    rss_mib: float
    threads: int
    fds: int
    sockets: int
    conns_in: int  # established connections to the server's port
    conns_out: int  # established connections the server opened
    close_wait: int  # connections the client closed and the server has not
    load1: float


class ProcSampler:
    """The server's process tree, every `every_s` seconds, in a daemon thread."""

    def __init__(self, server: ServerProcess, every_s: float = 1.0) -> None:
        self.server = server
        self.every_s = every_s
        self.samples: list[Sample] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="proc-sampler")

    def start(self) -> ProcSampler:
        self._thread.start()
        return self

    def take(self) -> Sample:
        rss = threads = fds = 0
        inodes_total = 0
        tcp: Counter[str] = Counter()
        for pid in process_tree(self.server.pid):
            fields = _status_fields(pid)
            rss += fields.get("VmRSS", 0)
            threads += fields.get("Threads", 0)
            count, inodes = _sockets(pid)
            fds += count
            inodes_total += len(inodes)
            tcp += _tcp(pid, inodes, self.server.port)
        return Sample(
            t=time.monotonic(),
            rss_mib=rss / 1024,
            threads=threads,
            fds=fds,
            sockets=inodes_total,
            conns_in=tcp["established_in"],
            conns_out=tcp["established_out"],
            close_wait=tcp["close_wait_in"] + tcp["close_wait_out"],
            load1=os.getloadavg()[0],
        )

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            try:
                self.samples.append(self.take())
            except OSError:
                self.errors += 1  # the process is exiting
            next_at += self.every_s

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


METRICS = {
    "rss_mib": "RSS MiB",
    "threads": "threads",
    "fds": "open fds",
    "conns_in": "connections in",
    "conns_out": "connections out",
    "close_wait": "CLOSE_WAIT",
}


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope, per minute."""
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def resource_figures(samples: list[Sample], start: float, end: float) -> dict[str, Any]:
    """Per metric over the soak window [start, end]: the last sample before it (start),
    median, max, the last sample in it (end), the first after the tail (after), and the
    slope over the window and over its second half (past the ramp-up of the pools)."""
    before = [s for s in samples if s.t < start]
    window = [s for s in samples if start <= s.t <= end]
    after = [s for s in samples if s.t > end]
    half = start + (end - start) / 2
    out: dict[str, Any] = {"samples": len(window)}
    for key in METRICS:
        values = [getattr(s, key) for s in window]
        if not values:
            continue
        out[key] = {
            "start": getattr(before[-1], key) if before else values[0],
            "median": statistics.median(values),
            "max": max(values),
            "end": values[-1],
            "after": getattr(after[-1], key) if after else None,
            "slope_per_min": slope_per_min([(s.t - start, getattr(s, key)) for s in window]),
            "slope_per_min_2nd_half": slope_per_min(
                [(s.t - start, getattr(s, key)) for s in window if s.t >= half]
            ),
        }
    return out


# ---- the plot ----------------------------------------------------------------------------


def plot(soak: dict[str, Any], path: Path) -> str:
    """RSS, threads, fds and connections over time, phases shaded; the path written, or
    why nothing was."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "skipped: matplotlib is not installed"
    series = soak["series"]
    t = series["t"]
    phases = soak["phases"]
    panels = [
        ("RSS (MiB)", [("rss_mib", "RSS of the process tree")]),
        ("threads", [("threads", "threads")]),
        ("file descriptors", [("fds", "open fds"), ("sockets", "of which sockets")]),
        (
            "TCP connections",
            [
                ("conns_in", "established, to its port"),
                ("conns_out", "established, opened by it"),
                ("close_wait", "CLOSE_WAIT"),
            ],
        ),
    ]
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 9.5), sharex=True)
    for ax, (title, lines) in zip(axes, panels, strict=True):
        for key, label in lines:
            ax.plot(t, series[key], label=label, linewidth=1.2)
        ax.axvspan(phases["calm"][0], phases["calm"][1], color="tab:green", alpha=0.08)
        ax.axvspan(phases["soak"][0], phases["soak"][1], color="tab:red", alpha=0.08)
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        # Counts from 0; RSS zoomed in, or a leak of a few MiB would not show.
        if lines[0][0] != "rss_mib":
            ax.set_ylim(bottom=0, top=max(max(series[k]) for k, _ in lines) * 1.25 + 1)
        figures = soak["resources"].get(lines[0][0]) or {}
        if figures.get("slope_per_min") is not None:
            digits = 1 if lines[0][0] == "rss_mib" else 0
            ax.set_title(
                f"{lines[0][1]} during the soak: {figures['start']:.{digits}f} at the start, "
                f"median {figures['median']:.{digits}f}, max {figures['max']:.{digits}f}, "
                f"{figures['end']:.{digits}f} at the end; slope "
                f"{figures['slope_per_min']:+.{digits + 1}f}/min",
                fontsize=8,
                loc="right",
            )
        if len(lines) > 1:
            ax.legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel(
        "seconds since the review DMs were delivered "
        "(green: calm, valid clicks only; red: soak, with hostile traffic)"
    )
    valid, hostile = soak["valid"]["soak"], soak["hostile"]
    figure.suptitle(
        f"quorum serve ({soak['backend']}), {soak['config']['seconds']:g} s soak: "
        f"{valid['clicks']} valid clicks at {soak['config']['rate']:g}/s, "
        f"{hostile['sent']:,} hostile requests at {hostile['per_s'] or 0:.0f}/s",
        fontsize=10,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


# ---- one soak run -------------------------------------------------------------------------


def _server_log(log: Path) -> dict[str, Any]:
    """What the server logged: refusals (one line each), and anything that looks like
    an error, which a soak should not cause."""
    refused = errors = tracebacks = 0
    first_errors: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        if "refused" in line:
            refused += 1
        if "Traceback" in line:
            tracebacks += 1
        if " ERROR " in line or "CRITICAL" in line or "Traceback" in line:
            errors += 1
            if len(first_errors) < 5:
                first_errors.append(line[:300])
    return {
        "refusal_lines": refused,
        "error_lines": errors,
        "tracebacks": tracebacks,
        "first_errors": first_errors,
    }


def _latency(raw: RoundRaw) -> dict[str, Any]:
    s = summarize(raw)
    keys = ("clicks", "ok", "errors", "error_kinds", "over_3s", "p50_ms", "p95_ms", "p99_ms")
    out = {key: s[key] for key in keys}
    out.update({"max_ms": s["max_ms"], "seconds": s["seconds"], "per_s": s["throughput"]})
    return out


def run_soak(
    checkout: Checkout,
    db: ScratchDb,
    workdir: Path,
    *,
    seconds: float,
    calm_s: float,
    reviewers: int = 30,
    rate: float = 5.0,
    hostile_factor: float = 4.0,
    hostile_workers: int = 4,
    slow_clients: int = 3,
    seed: int = 0,
    progress: Progress,
    log: Callable[[str], None],
) -> dict[str, Any]:
    interval = reviewers / rate  # each reviewer's time between two clicks
    per_calm = math.ceil(calm_s / interval) + 1
    per_soak = math.ceil(seconds / interval) + 1
    needed = 1 + per_calm + per_soak + RESERVED + 1  # warm-up, calm, soak, reserved, spare
    items = math.ceil(reviewers * needed / 3)  # overlap 3, least-loaded: 3 * items / pool each
    people = reviewers_for("SOAK", reviewers)
    config = {
        "seconds": seconds,
        "calm_s": calm_s,
        "reviewers": reviewers,
        "rate": rate,
        "interval_s": interval,
        "hostile_factor": hostile_factor,
        "hostile_rate": hostile_factor * rate,
        "hostile_workers": hostile_workers,
        "slow_clients": slow_clients,
        "seed": seed,
        "items": items,
        "body_timeout_s": BODY_TIMEOUT_S,
    }
    result: dict[str, Any] = {
        "backend": db.backend,
        "started_at": datetime.now(UTC).isoformat(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "config": config,
    }
    emulator = BenchEmulator(bot_token="xoxb-emulator-token").start()
    server: ServerProcess | None = None
    sampler: ProcSampler | None = None
    traffic: HostileTraffic | None = None
    started = time.monotonic()
    try:
        emulator.add_user(LEAD)
        emulator.add_channel(ESCALATION_CHANNEL, "escalations")
        for user in people:
            emulator.add_user(user)
        env = quorum_server_env(checkout, db.url, emulator.api_url)
        setup_projects(checkout, env, workdir, {PROJECT: people})
        server = start_quorum(checkout, db.url, emulator.api_url, workdir, QUORUM_PACING_SCALE="0")
        import_items(checkout, env, workdir, {PROJECT: items})
        update = progress(f"soak, {db.backend}: review DMs delivered", 3 * items)
        delivered, _ = wait_for_posts(emulator, 3 * items, timeout_s=300, on_progress=update)
        result["setup"] = {"items": items, "dms": delivered, "seconds": time.monotonic() - started}
        if delivered < 3 * items:
            log(f"[red]soak: only {delivered} of {3 * items} review DMs arrived[/]")

        inbox = {user: review_dms(emulator, user) for user in people}
        short = [u for u in people if len(inbox[u]) < needed]
        if short:
            log(f"[yellow]soak: {len(short)} reviewers have fewer than {needed} DMs[/]")
        targets: list[Target] = []
        for user in people:
            for click in build_clicks(emulator, user, inbox[user][-RESERVED:]):
                targets.append(Target(user, click.assignment_id, payload_of(click)))
        valid = {user: inbox[user][:-RESERVED] for user in people}
        taken: Counter[str] = Counter()

        def next_clicks(count: int) -> list[list[Click]]:
            groups = []
            for user in people:
                messages = valid[user][taken[user] : taken[user] + count]
                taken[user] += len(messages)
                groups.append(build_clicks(emulator, user, messages))
            return [g for g in groups if g]

        sampler = ProcSampler(server).start()
        sampling_from = time.monotonic()
        # Warm-up: the first requests pay for imports and caches; not reported. At the
        # steady rate too, so the thread pools are already at the calm phase's size.
        warm = run_round(server, next_clicks(1), max_seconds=interval + 1, interval_s=interval)
        warm.server = "quorum-warmup"

        calm_groups = next_clicks(per_calm)
        calm_at = time.monotonic()
        cpu0 = server.cpu()
        calm = run_round(
            server,
            calm_groups,
            max_seconds=calm_s,
            interval_s=interval,
            on_progress=progress("soak: calm phase, valid clicks only", round(calm_s * rate)),
        )
        calm_cpu = server.cpu() - cpu0
        calm_end = time.monotonic()
        log(
            f"soak calm: {len(calm.status)} clicks, p50 {_ms(calm)} ms; "
            f"server CPU {calm_cpu / max(0.001, calm_end - calm_at):.0%}"
        )

        soak_groups = next_clicks(per_soak)
        traffic = HostileTraffic(
            server.port,
            targets,
            people,
            lambda user: emulator.response_url(channel=emulator.dm_channel(user), user=user),
            rate=hostile_factor * rate,
            workers=hostile_workers,
            slow=slow_clients,
            seed=seed,
        )
        soak_at = time.monotonic()
        cpu0 = server.cpu()
        traffic.start()
        soak = run_round(
            server,
            soak_groups,
            max_seconds=seconds,
            interval_s=interval,
            on_progress=progress(
                f"soak: valid clicks among {hostile_factor:g}x hostile traffic",
                round(seconds * rate),
            ),
        )
        soak_end = time.monotonic()
        soak_cpu = server.cpu() - cpu0
        traffic.stop()  # the slow clients in flight get their 408 first
        time.sleep(TAIL_S)
        sampler.stop()
        hostile = traffic.summary()
        log(
            f"soak: {len(soak.status)} valid clicks, p50 {_ms(soak)} ms; "
            f"{hostile['sent']:,} hostile requests, {hostile['failures']} failures, "
            f"{hostile['unexpected']} unexpected statuses"
        )

        stopped = server.stop()
        result["quorum_exit"] = {"code": stopped, "stop_s": server.stop_s, "killed": server.killed}
        result["server_log"] = _server_log(server.log)
        server = None
        rounds = [warm, calm, soak]
        check = check_database(db.engine(), rounds)
        reserved = {t.assignment_id for t in targets}
        from sqlalchemy import text

        with db.engine().connect() as connection:
            recorded = {
                int(a) for (a,) in connection.execute(text("SELECT assignment_id FROM response"))
            }
            events = {
                str(k): int(n)
                for k, n in connection.execute(
                    text("SELECT kind, COUNT(*) FROM event GROUP BY kind ORDER BY kind")
                )
            }
        check["hostile_targets"] = len(reserved)
        check["hostile_targets_recorded"] = len(reserved & recorded)
        check["events"] = events
        result["db_check"] = check

        calm_fig, soak_fig = _latency(calm), _latency(soak)
        calm_fig["server_cpu_share"] = calm_cpu / max(0.001, calm_end - calm_at)
        soak_fig["server_cpu_share"] = soak_cpu / max(0.001, soak_end - soak_at)
        measured = (calm, soak)
        result["valid"] = {
            "calm": calm_fig,
            "soak": soak_fig,
            "sent": sum(len(r.status) for r in measured),
            "answered_200": sum(1 for r in measured for s in r.status if s == 200),
            "warmup_clicks": len(warm.status),
        }
        result["hostile"] = hostile
        samples = sampler.samples
        result["resources"] = resource_figures(samples, soak_at, soak_end)
        result["tail_s"] = TAIL_S
        result["sampler_errors"] = sampler.errors
        base = sampling_from
        result["phases"] = {
            "calm": [calm_at - base, calm_end - base],
            "soak": [soak_at - base, soak_end - base],
        }
        result["series"] = {
            "t": [round(s.t - base, 2) for s in samples],
            **{
                key: [round(getattr(s, key), 2) for s in samples]
                for key in ("rss_mib", "threads", "fds", "sockets", "conns_in", "conns_out")
            },
            "close_wait": [s.close_wait for s in samples],
            "load1": [round(s.load1, 2) for s in samples],
        }
        result["emulator"] = {"calls": dict(emulator.status_counts())}
        result["ok"] = bool(
            hostile["failures"] == 0
            and check["exactly_once"]
            and check["hostile_targets_recorded"] == 0
            and result["valid"]["answered_200"] == result["valid"]["sent"]
        )
        result["duration_s"] = time.monotonic() - started
        return result
    finally:
        if traffic is not None:
            traffic.stop(timeout_s=1)
        if sampler is not None:
            sampler.stop()
        if server is not None:
            server.stop()
        emulator.stop()


def _ms(raw: RoundRaw) -> str:
    p50 = summarize(raw)["p50_ms"]
    return "–" if p50 is None else f"{p50:.0f}"


# ---- the command --------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="45 s of hostile traffic, not 180")
    parser.add_argument("--seconds", type=float, help="length of the soak (hostile traffic)")
    parser.add_argument("--calm-seconds", type=float, help="valid clicks alone, before it")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--reviewers", type=int, default=30)
    parser.add_argument("--rate", type=float, default=5.0, help="valid clicks per second")
    parser.add_argument(
        "--hostile-factor", type=float, default=4.0, help="hostile requests per valid click"
    )
    parser.add_argument("--slow-clients", type=int, default=3, help="slow connections at once")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkout", type=Path, default=REPO, help="code the server runs")
    parser.add_argument("--label", help="the stored run it is added to (default: from checkout)")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("QUORUM_TEST_PG", "postgresql://127.0.0.1:5432/test"),
    )
    parser.add_argument("--json", type=Path, help="also write the soak's figures here")
    parser.add_argument(
        "--no-write", action="store_true", help="store nothing, keep the docs and plot as they are"
    )
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "img" / "soak.png")
    return parser.parse_args(argv)


def store(soak: dict[str, Any], *, mode: str, label: str, checkout: Checkout) -> Path:
    """Under "soak" in the stored run of this mode and label (a new run holding only
    the soak when there is none), through report.save like every run."""
    path = report.RESULTS_DIR / f"{mode}-{report.slug(label)}.json"
    if path.exists():
        run = json.loads(path.read_text())
    else:
        run = {
            "label": label,
            "mode": mode,
            "started_at": soak["started_at"],
            "checkout": {"path": str(checkout.path), "sha": checkout.sha, "dirty": checkout.dirty},
            "machine": soak["machine"],
            "config": {},
            "clicks": {},
            "duration_s": soak["duration_s"],
        }
    run["soak"] = soak
    return report.save(run)


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from bench.__main__ import Ui  # the same progress bar and log as `python -m bench`
    from bench.machine import describe
    from bench.servers import postgres_version

    args = parse(argv)
    mode = "quick" if args.quick else "full"
    seconds = args.seconds or MODES[mode]["seconds"]
    calm_s = args.calm_seconds or MODES[mode]["calm_s"]
    console = Console(width=None if sys.stdout.isatty() else 200)
    checkout = Checkout.at(args.checkout)
    label = args.label or (
        "working tree" if checkout.path == REPO else f"commit {checkout.sha[:7]}"
    )
    probe = checkout.probe()
    pg = postgres_version(args.pg_admin_url) if args.backend == "postgres" else None
    console.rule(f"python -m bench.soak ({mode}, {seconds:g} s, {args.backend}): {label}")
    ui = Ui(console)
    try:
        with (
            ui.bar,
            tempfile.TemporaryDirectory(prefix="quorum-soak-") as tmp,
            scratch_db(args.backend, Path(tmp), args.pg_admin_url) as db,
        ):
            machine = describe(pg)
            soak = run_soak(
                checkout,
                db,
                Path(tmp),
                seconds=seconds,
                calm_s=calm_s,
                reviewers=args.reviewers,
                rate=args.rate,
                hostile_factor=args.hostile_factor,
                slow_clients=args.slow_clients,
                seed=args.seed,
                progress=ui.progress,
                log=ui.log,
            )
    except Exception:
        traceback.print_exc()
        return 1
    soak["machine"] = machine
    soak["checkout"] = {
        "sha": checkout.sha,
        "dirty": len(checkout.dirty),
        "server_kind": probe["server_kind"],
    }
    finish(soak, console, plot_to=None if args.no_write else args.plot)
    if args.json:
        args.json.write_text(json.dumps(soak, indent=1, default=str) + "\n")
        console.print(f"figures: {args.json}")
    if not args.no_write:
        path = store(soak, mode=mode, label=label, checkout=checkout)
        report.write_docs(args.doc, report.load_all())
        console.print(f"results: {path}; wrote {args.doc}")
    return 0 if soak["ok"] else 2


def finish(soak: dict[str, Any], console: Any, *, plot_to: Path | None) -> None:
    """Print the soak's tables, loudly when something failed, and draw the plot."""
    for table in report.rich_soak(soak):
        console.print(table)
    if plot_to is not None:
        soak["plot"] = plot(soak, plot_to)
        console.print(f"plot: {soak['plot']}")
    if not soak["ok"]:
        console.print(
            "[bold red]SOAK FAILED[/]: "
            f"{soak['hostile']['failures']} hostile requests got a 5xx, a reset or no answer; "
            f"valid {soak['valid']['answered_200']}/{soak['valid']['sent']} answered 200; "
            f"exactly once: {soak['db_check']['exactly_once']}; reserved DMs recorded: "
            f"{soak['db_check']['hostile_targets_recorded']}"
        )
        for example in soak["hostile"]["examples"][:10]:
            console.print(f"  {example}")


if __name__ == "__main__":
    sys.exit(main())
