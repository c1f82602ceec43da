"""The HTTP edge against hostile and broken requests: anything that is not a request Slack
sends gets a 4xx and one log line without the body, never a 5xx or a reset; one kind of
request, however it misbehaves, never takes the threads every other kind needs."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.runtime import server
from bot.runtime.server import REQUEST_KIND, ListenerExecutor
from bot.sandbox.harness import SlackSandbox
from bot.sandbox.slack_requests import SlackRequestSender
from bot.slack import ids
from tests.factories import REVIEWERS, response_of, slack_world, start_items

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SECRET_WORD = "hunter2-typed-by-a-person"


def form(payload: str) -> bytes:
    return urlencode({"payload": payload}).encode()


def interaction(**fields: Any) -> bytes:
    base = {"user": {"id": "U01ALICE"}, "team": {"id": "T0QUORUM"}}
    return form(json.dumps({**base, **fields}))


RAW_CLICK = json.dumps(
    {
        "type": "block_actions",
        "user": {"id": "U01ALICE"},
        "team": {"id": "T0QUORUM"},
        "actions": [{"action_id": "x"}],
    }
).encode()

MALFORMED: dict[str, tuple[bytes, str]] = {
    "payload=notjson": (form("notjson " + SECRET_WORD), FORM),
    "payload=null": (form("null"), FORM),
    "payload=[]": (form("[]"), FORM),
    "payload=1": (form("1"), FORM),
    "a { as JSON": (b"{", JSON),
    "JSON null": (b"null", JSON),
    "deep JSON": (b"[" * 100_000 + b"]" * 100_000, JSON),
    "empty body": (b"", FORM),
    "text/plain": (b"hello", "text/plain"),
    "no content type": (b"payload=%7B%7D", ""),
    "actions []": (interaction(type="block_actions", actions=[]), FORM),
    "actions null": (interaction(type="block_actions", actions=None), FORM),
    "an action that is a number": (interaction(type="block_actions", actions=[1]), FORM),
    "user a number": (
        form(json.dumps({"type": "block_actions", "user": 5, "actions": [{"action_id": "x"}]})),
        FORM,
    ),
    "view without a type": (
        interaction(type="view_submission", view={"callback_id": ids.RATIONALE_VIEW}),
        FORM,
    ),
    "event null": (
        json.dumps({"type": "event_callback", "team_id": "T0QUORUM", "event": None}).encode(),
        JSON,
    ),
    "event_id a number": (
        json.dumps(
            {
                "type": "event_callback",
                "team_id": "T0QUORUM",
                "event_id": 12,
                "event": {"type": "app_home_opened", "user": "U01ALICE"},
            }
        ).encode(),
        JSON,
    ),
    "unknown type": (json.dumps({"type": "something_else"}).encode(), JSON),
    "command without a user": (urlencode({"command": "/quorum", "text": "help"}).encode(), FORM),
    # Bolt would read both as a click; Slack sends interactions only as forms.
    "a click as raw JSON in a form": (RAW_CLICK, FORM),
    "a click as JSON": (RAW_CLICK, JSON),
}


@pytest.fixture
def sandbox(sqlite_url: str) -> Iterator[SlackSandbox]:
    with SlackSandbox(sqlite_url) as running:
        yield running


def test_malformed_requests_signed_or_not_get_a_4xx_and_one_line_without_the_body(sandbox, caplog):
    sender = sandbox.sender
    assert sender is not None
    caplog.set_level(logging.INFO)
    for case, (body, content_type) in MALFORMED.items():
        caplog.clear()
        signed = sender.post_raw(body, content_type=content_type)
        assert signed.status == 400, (case, signed.status, signed.body)
        refusals = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == 1, case
        assert "\n" not in refusals[0].getMessage() and refusals[0].exc_info is None
        assert SECRET_WORD not in caplog.text
        unsigned = sender.post_raw(body, content_type=content_type, signature="v0=00")
        assert unsigned.status == 401, case
    for timestamp in ("abc", "", "1e9", "-1", "9" * 40):
        bad = sender.post_raw(
            form("{}"), content_type=FORM, headers={"X-Slack-Request-Timestamp": timestamp}
        )
        assert bad.status == 401, timestamp


@pytest.fixture
def busy_world(sqlite_url: str, clock) -> Iterator[SlackSandbox]:  # type: ignore[no-untyped-def]
    """Production's threading (ack first, listeners on their own threads), with the eight
    listener threads the issue measured."""
    settings = {
        "quorum_process_before_response": False,
        "quorum_listener_threads": 8,
        "quorum_http_threads": 8,
    }
    with slack_world(sqlite_url, clock, **settings) as running:
        yield running


def crafted_submission(callback_id: str) -> dict:
    return {
        "type": "view_submission",
        "team": {"id": "T0QUORUM"},
        "user": {"id": "U01ALICE"},
        "view": {
            "id": "V0CRAFTED",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": '{"a":1,"n":1000000000000,"j":[]}',
            "state": {"values": {}},
        },
    }


def test_crafted_view_submissions_leave_later_clicks_recorded_promptly(busy_world, tmp_path: Path):
    sandbox = busy_world
    start_items(sandbox, tmp_path)
    sandbox.settle()
    reviewer = next(user for user in REVIEWERS if sandbox.dm(user))
    callbacks = [ids.CORRECTION_VIEW, ids.RATIONALE_VIEW, ids.FLAG_VIEW, "quorum_decide"] * 4
    with ThreadPoolExecutor(len(callbacks)) as pool:
        sent = list(
            pool.map(lambda c: sandbox.sender.post_payload(crafted_submission(c)), callbacks)
        )
    assert [r.status for r in sent] == [200] * len(callbacks)
    started = time.monotonic()
    click = sandbox.sender.click(reviewer, sandbox.latest_dm(reviewer), text="Confirm: billing")
    assert click.status == 200
    sandbox.wait_until(lambda: response_of(sandbox, reviewer), timeout_s=5)
    assert time.monotonic() - started < 2.0
    assert response_of(sandbox, reviewer).value == "billing"


def probe_body(action_id: str, value: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U01ALICE"},
        "team": {"id": "T0QUORUM"},
        "actions": [{"type": "button", "action_id": action_id, "value": value}],
    }
    return form(json.dumps(payload))


def test_requests_of_one_kind_that_hang_leave_threads_for_every_other_kind(sqlite_url, monkeypatch):
    monkeypatch.setattr(server, "QUEUE_WAIT_S", 2.5)  # the test's own patience
    overrides = {
        "quorum_process_before_response": False,
        "quorum_listener_threads": 4,
        "quorum_http_threads": 4,
    }
    release = threading.Event()
    with SlackSandbox(sqlite_url, settings_overrides=overrides) as sandbox:
        assert sandbox.runtime is not None and sandbox.sender is not None
        sender: SlackRequestSender = sandbox.sender

        def hang(ack: Any) -> None:
            ack()
            release.wait(15)

        # Names no Quorum listener has are one kind however many the caller makes up,
        # so fresh names per request do not get fresh shares of the threads.
        sandbox.runtime.app.action(re.compile("^hang"))(hang)
        pool = ThreadPoolExecutor(10)
        try:
            hanging = [
                pool.submit(sender.post_raw, probe_body(f"hang{n}", str(n)), content_type=FORM)
                for n in range(10)
            ]
            time.sleep(0.5)  # every thread the made-up names may hold is now held
            started = time.monotonic()
            # A real control (its value refused at once) is another kind: answered.
            answered = sender.post_raw(probe_body(ids.PAGE_NEXT, "junk"), content_type=FORM)
            assert answered.status == 200
            assert time.monotonic() - started < 1.0
            # The hanging kind's own overflow is told to come back, not queued forever.
            time.sleep(server.QUEUE_WAIT_S)
            release.set()
            statuses = sorted(f.result(20).status for f in hanging)
            assert set(statuses) <= {200, 429} and 429 in statuses
        finally:
            release.set()
            pool.shutdown(wait=True)


def test_listener_executor_keeps_a_thread_for_other_kinds_and_logs_overruns(caplog):
    executor = ListenerExecutor(2, budget_s=0.05)
    release = threading.Event()
    caplog.set_level(logging.WARNING)
    try:
        token = REQUEST_KIND.set("view_submission:slow")
        first = executor.submit(lambda: (release.wait(5), threading.get_ident())[1])
        second = executor.submit(threading.get_ident)  # its kind holds its share
        assert second.done() and second.result() == threading.get_ident()
        REQUEST_KIND.reset(token)
        other = executor.submit(lambda: (time.sleep(0.1), threading.get_ident())[1])
        assert other.result(5) != threading.get_ident()  # another kind gets a pool thread
        executor.submit(lambda: None)
        overruns = [r for r in caplog.records if "over its" in r.getMessage()]
        assert len(overruns) == 1 and "view_submission:slow" in overruns[0].getMessage()
        release.set()
        assert first.result(5) != threading.get_ident()
    finally:
        release.set()
        executor.shutdown()


def test_a_response_url_that_is_not_slacks_is_refused_and_never_called(sandbox):
    """The bot POSTs its answers to a request's response_url: a signed request naming
    another host (to make the bot call it) is refused before any listener runs."""
    sender = sandbox.sender
    assert sender is not None
    command = {
        "command": "/quorum",
        "text": "help",
        "user_id": "U01ALICE",
        "team_id": "T0QUORUM",
        "response_url": "https://attacker.example/hook",
    }
    refused = sender.post_raw(urlencode(command).encode(), content_type=FORM)
    assert refused.status == 400
    assert sender.slash_command("U01ALICE", "help").status == 200  # Slack's own still works
