"""The HTTP server in front of Bolt: body limits and deadlines, Slack's signature checked
on the raw body before anything parses it, a bounded pool that stalled clients do not
hold, and acks that never wait behind other requests' work."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.runtime.server import ListenerExecutor
from bot.sandbox.harness import SANDBOX_SECRET, SlackSandbox
from bot.sandbox.slack_requests import SlackRequestSender

FORM = "application/x-www-form-urlencoded"
LIMIT = 4096
DEADLINE_S = 0.5


@pytest.fixture
def served(sqlite_url: str) -> Iterator[SlackSandbox]:
    """The real app on the real server, with a small body limit, a short body deadline
    and one request thread."""
    overrides = {
        "quorum_http_max_body_bytes": LIMIT,
        "quorum_http_body_timeout_s": DEADLINE_S,
        "quorum_http_threads": 1,
    }
    with SlackSandbox(sqlite_url, settings_overrides=overrides) as sandbox:
        yield sandbox


def url_of(sandbox: SlackSandbox) -> str:
    assert sandbox.runtime is not None and sandbox.runtime.http is not None
    return sandbox.runtime.http.url


def port_of(sandbox: SlackSandbox) -> int:
    assert sandbox.runtime is not None and sandbox.runtime.http is not None
    return sandbox.runtime.http.port


def probe(sandbox: SlackSandbox, action_id: str = "probe") -> list[str]:
    """A listener on the real app that records each value it is called with."""
    seen: list[str] = []

    def on_probe(ack: Any, action: dict) -> None:
        seen.append(action["value"])
        ack()

    assert sandbox.runtime is not None
    sandbox.runtime.app.action(action_id)(on_probe)
    return seen


def click_body(value: str = "x", action_id: str = "probe") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U01ALICE", "team_id": "T0QUORUM"},
        "team": {"id": "T0QUORUM", "domain": "quorum"},
        "api_app_id": "A0QUORUM",
        "token": "legacy-verification-token",
        "trigger_id": "1.2.3",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "probe-block",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def signed_headers(body: bytes, *, timestamp: int | None = None, content_type: str = FORM):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": SlackRequestSender.sign(SANDBOX_SECRET, timestamp, body),
    }


def open_request(port: int, head: str, body: bytes = b"") -> socket.socket:
    """A raw connection that has sent request headers (and maybe part of a body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.encode() + body)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    return reply


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def events_head(length: str, *, extra: str = "") -> str:
    return (
        "POST /slack/events HTTP/1.1\r\nHost: quorum\r\n"
        f"Content-Type: {FORM}\r\n{length}{extra}\r\n"
    )


# -- limits ----------------------------------------------------------------------------


def test_a_body_over_the_limit_gets_413_before_it_is_read(served):
    seen = probe(served)
    started = time.monotonic()
    sock = open_request(port_of(served), events_head(f"Content-Length: {50 * LIMIT}\r\n"))
    reply = read_until_closed(sock)  # nothing of the body was sent: answered from the headers
    assert status_of(reply) == 413
    assert time.monotonic() - started < DEADLINE_S  # not the body deadline
    assert seen == []


def test_a_body_without_a_length_is_cut_off_at_the_limit(served):
    seen = probe(served)
    sock = open_request(port_of(served), events_head("Transfer-Encoding: chunked\r\n"))
    chunk = b"a" * 1000
    for _ in range(5):  # 5,000 bytes: past the 4,096 limit, and the body never ends
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    reply = read_until_closed(sock)
    assert status_of(reply) == 413
    assert seen == []


def test_a_body_at_the_limit_is_accepted(served):
    seen = probe(served)
    body = click_body("fits")
    body += b"&pad=" + b"p" * (LIMIT - len(body) - 5)
    assert len(body) == LIMIT
    status, _ = post(f"{url_of(served)}/slack/events", body, signed_headers(body))
    assert status == 200 and seen == ["fits"]


def test_a_stalled_body_is_closed_after_the_deadline_and_holds_no_thread(served):
    url, port = url_of(served), port_of(served)
    started = time.monotonic()
    # Three clients announce 100 bytes and send 10: more than the one request thread.
    stalled = [
        open_request(port, events_head("Content-Length: 100\r\n"), b"payload=12") for _ in range(3)
    ]
    assert get(f"{url}/healthz")[0] == 200
    challenge = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"})
    body = challenge.encode()
    headers = signed_headers(body, content_type="application/json")
    status, reply = post(f"{url}/slack/events", body, headers)
    assert status == 200 and json.loads(reply) == {"challenge": "c-123"}
    assert time.monotonic() - started < DEADLINE_S  # answered at once, before any deadline

    for sock in stalled:
        reply_bytes = read_until_closed(sock)  # the server closes the connection
        assert status_of(reply_bytes) == 408
    elapsed = time.monotonic() - started
    assert DEADLINE_S * 0.9 <= elapsed < DEADLINE_S + 2.0
    # and the server still answers at once afterwards
    assert (
        post(f"{url}/slack/events", body, signed_headers(body, content_type="application/json"))[0]
        == 200
    )


# -- the signature ---------------------------------------------------------------------


def test_unsigned_forged_stale_and_garbled_requests_get_401_and_reach_no_listener(served):
    seen = probe(served)
    events = f"{url_of(served)}/slack/events"
    body = click_body("forged")
    now = int(time.time())
    stale = now - 6 * 60
    cases = {
        "unsigned": {"Content-Type": FORM},
        "forged": {**signed_headers(body), "X-Slack-Signature": "v0=" + "0" * 64},
        "signed for another body": {
            **signed_headers(body),
            "X-Slack-Signature": SlackRequestSender.sign(SANDBOX_SECRET, now, b"payload=%7B%7D"),
        },
        "stale": signed_headers(body, timestamp=stale),
        "timestamp not a number": {
            **signed_headers(body),
            "X-Slack-Request-Timestamp": "soon",
        },
        "no timestamp": {
            "Content-Type": FORM,
            "X-Slack-Signature": signed_headers(body)["X-Slack-Signature"],
        },
    }
    for case, headers in cases.items():
        status, reply = post(events, body, headers)
        assert (status, json.loads(reply)) == (401, {"error": "invalid request"}), case
    # Not parsed: an unsigned body that is not even JSON is refused, not a parse error.
    status, _ = post(events, b"payload=notjson", {"Content-Type": FORM})
    assert status == 401
    status, _ = post(events, b"\xff\xfe not utf-8", {"Content-Type": FORM})
    assert status == 401
    assert seen == []

    signed = click_body("genuine")
    status, _ = post(events, signed, signed_headers(signed))
    assert status == 200 and seen == ["genuine"]


def test_healthz_and_other_paths(served):
    url = url_of(served)
    status, body = get(f"{url}/healthz")
    assert status == 200 and json.loads(body) == {"ok": True}
    assert get(f"{url}/nothing-here")[0] == 404
    assert post(f"{url}/slack/other", b"", {})[0] == 404
    assert get(f"{url}/slack/events")[0] == 405  # only POST


def test_kept_alive_connections_are_answered_without_nagle_delay(served):
    """A pipeline's client keeps its connection open; without TCP_NODELAY each answer's
    body waited for the client's delayed ACK (40 ms a request). Connections accepted
    from the listener inherit the option."""
    sock = served.runtime.http.sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    with socket.create_connection(("127.0.0.1", port_of(served)), timeout=10) as client:
        for _ in range(3):  # three answers on one connection
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: quorum\r\n\r\n")
            reply = b""
            while not reply.endswith(b'{"ok":true}'):
                reply += client.recv(65536)
            assert status_of(reply) == 200


# -- threads -----------------------------------------------------------------------------


def test_an_ack_never_waits_for_a_busy_listener_thread(sqlite_url):
    """Bolt acks first (process_before_response off, as in production) and hands each
    listener to its listener threads; with the only one busy, the next listener runs in
    its own request's thread, so its ack comes at once instead of after Slack's 3 s."""
    overrides = {"quorum_process_before_response": False, "quorum_listener_threads": 1}
    with SlackSandbox(sqlite_url, settings_overrides=overrides) as sandbox:
        assert sandbox.runtime is not None
        release = threading.Event()
        busy = threading.Event()

        def slow(ack: Any) -> None:
            ack()
            busy.set()
            release.wait(10)  # holds the only listener thread

        sandbox.runtime.app.action("slow")(slow)
        fast = probe(sandbox, "fast")
        events = f"{url_of(sandbox)}/slack/events"
        try:
            body = click_body("s", action_id="slow")
            assert post(events, body, signed_headers(body))[0] == 200
            assert busy.wait(5)
            started = time.monotonic()
            body = click_body("f", action_id="fast")
            assert post(events, body, signed_headers(body))[0] == 200
            assert time.monotonic() - started < 1.0
            assert fast == ["f"]
        finally:
            release.set()


def test_listener_executor_runs_in_the_caller_when_every_thread_is_busy():
    executor = ListenerExecutor(1)
    release = threading.Event()
    try:
        first = executor.submit(lambda: (release.wait(5), threading.get_ident())[1])
        here = executor.submit(threading.get_ident)  # the only thread is busy
        assert here.done() and here.result() == threading.get_ident()
        release.set()
        assert first.result(5) != threading.get_ident()
        time.sleep(0.05)  # the thread is free again
        again = executor.submit(threading.get_ident)
        assert again.result(5) != threading.get_ident()
        failed = executor.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failed.result(5)
    finally:
        release.set()
        executor.shutdown()
