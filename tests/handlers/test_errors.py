"""The listeners' one error boundary: a failure is logged once, saying what was being
handled and for whom, never what a person typed, and Slack still gets Bolt's error."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient

from bot.sandbox.slack_emulator import SlackEmulator
from handlers import errors

TYPED = "a rationale only the lead should see"


@pytest.fixture
def app() -> Iterator[App]:
    """A Bolt app with only the error boundary, its Web API calls going to the emulator."""
    with SlackEmulator(bot_token="xoxb-emulator-token") as emulator:
        bolt = App(
            client=WebClient(token=emulator.bot_token, base_url=emulator.api_url),
            signing_secret="test-signing-secret",
            request_verification_enabled=False,
            process_before_response=True,
        )
        errors.register(bolt)
        yield bolt


def interaction(payload: dict[str, Any]) -> BoltRequest:
    return BoltRequest(
        body="payload=" + quote(json.dumps(payload)),
        headers={"content-type": ["application/x-www-form-urlencoded"]},
    )


def test_a_failing_view_submission_is_logged_once_and_answered_with_bolts_error(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.view("decide")
    def submitted(ack: Ack, view: dict[str, Any]) -> None:
        raise RuntimeError("the service failed")

    caplog.set_level(logging.DEBUG)
    response = app.dispatch(
        interaction(
            {
                "type": "view_submission",
                "user": {"id": "U09LEAD"},
                "team": {"id": "T0QUORUM"},
                "view": {
                    "type": "modal",
                    "callback_id": "decide",
                    "state": {"values": {"rationale": {"text": {"value": TYPED}}}},
                },
            }
        )
    )
    assert response.status == 500
    failures = [r for r in caplog.records if r.getMessage().startswith("listener failed")]
    assert len(failures) == 1
    assert failures[0].getMessage() == (
        "listener failed (type=view_submission callback_id=decide user=U09LEAD team=T0QUORUM)"
    )
    assert failures[0].exc_info is not None and "the service failed" in caplog.text
    assert TYPED not in caplog.text


def test_the_request_is_described_by_its_ids_only() -> None:
    click = {
        "type": "block_actions",
        "user": {"id": "U01ALICE"},
        "team": {"id": "T0QUORUM"},
        "actions": [{"action_id": "answer:3", "value": '{"a": 3, "v": "billing"}'}],
    }
    assert errors.describe_request(click) == (
        "type=block_actions action_id=answer:3 user=U01ALICE team=T0QUORUM"
    )
    command = {"command": "/quorum", "text": "pause please", "user_id": "U02BOB", "team_id": "T1"}
    assert errors.describe_request(command) == (
        "type=slash_command command=/quorum user=U02BOB team=T1"
    )
    event = {
        "type": "event_callback",
        "team_id": "T1",
        "event": {"type": "app_home_opened", "user": "U03CARA", "tab": "home"},
    }
    assert errors.describe_request(event) == (
        "type=event_callback event=app_home_opened user=U03CARA team=T1"
    )
