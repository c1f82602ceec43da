"""manifest.yml against the app: every listener the app registers is reachable through the
manifest (commands listed, events subscribed, interactivity on), every action id and
modal of the reviewer experience reaches a listener through the real app, and the
manifest asks for exactly the scopes of the Web API methods the app calls."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from bot import REPO_ROOT
from bot.runtime.context import QuorumContext
from bot.slack import ids
from handlers import register_listeners
from tests.factories import make_settings

MANIFEST = yaml.safe_load((REPO_ROOT / "manifest.yml").read_text())
REQUEST_URL = "https://YOUR-HOST/slack/events"

# The scopes each Web API method the app calls needs (https://api.slack.com/methods).
# A method missing here fails the test: adding a Slack call means deciding its scope.
METHOD_SCOPES: dict[str, set[str]] = {
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.delete": {"chat:write"},
    "chat.getPermalink": set(),
    "conversations.open": {"im:write"},
    # History is read in DMs (im) and in escalation channels, public or private.
    "conversations.history": {"im:history", "channels:history", "groups:history"},
    "conversations.replies": {"im:history", "channels:history", "groups:history"},
    "views.open": set(),
    "views.push": set(),
    "views.update": set(),
    "views.publish": set(),
    "users.info": {"users:read"},
    "usergroups.users.list": {"usergroups:read"},
    "auth.test": set(),
    "files.getUploadURLExternal": {"files:write"},
    "files.completeUploadExternal": {"files:write"},
    "files.info": {"files:read"},
}
CLIENT_CALL = re.compile(
    r"\bclient\.((?:chat|conversations|views|users|usergroups|auth|files)_\w+)\("
)


class RecordingApp:
    """Stands in for a Bolt App: records what register_listeners binds."""

    def __init__(self) -> None:
        self.bound: dict[str, list[object]] = {}

    def _record(self, kind: str, constraint: object):  # type: ignore[no-untyped-def]
        self.bound.setdefault(kind, []).append(constraint)
        return lambda listener: listener

    def action(self, constraint):  # type: ignore[no-untyped-def]
        return self._record("action", constraint)

    def view(self, constraint):  # type: ignore[no-untyped-def]
        return self._record("view", constraint)

    def command(self, constraint):  # type: ignore[no-untyped-def]
        return self._record("command", constraint)

    def event(self, constraint):  # type: ignore[no-untyped-def]
        return self._record("event", constraint)

    def options(self, constraint):  # type: ignore[no-untyped-def]
        return self._record("options", constraint)

    def shortcut(self, constraint):  # type: ignore[no-untyped-def]
        return self._record("shortcut", constraint)

    def message(self, constraint=None):  # type: ignore[no-untyped-def]
        return self._record("message", constraint)

    def middleware(self, function):  # type: ignore[no-untyped-def]
        self.bound.setdefault("middleware", []).append(function)
        return function

    def error(self, function):  # type: ignore[no-untyped-def]
        self.bound.setdefault("error", []).append(function)
        return function


@pytest.fixture(scope="module")
def bound() -> dict[str, list[object]]:
    app = RecordingApp()
    ctx = QuorumContext(engine=None, settings=make_settings("sqlite://"))  # type: ignore[arg-type]
    register_listeners(app, ctx)
    return app.bound


def _name(constraint: object) -> str:
    if isinstance(constraint, re.Pattern):
        return constraint.pattern
    if isinstance(constraint, dict):
        return json.dumps(constraint, sort_keys=True)
    return str(constraint)


def test_every_command_the_app_registers_is_in_the_manifest_and_back(bound):
    commands = MANIFEST["features"]["slash_commands"]
    assert {c["command"] for c in commands} == {_name(c) for c in bound["command"]}
    assert all(c["url"] == REQUEST_URL and c["description"] for c in commands)


def test_every_event_the_app_listens_to_is_subscribed_and_back(bound):
    subscriptions = MANIFEST["settings"]["event_subscriptions"]
    assert subscriptions["request_url"] == REQUEST_URL
    assert set(subscriptions["bot_events"]) == {_name(e) for e in bound["event"]}


def test_actions_and_modals_arrive_through_interactivity(bound):
    assert bound["action"] and bound["view"]
    interactivity = MANIFEST["settings"]["interactivity"]
    assert interactivity == {"is_enabled": True, "request_url": REQUEST_URL}
    assert "shortcut" not in bound and "options" not in bound  # none declared in the manifest


def test_listener_failures_go_through_one_error_boundary(bound):
    assert len(bound["error"]) == 1


def test_every_reviewer_action_and_modal_has_a_listener(bound):
    registered = {_name(c) for c in bound["action"]}
    assert {_name(a) for a in ids.ACTIONS} <= registered
    assert set(ids.VIEW_CALLBACKS) <= {_name(v) for v in bound["view"]}


def test_app_home_and_socket_mode_settings():
    home = MANIFEST["features"]["app_home"]
    assert home["home_tab_enabled"] is True and home["messages_tab_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is False
    info = MANIFEST["display_information"]
    assert len(info["description"]) <= 140 and 175 <= len(info["long_description"]) <= 4000
    assert MANIFEST["features"]["bot_user"]["display_name"]


def called_methods() -> set[str]:
    """Web API methods the app's code calls (bot/ and handlers/, not the sandbox)."""
    methods = set()
    for folder in ("bot", "handlers"):
        for path in Path(REPO_ROOT, folder).rglob("*.py"):
            if "sandbox" in path.parts:
                continue
            for name in CLIENT_CALL.findall(path.read_text()):
                family, method = name.split("_", 1)
                methods.add(f"{family}.{method.replace('_', '.')}")
    return methods


def test_the_manifest_asks_for_exactly_the_scopes_the_app_uses(bound):
    methods = called_methods()
    assert {"chat.postMessage", "views.publish", "conversations.open"} <= methods
    unknown = methods - set(METHOD_SCOPES)
    assert not unknown, f"add the scopes of {sorted(unknown)} to METHOD_SCOPES"
    needed = set().union(*(METHOD_SCOPES[m] for m in methods))
    if bound.get("command"):
        needed.add("commands")
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


# --- through the running app ----------------------------------------------------------------


@pytest.fixture
def sandbox(sqlite_url: str, clock):  # type: ignore[no-untyped-def]
    from bot.sandbox.harness import SlackSandbox

    with SlackSandbox(sqlite_url, users=["U01ALICE"], clock=clock) as running:
        yield running


def _sample_action_id(action: object) -> str:
    if isinstance(action, re.Pattern):
        return {
            ids.ANSWER_PATTERN.pattern: "quorum_answer:0",
            ids.RATE_PATTERN.pattern: "quorum_rate:3",
            ids.STEP_PATTERN.pattern: "quorum_step:1",
        }[action.pattern]
    return str(action)


def _element(action_id: str) -> dict:
    value = json.dumps({"a": 999, "v": "x", "k": "helpfulness", "s": 3})
    if action_id in (ids.PICK_LABEL, ids.RATE_SELECT) or action_id.startswith(ids.STEP):
        option = {"text": {"type": "plain_text", "text": "3"}, "value": "3"}
        return {"type": "static_select", "action_id": action_id, "options": [option]}
    if action_id == ids.TICK_LABELS:
        option = {"text": {"type": "plain_text", "text": "x"}, "value": "x"}
        return {"type": "checkboxes", "action_id": action_id, "options": [option]}
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": "x"},
        "value": value,
    }


def test_each_reviewer_action_modal_command_and_event_reaches_a_listener(sandbox):
    """Bolt answers 404 to a request no listener matched; each of ours gets a 200."""
    for action in ids.ACTIONS:
        action_id = _sample_action_id(action)
        element = _element(action_id)
        block_id = "rate:999:0" if action_id == ids.RATE_SELECT else "answer:999"
        message = {
            "ts": "1.000001",
            "channel": "D01ALICE",
            "blocks": [{"type": "actions", "block_id": block_id, "elements": [element]}],
        }
        selected = (
            "3"
            if element["type"] == "static_select"
            else (["x"] if element["type"] == "checkboxes" else None)
        )
        response = sandbox.sender.click("U01ALICE", message, action_id=action_id, selected=selected)
        assert response.status == 200, (action_id, response.status, response.body)
    for callback in ids.VIEW_CALLBACKS:
        view = {
            "id": "V0TEST",
            "type": "modal",
            "callback_id": callback,
            "private_metadata": '{"a": 999}',
            "blocks": [],
        }
        response = sandbox.sender.submit_view("U01ALICE", view, {})
        assert response.status == 200, (callback, response.body)
    assert sandbox.sender.slash_command("U01ALICE", "help").status == 200
    assert sandbox.sender.app_home_opened("U01ALICE").status == 200
    # The check can fail: an action nobody listens to is refused.
    stray = {
        "ts": "1.000002",
        "channel": "D01ALICE",
        "blocks": [{"type": "actions", "block_id": "x", "elements": [_element("not_ours")]}],
    }
    assert sandbox.sender.click("U01ALICE", stray, action_id="not_ours").status == 404
    called = {call.method for call in sandbox.emulator.calls}
    assert called <= set(METHOD_SCOPES), called - set(METHOD_SCOPES)
