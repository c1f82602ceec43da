"""Requests signed and shaped as Slack sends them, checked by slack_sdk's verifier and Bolt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_requests import SlackRequestSender

SECRET = "test-signing-secret"
Reply = Callable[[bytes, dict[str, str]], tuple[int, str]]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def payload(self) -> dict[str, Any]:
        return json.loads(self.form()["payload"])


class LocalApp:
    """A stand-in for the app's /slack/events endpoint, on 127.0.0.1 and a free port.

    By default it checks the signature with slack_sdk's SignatureVerifier (401 if bad,
    as Bolt answers) and acks with an empty 200; ``reply`` replaces that behaviour.
    """

    def __init__(self, reply: Reply | None = None) -> None:
        self.received: list[Received] = []
        self.next_body = ""
        verifier = SignatureVerifier(SECRET)
        outer = self

        def default(body: bytes, headers: dict[str, str]) -> tuple[int, str]:
            ok = verifier.is_valid(
                body=body,
                timestamp=headers.get("x-slack-request-timestamp", ""),
                signature=headers.get("x-slack-signature", ""),
            )
            return (200, outer.next_body) if ok else (401, '{"error": "invalid request"}')

        handle = reply or default

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.received.append(Received(headers, body))
                status, text = handle(body, headers)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def last(self) -> Received:
        return self.received[-1]


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        emu.add_user("U01ALICE", name="alice")
        emu.add_channel("C0ESCALATE", "escalations")
        yield emu


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(token=emulator.bot_token, base_url=emulator.api_url)


@pytest.fixture
def app() -> Iterator[LocalApp]:
    local = LocalApp()
    yield local
    local.close()


@pytest.fixture
def sender(app: LocalApp, emulator: SlackEmulator) -> SlackRequestSender:
    return SlackRequestSender(app.url, SECRET, emulator=emulator)


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


RATING_BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Rate the answer"}},
    {
        "type": "actions",
        "block_id": "rating",
        "elements": [
            {
                "type": "button",
                "action_id": f"rate_{v}",
                "text": {"type": "plain_text", "text": t},
                "value": v,
            }
            for t, v in (("4 – Good", "4g"), ("4", "4"), ("5 – Great", "5"))
        ],
    },
    {
        "type": "actions",
        "block_id": "pick",
        "elements": [
            {
                "type": "static_select",
                "action_id": "team",
                "placeholder": {"type": "plain_text", "text": "Team"},
                "options": [option("Billing", "billing"), option("Bug", "bug")],
            },
            {
                "type": "checkboxes",
                "action_id": "tags",
                "options": [option("Urgent", "urgent"), option("Refund", "refund")],
            },
        ],
    },
]

FORM_VIEW = {
    "type": "modal",
    "callback_id": "correct",
    "private_metadata": "item=t-1",
    "title": {"type": "plain_text", "text": "Correct"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "text",
            "label": {"type": "plain_text", "text": "Response"},
            "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
        },
        {
            "type": "input",
            "block_id": "label",
            "label": {"type": "plain_text", "text": "Label"},
            "element": {
                "type": "static_select",
                "action_id": "choice",
                "options": [option("Billing", "billing"), option("Bug", "bug")],
            },
        },
        {
            "type": "input",
            "block_id": "tags",
            "optional": True,
            "label": {"type": "plain_text", "text": "Tags"},
            "element": {
                "type": "checkboxes",
                "action_id": "picked",
                "options": [option("Urgent", "urgent"), option("Refund", "refund")],
            },
        },
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        },
    ],
}


def test_signature_matches_slack_sdk() -> None:
    body = b"payload=%7B%7D"
    expected = SignatureVerifier(SECRET).generate_signature(timestamp="1700000000", body=body)
    assert SlackRequestSender.sign(SECRET, 1700000000, body) == expected


def test_click_button_payload(
    app: LocalApp, sender: SlackRequestSender, emulator: SlackEmulator, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="U01ALICE", text="Rate", blocks=RATING_BLOCKS)
    message = emulator.message(posted["channel"], posted["ts"])

    assert sender.click("U01ALICE", message, text="4").status == 200
    assert app.last.headers["content-type"] == "application/x-www-form-urlencoded"
    payload = app.last.payload()
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": "U01ALICE",
        "username": "alice",
        "name": "alice",
        "team_id": "T0QUORUM",
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": posted["channel"],
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": posted["channel"], "name": "directmessage"}
    assert payload["team"]["id"] == "T0QUORUM" and payload["api_app_id"] == "A0QUORUM"
    assert payload["enterprise"] is None and payload["is_enterprise_install"] is False
    assert payload["message"]["ts"] == posted["ts"] and "channel" not in payload["message"]
    assert payload["message"]["blocks"] == message["blocks"]
    [action] = payload["actions"]
    assert {k: action[k] for k in ("type", "action_id", "block_id", "value")} == {
        "type": "button",
        "action_id": "rate_4",
        "block_id": "rating",
        "value": "4",
    }
    assert action["text"]["text"] == "4" and float(action["action_ts"]) > 0
    # Stateful elements of the message are reported, unselected.
    assert payload["state"]["values"]["pick"]["team"] == {
        "type": "static_select",
        "selected_option": None,
    }
    # The trigger id and response_url are live on the emulator.
    client.views_open(trigger_id=payload["trigger_id"], view=FORM_VIEW)
    assert payload["response_url"].startswith(emulator.base_url)

    sender.click("U01ALICE", message, text="5")  # no exact match: prefix
    assert app.last.payload()["actions"][0]["value"] == "5"
    sender.click("U01ALICE", message, action_id="rate_4g")
    assert app.last.payload()["actions"][0]["text"]["text"] == "4 – Good"
    with pytest.raises(LookupError, match="4 – Good"):
        sender.click("U01ALICE", message, text="Skip")


def test_click_selects_and_checkboxes(
    app: LocalApp, sender: SlackRequestSender, emulator: SlackEmulator, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="C0ESCALATE", text="Label", blocks=RATING_BLOCKS)
    message = emulator.message("C0ESCALATE", posted["ts"])

    sender.click("U01ALICE", message, action_id="team", selected="bug")
    payload = app.last.payload()
    assert payload["channel"] == {"id": "C0ESCALATE", "name": "escalations"}
    assert payload["actions"][0]["selected_option"] == option("Bug", "bug")
    assert payload["actions"][0]["type"] == "static_select"
    assert payload["state"]["values"]["pick"]["team"]["selected_option"]["value"] == "bug"

    sender.click("U01ALICE", message, action_id="tags", selected=["urgent", "refund"])
    action = app.last.payload()["actions"][0]
    assert [o["value"] for o in action["selected_options"]] == ["urgent", "refund"]

    sender.click("U01ALICE", message, text="5", values={"pick": {"tags": ["refund"]}})
    state = app.last.payload()["state"]["values"]["pick"]
    assert state["tags"] == {"type": "checkboxes", "selected_options": [option("Refund", "refund")]}

    with pytest.raises(LookupError, match="no option 'nope'"):
        sender.click("U01ALICE", message, action_id="team", selected="nope")


def test_click_on_ephemeral(
    app: LocalApp, sender: SlackRequestSender, emulator: SlackEmulator, client: WebClient
) -> None:
    client.chat_postEphemeral(channel="C0ESCALATE", user="U01ALICE", text="x", blocks=RATING_BLOCKS)
    [ephemeral] = emulator.ephemerals("U01ALICE")
    sender.click("U01ALICE", ephemeral, text="4")
    payload = app.last.payload()
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload


def test_submit_view_state_values(
    app: LocalApp, sender: SlackRequestSender, emulator: SlackEmulator, client: WebClient
) -> None:
    view = client.views_open(trigger_id=emulator.issue_trigger_id(), view=FORM_VIEW)["view"]
    values = {"text": {"value": "Fixed answer"}, "label": {"choice": "bug"}}
    values["tags"] = {"picked": ["refund"]}
    assert sender.submit_view("U01ALICE", view, values).status == 200

    payload = app.last.payload()
    assert payload["type"] == "view_submission" and payload["response_urls"] == []
    sent = payload["view"]
    assert (sent["id"], sent["hash"], sent["callback_id"], sent["private_metadata"]) == (
        view["id"],
        view["hash"],
        "correct",
        "item=t-1",
    )
    assert sent["state"]["values"] == {
        "text": {"value": {"type": "plain_text_input", "value": "Fixed answer"}},
        "label": {"choice": {"type": "static_select", "selected_option": option("Bug", "bug")}},
        "tags": {
            "picked": {"type": "checkboxes", "selected_options": [option("Refund", "refund")]}
        },
        "note": {"value": {"type": "plain_text_input", "value": None}},
    }
    assert not emulator.is_view_open(view["id"])  # an empty ack closes the modal

    with pytest.raises(LookupError, match="no input text.typo"):
        sender.submit_view("U01ALICE", view, {"text": {"typo": "x"}})


def test_view_submission_answers_apply_to_the_modal(
    app: LocalApp, sender: SlackRequestSender, emulator: SlackEmulator, client: WebClient
) -> None:
    view = client.views_open(trigger_id=emulator.issue_trigger_id(), view=FORM_VIEW)["view"]
    app.next_body = json.dumps({"response_action": "errors", "errors": {"text": "Say more"}})
    answer = sender.submit_view("U01ALICE", view, {"text": {"value": "x"}})
    assert answer.json()["errors"] == {"text": "Say more"}
    assert emulator.is_view_open(view["id"])

    done = {
        **FORM_VIEW,
        "blocks": [FORM_VIEW["blocks"][0]],
        "title": {"type": "plain_text", "text": "Saved"},
    }
    app.next_body = json.dumps({"response_action": "update", "view": done})
    sender.submit_view("U01ALICE", view, {"text": {"value": "longer"}})
    assert emulator.view(view["id"])["title"]["text"] == "Saved"
    # The next submission is of the view as it is now.
    app.next_body = ""
    sender.submit_view("U01ALICE", view, {"text": {"value": "again"}})
    assert list(app.last.payload()["view"]["state"]["values"]) == ["text"]


def test_click_in_view(app: LocalApp, sender: SlackRequestSender, client: WebClient) -> None:
    home = {"type": "home", "blocks": RATING_BLOCKS}
    published = client.views_publish(user_id="U01ALICE", view=home)["view"]
    sender.click_in_view("U01ALICE", published, text="4 – Good")
    payload = app.last.payload()
    assert payload["container"] == {"type": "view", "view_id": published["id"]}
    assert payload["view"]["id"] == published["id"] and payload["view"]["type"] == "home"
    assert payload["actions"][0]["value"] == "4g"
    assert "channel" not in payload and "message" not in payload


def test_slash_command(
    app: LocalApp, sender: SlackRequestSender, emulator: SlackEmulator, client: WebClient
) -> None:
    app.next_body = json.dumps({"text": "Your queue is empty"})
    assert sender.slash_command("U01ALICE", "status support-intent").status == 200
    form = app.last.form()
    assert app.last.headers["content-type"] == "application/x-www-form-urlencoded"
    assert {k: form[k] for k in ("command", "text", "user_id", "user_name", "channel_id")} == {
        "command": "/quorum",
        "text": "status support-intent",
        "user_id": "U01ALICE",
        "user_name": "alice",
        "channel_id": "C0GENERAL",
    }
    assert form["channel_name"] == "general" and form["team_id"] == "T0QUORUM"
    assert form["api_app_id"] == "A0QUORUM" and form["team_domain"] == "quorum-emulator"
    client.views_open(trigger_id=form["trigger_id"], view=FORM_VIEW)
    assert form["response_url"].startswith(emulator.base_url)
    # Slack shows a command's ack text to the user who ran it.
    assert [e["text"] for e in emulator.ephemerals("U01ALICE")] == ["Your queue is empty"]


def test_events_and_retries(app: LocalApp, sender: SlackRequestSender) -> None:
    message = {"type": "message", "channel": "C0ESCALATE", "user": "U01ALICE", "text": "hi"}
    first = sender.event(message)
    envelope = json.loads(app.last.body)
    assert app.last.headers["content-type"] == "application/json"
    assert envelope["type"] == "event_callback" and envelope["event_id"] == first.event_id
    assert envelope["event"]["text"] == "hi" and envelope["event"]["event_ts"]
    assert envelope["authorizations"][0]["user_id"] == "U0QUORUMBOT"
    assert "x-slack-retry-num" not in app.last.headers

    again = sender.event(message, event_id=first.event_id, retry_num=1)
    assert again.event_id == first.event_id and again.status == 200
    assert app.last.headers["x-slack-retry-num"] == "1"
    assert app.last.headers["x-slack-retry-reason"] == "http_timeout"
    assert json.loads(app.last.body)["event_id"] == first.event_id


def test_app_home_opened(
    app: LocalApp, sender: SlackRequestSender, emulator: SlackEmulator, client: WebClient
) -> None:
    sender.app_home_opened("U01ALICE")
    event = json.loads(app.last.body)["event"]
    assert event["type"] == "app_home_opened" and event["tab"] == "home"
    assert event["channel"] == emulator.dm_channel("U01ALICE") and "view" not in event
    home = {"type": "home", "blocks": RATING_BLOCKS[:1]}
    published = client.views_publish(user_id="U01ALICE", view=home)["view"]
    sender.app_home_opened("U01ALICE", event_id="EvHOME1")
    envelope = json.loads(app.last.body)
    assert envelope["event_id"] == "EvHOME1" and envelope["event"]["view"]["id"] == published["id"]


def test_bad_signatures_are_refused(app: LocalApp, sender: SlackRequestSender) -> None:
    body = b"payload=%7B%7D"
    form = "application/x-www-form-urlencoded"
    assert sender.post_raw(body, content_type=form).status == 200
    old = int(time.time()) - 6 * 60
    assert sender.post_raw(body, content_type=form, timestamp=old).status == 401
    forged = SlackRequestSender.sign("other-secret", int(time.time()), body)
    assert sender.post_raw(body, content_type=form, signature=forged).status == 401
    response = sender.post_raw(body, content_type=form, signature="v0=00")
    assert response.status == 401 and response.json() == {"error": "invalid request"}


def test_without_emulator(app: LocalApp) -> None:
    sender = SlackRequestSender(app.url, SECRET)
    message = {"channel": "C0ESCALATE", "ts": "1700000000.000100", "text": "x"}
    message["blocks"] = RATING_BLOCKS
    assert sender.click("U01ALICE", message, text="4").status == 200
    payload = app.last.payload()
    assert payload["response_url"].startswith("https://hooks.slack.com/actions/")
    assert payload["trigger_id"] and payload["user"]["username"] == "u01alice"


class BoltServer:
    """Serves a Bolt app's dispatch over HTTP, as `quorum serve` would."""

    def __init__(self, bolt: App) -> None:
        def reply(body: bytes, headers: dict[str, str]) -> tuple[int, str]:
            response = bolt.dispatch(BoltRequest(body=body.decode(), headers=headers))
            return response.status, response.body

        self.local = LocalApp(reply)
        self.url = self.local.url


def test_end_to_end_with_bolt(emulator: SlackEmulator) -> None:
    """A real Bolt app: verifies our signatures, answers through the emulator."""
    bolt = App(
        client=WebClient(token=emulator.bot_token, base_url=emulator.api_url),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @bolt.command("/quorum")
    def open_form(ack: Any, command: dict[str, Any], client: WebClient) -> None:
        client.views_open(trigger_id=command["trigger_id"], view=FORM_VIEW)
        ack(text="Opening the form")

    @bolt.action("rate_4")
    def rated(ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        ack()
        container = body["container"]
        client.chat_update(
            channel=container["channel_id"], ts=container["message_ts"], text="You chose 4"
        )
        respond(text="Saved")

    @bolt.view("correct")
    def submitted(ack: Any, view: dict[str, Any]) -> None:
        if not view["state"]["values"]["text"]["value"]["value"]:
            ack(response_action="errors", errors={"text": "Required"})
        else:
            ack()

    @bolt.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(
            user_id=event["user"], view={"type": "home", "blocks": RATING_BLOCKS[:1]}
        )

    server = BoltServer(bolt)
    try:
        sender = SlackRequestSender(server.url, SECRET, emulator=emulator)
        assert sender.slash_command("U01ALICE").status == 200
        [modal] = emulator.views_opened()
        assert [e["text"] for e in emulator.ephemerals("U01ALICE")] == ["Opening the form"]

        answer = sender.submit_view("U01ALICE", modal, {"text": {"value": ""}})
        assert answer.json() == {"response_action": "errors", "errors": {"text": "Required"}}
        assert emulator.is_view_open(modal["id"])
        assert sender.submit_view("U01ALICE", modal, {"text": {"value": "ok"}}).status == 200
        assert not emulator.is_view_open(modal["id"])

        client = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
        posted = client.chat_postMessage(channel="U01ALICE", text="Rate", blocks=RATING_BLOCKS)
        sender.click("U01ALICE", emulator.message(posted["channel"], posted["ts"]), text="4")
        message = emulator.message(posted["channel"], posted["ts"])
        assert (message["text"], message["blocks"]) == ("You chose 4", [])
        assert emulator.ephemerals("U01ALICE")[-1]["text"] == "Saved"

        assert sender.app_home_opened("U01ALICE").status == 200
        assert emulator.home_view("U01ALICE") is not None

        tampered = sender.post_raw(
            b"payload=%7B%7D", content_type="application/x-www-form-urlencoded", signature="v0=bad"
        )
        assert tampered.status == 401
    finally:
        server.local.close()
