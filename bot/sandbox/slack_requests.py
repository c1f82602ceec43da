"""Send the app the requests Slack sends: signed interactions, slash commands and events.

Tests drive the real Bolt app over HTTP with payloads shaped like Slack's (block_actions,
view_submission, slash commands, Events API envelopes), signed with the signing secret as
Slack signs them, so request verification is never switched off. With an emulator, the
trigger ids and response_urls in those payloads are live on the emulator, and the app's
answers to view submissions and commands are shown there as Slack would show them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.slack_emulator import SlackEmulator

_STATEFUL = {
    "plain_text_input",
    "static_select",
    "multi_static_select",
    "checkboxes",
    "radio_buttons",
}
_SINGLE_CHOICE = {"static_select", "radio_buttons", "overflow"}
_MULTI_CHOICE = {"multi_static_select", "checkboxes"}


@dataclass
class SlackHttpResponse:
    """The app's HTTP answer; ``event_id`` is set for Events API requests."""

    status: int
    body: str
    headers: dict[str, str]
    event_id: str | None = field(default=None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SlackRequestSender:
    """Builds Slack's request payloads and POSTs them to the app, signed."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        emulator: SlackEmulator | None = None,
        team_id: str = "T0QUORUM",
        enterprise_id: str | None = None,
        api_app_id: str = "A0QUORUM",
        timeout: float = 10.0,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.emulator = emulator
        self.team_id = team_id
        self.enterprise_id = enterprise_id  # an Enterprise Grid org, as Slack names it
        self.api_app_id = api_app_id
        self.timeout = timeout
        self.verification_token = "legacy-verification-token"

    # ---- interactions ---------------------------------------------------------------------

    def click(
        self,
        user: str,
        message: dict[str, Any],
        *,
        text: str | None = None,
        action_id: str | None = None,
        selected: str | list[str] | None = None,
        channel: str | None = None,
        values: dict[str, dict[str, object]] | None = None,
    ) -> SlackHttpResponse:
        """Press a button (by visible text or action_id) or choose options in a message.

        ``values`` (block_id -> action_id -> value) is what the user chose earlier in other
        selects/checkboxes of the same message; Slack sends it in ``state.values``.
        """
        channel_id = channel or message.get("channel")
        if not channel_id:
            raise ValueError("message has no 'channel'; pass channel=")
        blocks = message.get("blocks") or []
        block, element = _find_element(blocks, text=text, action_id=action_id)
        action = _action(block, element, selected)
        state = _state_values(blocks, _with_selection(values, block, element, selected))
        ephemeral = bool(message.get("is_ephemeral"))
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            },
            "trigger_id": self._trigger_id(user),
            "team": self._team(),
            "enterprise": self._enterprise(),
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "state": {"values": state},
            "response_url": self._response_url(channel_id, message["ts"], user),
            "actions": [action],
        }
        if not ephemeral:
            payload["message"] = _as_posted(message)
        return self.post_payload(payload)

    def click_in_view(
        self,
        user: str,
        view: dict[str, Any],
        *,
        text: str | None = None,
        action_id: str | None = None,
        selected: str | list[str] | None = None,
        values: dict[str, dict[str, object]] | None = None,
    ) -> SlackHttpResponse:
        """Press a button or choose options inside a modal or the Home tab."""
        view = self._current_view(view)
        blocks = view.get("blocks") or []
        block, element = _find_element(blocks, text=text, action_id=action_id)
        action = _action(block, element, selected)
        state = _state_values(blocks, _with_selection(values, block, element, selected))
        payload = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": self._trigger_id(user),
            "team": self._team(),
            "enterprise": self._enterprise(),
            "is_enterprise_install": False,
            "view": {**view, "state": {"values": state}},
            "actions": [action],
        }
        return self.post_payload(payload)

    def submit_view(
        self, user: str, view: dict[str, Any], values: dict[str, dict[str, object]]
    ) -> SlackHttpResponse:
        """Submit a modal with ``values[block_id][action_id]`` = str or list[str].

        With an emulator, the app's answer is applied to the modal as Slack would
        (closed, updated, pushed, or kept open on ``response_action: errors``).
        """
        view = self._current_view(view)
        state = _state_values(view.get("blocks") or [], values, strict=True)
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(user),
            "view": {**view, "state": {"values": state}},
            "response_urls": [],
            "enterprise": self._enterprise(),
            "is_enterprise_install": False,
        }
        response = self.post_payload(payload)
        if self.emulator is not None and response.status == 200 and view.get("id"):
            self.emulator.apply_view_response(view["id"], _json_or_none(response.body))
        return response

    def slash_command(
        self, user: str, text: str = "", *, command: str = "/quorum", channel: str = "C0GENERAL"
    ) -> SlackHttpResponse:
        """Run a slash command; a text/blocks ack body is shown to the user as Slack would."""
        form = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self._team()["domain"],
            "channel_id": channel,
            "channel_name": self._channel_name(channel),
            "user_id": user,
            "user_name": self._user(user)["username"],
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel, None, user),
            "trigger_id": self._trigger_id(user),
        }
        body = urlencode(form).encode()
        response = self.post_raw(body, content_type="application/x-www-form-urlencoded")
        if self.emulator is not None and response.status == 200 and response.body.strip():
            # A plain-text ack body is shown as that text; a JSON one as a message.
            answer = _json_or_none(response.body)
            if not isinstance(answer, dict):
                answer = {"text": response.body}
            if answer.get("text") or answer.get("blocks"):
                self.emulator.deliver_response(answer, channel=channel, user=user)
        return response

    # ---- events ---------------------------------------------------------------------------

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> SlackHttpResponse:
        """Deliver an Events API envelope; the id used is in the response's ``event_id``.

        Pass the same ``event_id`` with ``retry_num`` to replay a delivery as Slack's retries do.
        """
        event_id = event_id or f"Ev{secrets.token_hex(5).upper()}"
        now = int(time.time())
        event = {"event_ts": f"{time.time():.6f}", **event}
        bot_user = self.emulator.bot_user_id if self.emulator else "U0QUORUMBOT"
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "enterprise_id": self.enterprise_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": now,
            "authorizations": [
                {
                    "enterprise_id": self.enterprise_id,
                    "team_id": self.team_id,
                    "user_id": bot_user,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_urlsafe(24)}",
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        response = self.post_raw(
            json.dumps(envelope).encode(), content_type="application/json", headers=headers
        )
        response.event_id = event_id
        return response

    def app_home_opened(self, user: str, *, event_id: str | None = None) -> SlackHttpResponse:
        """The event Slack sends when ``user`` opens the app's Home tab."""
        event: dict[str, Any] = {"type": "app_home_opened", "user": user, "tab": "home"}
        if self.emulator is not None:
            event["channel"] = self.emulator.dm_channel(user)
            home = self.emulator.home_view(user)
            if home is not None:
                event["view"] = home
        else:
            event["channel"] = f"D{user[1:]}"
        return self.event(event, event_id=event_id)

    # ---- raw transport --------------------------------------------------------------------

    def post_raw(
        self,
        body: bytes,
        *,
        content_type: str,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SlackHttpResponse:
        """POST a body signed for ``timestamp`` (default now), or with a forged ``signature``."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = signature or self.sign(self.signing_secret, timestamp, body)
        request = urllib.request.Request(self.app_url, data=body, method="POST")
        request.add_header("Content-Type", content_type)
        request.add_header("X-Slack-Request-Timestamp", str(timestamp))
        request.add_header("X-Slack-Signature", signature)
        request.add_header("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return SlackHttpResponse(
                    reply.status,
                    reply.read().decode(),
                    {k.lower(): v for k, v in reply.headers.items()},
                )
        except urllib.error.HTTPError as err:
            return SlackHttpResponse(
                err.code, err.read().decode(), {k.lower(): v for k, v in err.headers.items()}
            )

    @staticmethod
    def sign(signing_secret: str, timestamp: int, body: bytes) -> str:
        """Slack's v0 signature: HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
        base = b"v0:" + str(timestamp).encode() + b":" + body
        return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()

    # ---- helpers --------------------------------------------------------------------------

    def post_payload(self, payload: Any) -> SlackHttpResponse:
        """POST any interaction payload, signed, as Slack sends them (a form field)."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post_raw(body, content_type="application/x-www-form-urlencoded")

    def _enterprise(self) -> dict[str, str] | None:
        return {"id": self.enterprise_id, "name": "Emulated org"} if self.enterprise_id else None

    def _user(self, user_id: str) -> dict[str, Any]:
        found = self.emulator.user(user_id) if self.emulator else None
        name = found["name"] if found else user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        domain = self.emulator.team_domain if self.emulator else "quorum-emulator"
        return {"id": self.team_id, "domain": domain}

    def _channel_name(self, channel_id: str) -> str:
        if self.emulator is not None:
            return self.emulator.channel_name(channel_id)
        return "directmessage" if channel_id.startswith("D") else channel_id.lower()

    def _trigger_id(self, user: str) -> str:
        if self.emulator is not None:
            return self.emulator.issue_trigger_id(user)
        return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"

    def _response_url(self, channel: str, message_ts: str | None, user: str) -> str:
        if self.emulator is not None:
            return self.emulator.response_url(channel=channel, message_ts=message_ts, user=user)
        return f"https://hooks.slack.com/actions/{self.team_id}/1/{secrets.token_urlsafe(18)}"

    def _current_view(self, view: dict[str, Any]) -> dict[str, Any]:
        """Slack submits the view as it is now, which may be newer than the caller's copy."""
        if self.emulator is not None and view.get("id"):
            current = self.emulator.view(view["id"])
            if current is not None:
                return current
        return view


def _as_posted(message: dict[str, Any]) -> dict[str, Any]:
    """The message object Slack puts in block_actions payloads (no emulator-only fields)."""
    out = {k: v for k, v in message.items() if k not in ("channel", "metadata") and v is not None}
    out.setdefault("type", "message")
    return out


def _interactive(blocks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) for every interactive element, in display order."""
    found = []
    for block in blocks:
        if block.get("type") == "actions":
            found += [(block, e) for e in block.get("elements", [])]
        for key in ("accessory", "element"):
            element = block.get(key)
            if isinstance(element, dict) and element.get("type") != "image":
                found.append((block, element))
    return found


def _find_element(
    blocks: list[dict[str, Any]], *, text: str | None, action_id: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Find by action_id, or by visible button text: exact match first, then prefix."""
    if (text is None) == (action_id is None):
        raise ValueError("pass exactly one of text= or action_id=")
    candidates = _interactive(blocks)
    if action_id is not None:
        for block, element in candidates:
            if element.get("action_id") == action_id:
                return block, element
    else:
        labelled = [
            (b, e, (e.get("text") or e.get("placeholder") or {}).get("text", ""))
            for b, e in candidates
        ]
        for match in (lambda s: s == text, lambda s: s.startswith(text)):
            for block, element, label in labelled:
                if label and match(label):
                    return block, element
    visible = [
        (e.get("text") or {}).get("text") or f"<{e.get('type')} {e.get('action_id')}>"
        for _, e in candidates
    ]
    wanted = f"text {text!r}" if text is not None else f"action_id {action_id!r}"
    raise LookupError(f"no element with {wanted}; the message has: {visible}")


def _option(element: dict[str, Any], value: str) -> dict[str, Any]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options", [])
    for option in options:
        if option.get("value") == value:
            return {k: v for k, v in option.items() if k in ("text", "value", "description")}
    raise LookupError(
        f"{element.get('action_id')}: no option {value!r} among {[o.get('value') for o in options]}"
    )


def _action(
    block: dict[str, Any], element: dict[str, Any], selected: str | list[str] | None
) -> dict[str, Any]:
    """The ``actions[0]`` entry Slack sends for an element."""
    element_type = element.get("type")
    action: dict[str, Any] = {
        "type": element_type,
        "action_id": element.get("action_id"),
        "block_id": block.get("block_id"),
        "action_ts": f"{time.time():.6f}",
    }
    if element_type == "button":
        action["text"] = element["text"]
        for key in ("value", "style", "url"):
            if key in element:
                action[key] = element[key]
    elif element_type in _SINGLE_CHOICE:
        if not isinstance(selected, str):
            raise ValueError(f"{element_type} needs selected=<option value>")
        action["selected_option"] = _option(element, selected)
    elif element_type in _MULTI_CHOICE:
        chosen = [selected] if isinstance(selected, str) else list(selected or [])
        action["selected_options"] = [_option(element, v) for v in chosen]
    else:
        raise ValueError(f"clicking a {element_type} element is not supported")
    if "placeholder" in element:
        action["placeholder"] = element["placeholder"]
    return action


def _state_values(
    blocks: list[dict[str, Any]], given: dict[str, dict[str, object]], *, strict: bool = False
) -> dict[str, dict[str, Any]]:
    """``state.values`` as Slack builds it: every stateful element, given values or initial."""
    state: dict[str, dict[str, Any]] = {}
    known: set[tuple[str, str]] = set()
    for block, element in _interactive(blocks):
        element_type = element.get("type")
        if element_type not in _STATEFUL:
            continue
        block_id, action_id = block.get("block_id", ""), element.get("action_id", "")
        known.add((block_id, action_id))
        if block_id in given and action_id in given[block_id]:
            value: Any = given[block_id][action_id]
        else:
            value = _initial(element)
        state.setdefault(block_id, {})[action_id] = _state_entry(element, value)
    if strict:
        for block_id, actions in given.items():
            for action_id in actions:
                if (block_id, action_id) not in known:
                    raise LookupError(
                        f"no input {block_id}.{action_id} in the view; it has "
                        f"{sorted(f'{b}.{a}' for b, a in known)}"
                    )
    return state


def _with_selection(
    values: dict[str, dict[str, object]] | None,
    block: dict[str, Any],
    element: dict[str, Any],
    selected: str | list[str] | None,
) -> dict[str, dict[str, object]]:
    """Earlier choices plus the one being made now."""
    merged = {block_id: dict(actions) for block_id, actions in (values or {}).items()}
    if selected is not None:
        merged.setdefault(block.get("block_id", ""), {})[element.get("action_id", "")] = selected
    return merged


def _initial(element: dict[str, Any]) -> Any:
    element_type = element.get("type")
    if element_type == "plain_text_input":
        return element.get("initial_value")
    if element_type in _MULTI_CHOICE:
        return [o["value"] for o in element.get("initial_options") or []]
    initial = element.get("initial_option")
    return initial["value"] if initial else None


def _state_entry(element: dict[str, Any], value: Any) -> dict[str, Any]:
    element_type = element["type"]
    if element_type == "plain_text_input":
        return {"type": element_type, "value": value if value != "" else None}
    if element_type in _MULTI_CHOICE:
        chosen = [value] if isinstance(value, str) else list(value or [])
        return {"type": element_type, "selected_options": [_option(element, v) for v in chosen]}
    return {
        "type": element_type,
        "selected_option": _option(element, str(value)) if value is not None else None,
    }


def _json_or_none(body: str) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
