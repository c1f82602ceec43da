"""A local Slack Web API emulator: a real HTTP server for the real ``slack_sdk.WebClient``.

There is no Slack here, so tests and ``quorum demo`` point the bot at this server
(``WebClient(token=..., base_url=emulator.api_url)``). It answers like Slack does
(``{"ok": false, "error": ...}`` with HTTP 200 for API errors, 429 + ``Retry-After`` when
rate limited), keeps channels, messages, ephemerals and views, validates Block Kit with
Slack's limits, and can inject faults, so the bot's retry and pacing code is exercised
for real. Every call is recorded for assertions.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import math
import random
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.sandbox.slack_files import (
    DEFAULT_FILE_PROCESSING_S,
    FILE_SCOPES,
    ApiError,
    SlackFiles,
)
from bot.slack.blockkit import validate_message_blocks, validate_view

_log = logging.getLogger(__name__)
TRIGGER_TTL_SECONDS = 3.0
MAX_MESSAGE_TEXT = 40_000
_JSON_FIELDS = ("blocks", "view", "metadata", "attachments")
_ID_CHARS = string.ascii_letters + string.digits
# The bot token's scopes (manifest.yml); `revoke_scope` takes one away to test missing_scope.
DEFAULT_SCOPES = frozenset(
    {
        "chat:write",
        "im:write",
        "im:history",
        "channels:history",
        "groups:history",
        "users:read",
        "usergroups:read",
        "commands",
        "files:write",  # files.getUploadURLExternal / completeUploadExternal
        "files:read",  # files.info (and so files_upload_v2)
    }
)
# Slack's rate-limit tiers, per method per workspace and minute, where the emulator
# enforces them by default (Tier 2: about 20 a minute). Others only via `rate_limits`.
DEFAULT_RATE_LIMITS = {"usergroups.users.list": 20}
# Scopes a method needs, checked by the emulator (missing_scope, as Slack answers).
METHOD_SCOPES = {"usergroups.users.list": "usergroups:read", **FILE_SCOPES}


@dataclass
class RecordedCall:
    """One Web API call as the emulator saw and answered it.

    ``args`` are the parsed arguments without the token; ``status`` 0 means the connection
    was dropped on purpose; ``at`` is read from the emulator's clock (``time.monotonic``
    unless one was injected).
    """

    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    status: int
    at: float


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    drop_connection: bool


RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_S = 30 * 60


@dataclass
class _Binding:
    """What a response_url or command answer refers to: where and for whom."""

    channel: str | None
    message_ts: str | None
    user: str | None
    created: float = 0.0
    uses: int = 0


class _ApiError(ApiError):
    """An error answer of the emulator's own methods (the file methods raise ApiError)."""


class SlackEmulator:
    """The emulated workspace: users, channels, messages, views, and the HTTP server."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-emulator-token",
        team_id: str = "T0QUORUM",
        bot_user_id: str = "U0QUORUMBOT",
        bot_id: str = "B0QUORUMBOT",
        app_id: str = "A0QUORUM",
        team_domain: str = "quorum-emulator",
        rate_limits: dict[str, int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        file_processing_s: float = DEFAULT_FILE_PROCESSING_S,
    ) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.team_domain = team_domain
        self._clock = clock
        # How long Slack takes to process a completed upload (files.info, image blocks).
        self.file_processing_s = file_processing_s
        self._lock = threading.RLock()
        self._rate_limits: dict[str, int] = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self.scopes: set[str] = set(DEFAULT_SCOPES)
        self._rate_windows: dict[str, deque[float]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._disabled_usergroups: set[str] = set()
        self._last_ts = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.api_url = ""
        self._clear_state()
        self.add_user(bot_user_id, name="quorum", is_bot=True)
        self.add_channel("C0GENERAL", "general")

    def _clear_state(self) -> None:
        self.calls: list[RecordedCall] = []
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._opened: list[str] = []
        self._open_modals: set[str] = set()
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, tuple[float, str | None]] = {}
        self._used_triggers: set[str] = set()
        self._responses: dict[str, _Binding] = {}
        self._response_posts: list[dict[str, Any]] = []
        self._opened_dms: set[str] = set()
        self._files = SlackFiles(self)

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> SlackEmulator:
        """Serve on a free port of 127.0.0.1 from a daemon thread."""
        handler = type("_BoundHandler", (_Handler,), {"emulator": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.api_url = f"{self.base_url}/api/"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() waits for one poll; keep tests quick
            name="slack-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- workspace setup ------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        tz: str = "Europe/London",
        tz_offset: int = 0,
        deleted: bool = False,
        is_bot: bool = False,
    ) -> None:
        """Add a member; users.info answers with a realistic user object for them."""
        handle = name or user_id.lower()
        real_name = handle.replace(".", " ").replace("_", " ").title()
        profile = {
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": handle,
            "display_name_normalized": handle,
            "first_name": real_name.split(" ")[0],
            "last_name": " ".join(real_name.split(" ")[1:]),
            "title": "",
            "email": f"{handle}@{self.team_domain}.example",
            "image_48": f"https://avatars.example/{user_id}_48.png",
            "image_72": f"https://avatars.example/{user_id}_72.png",
            "status_text": "",
            "status_emoji": "",
            "team": self.team_id,
        }
        if is_bot:
            profile.pop("email")
            profile["bot_id"] = self.bot_id
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": handle,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": tz_offset,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "is_email_confirmed": not is_bot,
            "who_can_share_contact_card": "EVERYONE",
        }
        with self._lock:
            self._users[user_id] = user

    def add_channel(self, channel_id: str, name: str) -> None:
        """Add a public channel the bot can post in."""
        with self._lock:
            self._channels[channel_id] = {"id": channel_id, "name": name, "is_im": False}

    def add_usergroup(self, usergroup_id: str, users: list[str]) -> None:
        """Create or replace a user group (S…) with these members."""
        with self._lock:
            self._usergroups[usergroup_id] = list(users)
            self._disabled_usergroups.discard(usergroup_id)

    def remove_usergroup(self, usergroup_id: str) -> None:
        with self._lock:
            self._usergroups.pop(usergroup_id, None)

    def disable_usergroup(self, usergroup_id: str) -> None:
        with self._lock:
            self._disabled_usergroups.add(usergroup_id)

    def revoke_scope(self, scope: str) -> None:
        """The app was installed without `scope`: methods needing it answer missing_scope."""
        with self._lock:
            self.scopes.discard(scope)

    def dm_channel(self, user_id: str) -> str:
        """The stable D… id of the bot's DM with ``user_id`` (what conversations.open gives)."""
        return f"D{user_id[1:]}" if user_id[:1] in ("U", "W") else f"D{user_id}"

    # ---- inspection -----------------------------------------------------------------------

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Current messages of a channel (top level and replies, oldest first), with channel."""
        with self._lock:
            channel_id = self._known_channel_id(channel)
            return [self._message_view(channel_id, m) for m in self._messages.get(channel_id, [])]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            channel_id = self._known_channel_id(channel)
            for message in self._messages.get(channel_id, []):
                if message["ts"] == ts:
                    return self._message_view(channel_id, message)  # copy only this one
        raise KeyError(f"no message {ts} in {channel}")

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral posts (chat.postEphemeral and response_url/command answers), oldest first."""
        with self._lock:
            return [copy.deepcopy(e) for e in self._ephemerals if user is None or e["user"] == user]

    def response_posts(self) -> list[dict[str, Any]]:
        """Every JSON body POSTed to a response_url, with the binding it was sent to."""
        with self._lock:
            return copy.deepcopy(self._response_posts)

    def views_opened(self) -> list[dict[str, Any]]:
        """Modals opened with views.open or views.push, in order, in their current state."""
        with self._lock:
            return [copy.deepcopy(self._views[view_id]) for view_id in self._opened]

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._views.get(view_id)
            return copy.deepcopy(found) if found else None

    def is_view_open(self, view_id: str) -> bool:
        with self._lock:
            return view_id in self._open_modals

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            view_id = self._homes.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def user(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._users.get(user_id)
            return copy.deepcopy(found) if found else None

    def files(self) -> list[dict[str, Any]]:
        """Completed files, oldest first, as files.info shows them now."""
        with self._lock:
            return self._files.all_files()

    def file(self, file_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._files.find(file_id)

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes uploaded for ``file_id`` (KeyError if none arrived)."""
        with self._lock:
            return self._files.bytes_of(file_id)

    def channel_name(self, channel_id: str) -> str:
        """The name Slack puts in interaction payloads ("directmessage" for DMs)."""
        with self._lock:
            found = self._channels.get(channel_id)
            return found["name"] if found else "directmessage"

    # ---- test controls --------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error: str = "internal_error",
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        drop_connection: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (or drop the connection)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            for _ in range(times):
                queue.append(_Fault(error, status, retry_after, drop_connection))

    def set_rate_limit(self, method: str, per_minute: int | None) -> None:
        with self._lock:
            if per_minute is None:
                self._rate_limits.pop(method, None)
            else:
                self._rate_limits[method] = per_minute
            self._rate_windows.pop(method, None)

    def issue_trigger_id(self, user: str | None = None) -> str:
        """A trigger id like an interaction carries: valid for 3 s, usable once."""
        trigger_id = (
            f"{int(time.time())}.{random.randrange(10**11, 10**12)}.{secrets.token_hex(16)}"
        )
        with self._lock:
            self._triggers[trigger_id] = (self._clock(), user)
        return trigger_id

    def response_url(
        self,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user: str | None = None,
    ) -> str:
        """A fresh response_url on this server; bind it to a message to allow replace/delete."""
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._responses[token] = _Binding(channel, message_ts, user, self._clock())
        return f"{self.base_url}/response/{token}"

    def deliver_response(
        self,
        payload: dict[str, Any],
        *,
        channel: str | None,
        user: str | None,
        message_ts: str | None = None,
    ) -> None:
        """Show an interaction's answer as Slack would (used for slash-command ack bodies)."""
        with self._lock:
            self._apply_response(_Binding(channel, message_ts, user), payload, source="ack")

    def apply_view_response(self, view_id: str, response: dict[str, Any] | None) -> None:
        """Apply a view_submission ack body: close, update, push or keep open on errors.

        Raises ValueError when the app answered with a view Slack would reject.
        """
        with self._lock:
            if view_id not in self._views:
                return
            body = response or {}
            action = body.get("response_action")
            if action == "errors":
                return
            try:
                if action == "update":
                    self._store_view(body["view"], replace=view_id, check_hash=None)
                    return
                if action == "push":
                    root = self._views[view_id].get("root_view_id") or view_id
                    pushed = self._store_view(body["view"], previous=view_id, root=root)
                    self._opened.append(pushed["id"])
                    self._open_modals.add(pushed["id"])
                    return
            except _ApiError as exc:
                details = exc.extra.get("response_metadata", {}).get("messages", [])
                raise ValueError(f"response_action {action}: {exc.error} {details}") from None
            if action == "clear":
                self._open_modals.clear()
            else:
                self._open_modals.discard(view_id)

    def reset(self) -> None:
        """Forget calls, messages, ephemerals, views and files; keep users, channels, groups."""
        with self._lock:
            self._clear_state()
            self._faults.clear()
            self._rate_windows.clear()

    # ---- request handling (called from the HTTP handler threads) --------------------------

    def _handle_api(
        self, method: str, args: dict[str, Any], auth_header: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """Answer one Web API call: (status, body, headers), or None to drop the connection."""
        token = args.pop("token", None)
        if auth_header and auth_header.lower().startswith("bearer "):
            token = auth_header[7:].strip()
        with self._lock:
            status, body, headers = 200, {}, {}
            fault = self._take_fault(method)
            if fault is not None and fault.drop_connection:
                self._record(method, args, {}, 0)
                return None
            if fault is not None:
                status, body = fault.status, {"ok": False, "error": fault.error}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
            elif (wait := self._rate_limited(method)) is not None:
                status, body = 429, {"ok": False, "error": "ratelimited"}
                headers["Retry-After"] = str(wait)
            else:
                try:
                    body = self._dispatch(method, token, args)
                except ApiError as exc:
                    status, body = exc.status, {"ok": False, "error": exc.error, **exc.extra}
                except Exception as exc:  # an emulator bug must surface, not hang the client
                    _log.exception("emulator failed on %s", method)
                    status, body = 500, {"ok": False, "error": f"emulator_bug: {exc!r}"}
            self._record(method, args, body, status)
            return status, body, headers

    def _handle_response_url(self, token: str, payload: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            binding = self._responses.get(token)
            if binding is None:
                return 404, {"ok": False, "error": "invalid_token"}
            fault = self._take_fault("response_url")
            if fault is not None:
                return fault.status, {"ok": False, "error": fault.error}
            # Like Slack: a response_url works up to 5 times within 30 minutes.
            if binding.uses >= RESPONSE_URL_USES or (
                self._clock() - binding.created > RESPONSE_URL_TTL_S
            ):
                return 404, {"ok": False, "error": "expired_url"}
            binding.uses += 1
            if not isinstance(payload, dict):
                return 400, {"ok": False, "error": "invalid_payload"}
            binding_view = {
                "channel": binding.channel,
                "message_ts": binding.message_ts,
                "user": binding.user,
            }
            self._response_posts.append({"binding": binding_view, "payload": payload})
            try:
                self._apply_response(binding, payload)
            except _ApiError as exc:
                return 400, {"ok": False, "error": exc.error, **exc.extra}
            return 200, {"ok": True}

    def _handle_files_http(
        self, verb: str, path: str, raw: bytes, headers: Any
    ) -> tuple[int, bytes, str] | None:
        """An upload POST (fault key "upload_url") or a file download: status, body, type."""
        with self._lock:
            if verb == "POST" and path.startswith("/upload/v1/"):
                fault = self._take_fault("upload_url")
                if fault is not None and fault.drop_connection:
                    return None
                if fault is not None:
                    return fault.status, fault.error.encode(), "text/plain"
                status, body = self._files.receive_upload(
                    path[len("/upload/v1/") :], raw, headers.get("Content-Type") or ""
                )
                return status, body, "text/plain; charset=utf-8"
            if verb == "GET":
                return self._files.download(path, headers.get("Authorization"))
            return 404, b"Not Found", "text/plain"

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        return queue.popleft() if queue else None

    def _rate_limited(self, method: str) -> int | None:
        """Seconds to wait if ``method`` is over its per-minute limit, else count this call."""
        limit = self._rate_limits.get(method)
        if limit is None:
            return None
        now = self._clock()
        window = self._rate_windows.setdefault(method, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= limit:
            return max(1, math.ceil(window[0] + 60 - now))
        window.append(now)
        return None

    def _record(self, method: str, args: dict[str, Any], body: dict[str, Any], status: int) -> None:
        call = RecordedCall(method, copy.deepcopy(args), copy.deepcopy(body), status, self._clock())
        self.calls.append(call)

    def _dispatch(self, method: str, token: str | None, args: dict[str, Any]) -> dict[str, Any]:
        handler = _METHODS.get(method)
        if handler is None:
            raise _ApiError("unknown_method")
        if method != "api.test":
            if not token:
                raise _ApiError("not_authed")
            if token != self.bot_token:
                raise _ApiError("invalid_auth")
        needed = METHOD_SCOPES.get(method)
        if needed and needed not in self.scopes:
            raise _ApiError(
                "missing_scope", extra={"needed": needed, "provided": ",".join(sorted(self.scopes))}
            )
        return {"ok": True, **handler(self, args)}

    # ---- helpers --------------------------------------------------------------------------

    def _next_ts(self) -> str:
        """Slack-style "seconds.micros" timestamps, strictly increasing."""
        micros = max(int(time.time() * 1_000_000), self._last_ts + 100)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _known_channel_id(self, channel: str) -> str:
        if channel[:1] in ("U", "W") and channel in self._users:
            return self.dm_channel(channel)
        return channel

    def _dm_owner(self, channel_id: str) -> str | None:
        for user_id in self._users:
            if self.dm_channel(user_id) == channel_id:
                return user_id
        return None

    def _resolve_channel(self, channel: Any, *, posting: bool = True) -> str:
        """Map a channel id, D… id or user id to a conversation id, as chat.* methods do."""
        if not isinstance(channel, str) or not channel:
            raise _ApiError("channel_not_found")
        if channel in self._channels:
            return channel
        owner = channel if channel in self._users else self._dm_owner(channel)
        if owner is None or owner == self.bot_user_id:
            raise _ApiError("channel_not_found")
        if posting and self._users[owner]["deleted"]:
            raise _ApiError("account_inactive")
        channel_id = self.dm_channel(owner)
        self._opened_dms.add(channel_id)
        return channel_id

    def _find_message(self, channel_id: str, ts: Any) -> dict[str, Any]:
        for message in self._messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        raise _ApiError("message_not_found")

    def _message_view(self, channel_id: str, message: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(message)
        out.setdefault("blocks", [])
        out.setdefault("thread_ts", None)
        out.setdefault("metadata", None)
        out.setdefault("edited", None)
        out["channel"] = channel_id
        self._files.expand(out)
        return out

    def _api_message(self, message: dict[str, Any], *, metadata: bool) -> dict[str, Any]:
        out = copy.deepcopy(message)
        if not metadata:
            out.pop("metadata", None)
        self._files.expand(out)
        return out

    def _content(self, args: dict[str, Any], *, require: bool = True) -> dict[str, Any]:
        """Text, blocks and metadata of a message call, validated as Slack validates them."""
        blocks = _parse_json_field(args.get("blocks"), "invalid_blocks_format")
        text = args.get("text")
        if isinstance(blocks, list) and not blocks:
            blocks = None
        if require and not text and blocks is None and not args.get("attachments"):
            raise _ApiError("no_text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if text and len(text) > MAX_MESSAGE_TEXT:
            raise _ApiError("msg_too_long")
        content: dict[str, Any] = {"text": text or ""}
        if blocks is not None:
            errors = validate_message_blocks(blocks) or self._files.image_errors(blocks)
            if errors:
                raise _ApiError(
                    "invalid_blocks",
                    extra={
                        "errors": errors,
                        "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
                    },
                )
            content["blocks"] = _fill_ids(copy.deepcopy(blocks))
        if args.get("attachments"):
            content["attachments"] = args["attachments"]
        if "metadata" in args and args["metadata"] is not None:
            content["metadata"] = _check_metadata(args["metadata"])
        return content

    def _bot_message(self, ts: str, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
            **content,
        }

    def _apply_response(
        self, binding: _Binding, payload: dict[str, Any], *, source: str = "response_url"
    ) -> None:
        """What Slack does with a response_url POST or a command's ack body."""
        if payload.get("delete_original"):
            message = self._bound_message(binding)
            self._messages[binding.channel or ""].remove(message)
            return
        content = self._content(payload)
        if payload.get("replace_original"):
            message = self._bound_message(binding)
            message.pop("blocks", None)
            message.update(content)
            message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            return
        if binding.channel is None:
            raise _ApiError("channel_not_found")
        if payload.get("response_type") == "in_channel":
            channel_id = self._resolve_channel(binding.channel)
            message = self._bot_message(self._next_ts(), content)
            if payload.get("thread_ts"):
                message["thread_ts"] = payload["thread_ts"]
            self._messages.setdefault(channel_id, []).append(message)
            return
        self._ephemerals.append(
            {
                "channel": binding.channel,
                "user": binding.user,
                "ts": self._next_ts(),
                "is_ephemeral": True,
                "source": source,
                **content,
            }
        )

    def _bound_message(self, binding: _Binding) -> dict[str, Any]:
        if binding.channel is None or binding.message_ts is None:
            raise _ApiError("no_original_message")
        return self._find_message(binding.channel, binding.message_ts)

    def _new_hash(self) -> str:
        return f"{int(time.time())}.{_random_id(8)}"

    def _store_view(
        self,
        view: Any,
        *,
        replace: str | None = None,
        check_hash: Any = None,
        previous: str | None = None,
        root: str | None = None,
    ) -> dict[str, Any]:
        """Validate and store a view (new, or replacing ``replace`` after the hash check)."""
        view = _parse_json_field(view, "invalid_arguments")
        if not isinstance(view, dict):
            raise _ApiError("invalid_arguments", extra=_view_errors(["view: is required"]))
        errors = validate_view(view) or self._files.image_errors(view.get("blocks"))
        if errors:
            raise _ApiError("invalid_arguments", extra=_view_errors(errors))
        if replace is not None:
            current = self._views[replace]
            if check_hash and check_hash != current["hash"]:
                raise _ApiError("hash_conflict")
            view_id = replace
            previous = current.get("previous_view_id")
            root = current["root_view_id"]
        else:
            view_id = f"V{_random_id(10).upper()}"
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": _fill_ids(copy.deepcopy(view.get("blocks", []))),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self._new_hash(),
            "title": view.get("title"),
            "clear_on_close": view.get("clear_on_close", False),
            "notify_on_close": view.get("notify_on_close", False),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root or view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if stored["type"] == "home":
            for key in ("title", "close", "submit", "clear_on_close", "notify_on_close"):
                stored.pop(key)
            stored.pop("previous_view_id")
        external_id = stored["external_id"]
        if external_id and any(
            v["external_id"] == external_id and v["id"] != view_id for v in self._views.values()
        ):
            raise _ApiError("duplicate_external_id")
        self._views[view_id] = stored
        return copy.deepcopy(stored)

    def _use_trigger(self, trigger_id: Any) -> None:
        found = self._triggers.get(trigger_id) if isinstance(trigger_id, str) else None
        if found is None:
            raise _ApiError("invalid_trigger_id")
        issued_at, _user = found
        # A used trigger answers as an expired one does (real Slack: exchanged_trigger_id).
        if trigger_id in self._used_triggers or self._clock() - issued_at > TRIGGER_TTL_SECONDS:
            raise _ApiError("expired_trigger_id")
        self._used_triggers.add(trigger_id)

    def _user_arg(self, args: dict[str, Any], key: str = "user") -> dict[str, Any]:
        user = self._users.get(args.get(key) or "")
        if user is None:
            raise _ApiError("user_not_found")
        return user

    # ---- Web API methods ------------------------------------------------------------------

    def _m_api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"args": args}

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Quorum Emulator",
            "user": self._users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            channel_id = self._resolve_channel(args["channel"], posting=False)
            return {"channel": {"id": channel_id}}
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if not users:
            raise _ApiError("users_list_not_supplied")
        if len(users) > 1:
            raise _ApiError("not_supported_by_emulator")
        user = self._user_arg({"user": users[0]})
        if user["deleted"]:
            raise _ApiError("user_disabled")
        channel_id = self.dm_channel(user["id"])
        already = channel_id in self._opened_dms
        self._opened_dms.add(channel_id)
        body: dict[str, Any] = {"channel": {"id": channel_id}}
        if already:
            body["already_open"] = True
            body["no_op"] = True
        return body

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        content = self._content(args)
        message = self._append_message(
            channel_id,
            content,
            thread_ts=args.get("thread_ts"),
            broadcast=_truthy(args.get("reply_broadcast")),
        )
        return {
            "channel": channel_id,
            "ts": message["ts"],
            "message": self._api_message(message, metadata=True),
        }

    def _append_message(
        self,
        channel_id: str,
        content: dict[str, Any],
        *,
        thread_ts: Any = None,
        broadcast: bool = False,
    ) -> dict[str, Any]:
        """Post a bot message (chat.postMessage, a file share), as a reply under thread_ts."""
        parent = self._find_thread_parent(channel_id, thread_ts) if thread_ts else None
        ts = self._next_ts()
        message = self._bot_message(ts, content)
        if parent is not None:
            message["thread_ts"] = parent["ts"]
            message["parent_user_id"] = parent["user"]
            if broadcast:
                message["subtype"] = "thread_broadcast"
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["reply_users"] = sorted(set(parent.get("reply_users", [])) | {message["user"]})
            parent["reply_users_count"] = len(parent["reply_users"])
            parent["latest_reply"] = ts
        self._messages.setdefault(channel_id, []).append(message)
        return message

    def _find_thread_parent(self, channel_id: str, thread_ts: Any) -> dict[str, Any]:
        try:
            message = self._find_message(channel_id, thread_ts)
        except _ApiError:
            raise _ApiError("thread_not_found") from None
        if message.get("thread_ts") not in (None, message["ts"]):
            return self._find_message(channel_id, message["thread_ts"])
        return message

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"), posting=False)
        message = self._find_message(channel_id, args.get("ts"))
        has_blocks = "blocks" in args and args["blocks"] is not None
        if not has_blocks and args.get("text") is None and not args.get("metadata"):
            raise _ApiError("no_text")
        content = self._content(args, require=False)
        if "text" not in args and "text" in content:
            content.pop("text")  # blocks-only update keeps the old notification text
        # Slack semantics: an update without blocks removes the message's blocks.
        message.pop("blocks", None)
        message.update(content)
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel_id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": self._api_message(message, metadata=True),
        }

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"), posting=False)
        message = self._find_message(channel_id, args.get("ts"))
        self._messages[channel_id].remove(message)
        return {"channel": channel_id, "ts": message["ts"]}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"))
        user = self._users.get(args.get("user") or "")
        if user is None or user["deleted"]:
            raise _ApiError("user_not_in_channel")
        content = self._content(args)
        ts = self._next_ts()
        ephemeral = {
            "channel": channel_id,
            "user": user["id"],
            "ts": ts,
            "is_ephemeral": True,
            "source": "chat.postEphemeral",
            **content,
        }
        if args.get("thread_ts"):
            ephemeral["thread_ts"] = args["thread_ts"]
        self._ephemerals.append(ephemeral)
        return {"message_ts": ts}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"), posting=False)
        message = self._find_message(channel_id, args.get("message_ts"))
        permalink = (
            f"https://{self.team_domain}.slack.com/archives/{channel_id}/"
            f"p{message['ts'].replace('.', '')}"
        )
        return {"channel": channel_id, "permalink": permalink}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"), posting=False)
        visible = [
            m
            for m in self._messages.get(channel_id, [])
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        return self._page(visible[::-1], args, newest_first=True)

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = self._resolve_channel(args.get("channel"), posting=False)
        ts = args.get("ts")
        try:
            parent = self._find_message(channel_id, ts)
        except _ApiError:
            raise _ApiError("thread_not_found") from None
        root = parent.get("thread_ts") or parent["ts"]
        thread = [
            m
            for m in self._messages.get(channel_id, [])
            if m["ts"] == root or m.get("thread_ts") == root
        ]
        return self._page(thread, args, newest_first=False)

    def _page(
        self, messages: list[dict[str, Any]], args: dict[str, Any], *, newest_first: bool
    ) -> dict[str, Any]:
        """Filter by oldest/latest (inclusive flag), then cut a cursor page of ``limit``."""
        inclusive = _truthy(args.get("inclusive"))
        oldest, latest = args.get("oldest"), args.get("latest")

        def keep(m: dict[str, Any]) -> bool:
            ts = float(m["ts"])
            if oldest is not None and (
                ts < float(oldest) or (ts == float(oldest) and not inclusive)
            ):
                return False
            return not (
                latest is not None
                and (ts > float(latest) or (ts == float(latest) and not inclusive))
            )

        selected = [m for m in messages if keep(m)]
        start = 0
        if args.get("cursor"):
            try:
                start = int(base64.b64decode(str(args["cursor"])).decode().split(":", 1)[1])
            except (ValueError, IndexError):
                raise _ApiError("invalid_cursor") from None
        limit = max(1, min(int(args.get("limit") or 100), 999))
        page = selected[start : start + limit]
        more = start + limit < len(selected)
        cursor = base64.b64encode(f"next_ts:{start + limit}".encode()).decode() if more else ""
        with_metadata = _truthy(args.get("include_all_metadata"))
        body: dict[str, Any] = {
            "messages": [self._api_message(m, metadata=with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": cursor},
        }
        if newest_first:
            body["pin_count"] = 0
        return body

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        self._use_trigger(args.get("trigger_id"))
        view = self._store_view(_modal_arg(args.get("view")))
        self._opened.append(view["id"])
        self._open_modals.add(view["id"])
        return {"view": view}

    def _m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        self._use_trigger(args.get("trigger_id"))
        previous = self._opened[-1] if self._opened else None
        root = self._views[previous]["root_view_id"] if previous else None
        view = self._store_view(_modal_arg(args.get("view")), previous=previous, root=root)
        self._opened.append(view["id"])
        self._open_modals.add(view["id"])
        return {"view": view}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next(
                (v["id"] for v in self._views.values() if v["external_id"] == args["external_id"]),
                None,
            )
            if view_id is None:
                raise _ApiError("not_found")
        if not view_id:
            raise _ApiError("invalid_arguments", extra=_view_errors(["view_id: is required"]))
        if view_id not in self._views:
            raise _ApiError("not_found")
        return {
            "view": self._store_view(args.get("view"), replace=view_id, check_hash=args.get("hash"))
        }

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._user_arg(args, "user_id")
        view = _parse_json_field(args.get("view"), "invalid_arguments")
        if isinstance(view, dict) and view.get("type") != "home":
            raise _ApiError("invalid_arguments", extra=_view_errors(["type: must be home"]))
        current = self._homes.get(user["id"])
        if current is not None:
            stored = self._store_view(view, replace=current, check_hash=args.get("hash"))
        else:
            stored = self._store_view(view)
            self._homes[user["id"]] = stored["id"]
        return {"view": stored}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"user": copy.deepcopy(self._user_arg(args))}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        # Slack: {"ok": true, "users": ["U…", "W…"]}; a bad id is no_such_subteam, and a
        # disabled group answers only with include_disabled.
        group = str(args.get("usergroup") or "")
        users = self._usergroups.get(group)
        if users is None:
            raise _ApiError("no_such_subteam")
        if group in self._disabled_usergroups and not _truthy(args.get("include_disabled")):
            raise _ApiError("no_such_subteam")
        return {"users": list(users)}

    def _m_files_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        # Retired by Slack: clients must use files.getUploadURLExternal (files_upload_v2).
        raise _ApiError("method_deprecated")


_METHODS: dict[str, Callable[[SlackEmulator, dict[str, Any]], dict[str, Any]]] = {
    "api.test": SlackEmulator._m_api_test,
    "auth.test": SlackEmulator._m_auth_test,
    "conversations.open": SlackEmulator._m_conversations_open,
    "chat.postMessage": SlackEmulator._m_chat_postMessage,
    "chat.update": SlackEmulator._m_chat_update,
    "chat.delete": SlackEmulator._m_chat_delete,
    "chat.postEphemeral": SlackEmulator._m_chat_postEphemeral,
    "chat.getPermalink": SlackEmulator._m_chat_getPermalink,
    "conversations.history": SlackEmulator._m_conversations_history,
    "conversations.replies": SlackEmulator._m_conversations_replies,
    "views.open": SlackEmulator._m_views_open,
    "views.push": SlackEmulator._m_views_push,
    "views.update": SlackEmulator._m_views_update,
    "views.publish": SlackEmulator._m_views_publish,
    "users.info": SlackEmulator._m_users_info,
    "usergroups.users.list": SlackEmulator._m_usergroups_users_list,
    "files.getUploadURLExternal": lambda emu, args: emu._files.get_upload_url(args),
    "files.completeUploadExternal": lambda emu, args: emu._files.complete_upload(args),
    "files.info": lambda emu, args: emu._files.info(args),
    "files.upload": SlackEmulator._m_files_upload,
}


class _Server(ThreadingHTTPServer):
    """Room for bursts: a delivery worker may open many connections at once."""

    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    """HTTP layer: parse Slack-style requests, hand them to the emulator, write JSON back."""

    emulator: SlackEmulator
    server_version = "SlackEmulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith("/api/"):
            args = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            try:
                args.update(_parse_body(raw, self.headers.get("Content-Type") or ""))
            except ValueError:
                self._reply(200, {"ok": False, "error": "invalid_json"})
                return
            answer = self.emulator._handle_api(
                url.path[len("/api/") :], args, self.headers.get("Authorization")
            )
            if answer is None:
                self.close_connection = True
                return
            status, body, headers = answer
            self._reply(status, body, headers)
        elif url.path.startswith(("/upload/", "/files-pri/", "/files-tmb/")):
            served = self.emulator._handle_files_http(self.command, url.path, raw, self.headers)
            if served is None:
                self.close_connection = True
                return
            self._reply_bytes(*served)
        elif url.path.startswith("/response/"):
            try:
                payload = json.loads(raw or b"null")
            except ValueError:
                self._reply(400, {"ok": False, "error": "invalid_payload"})
                return
            status, body = self.emulator._handle_response_url(
                url.path[len("/response/") :], payload
            )
            self._reply(status, body)
        else:
            self._reply(404, {"ok": False, "error": "not_found"})

    def _reply(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._reply_bytes(
            status, json.dumps(body).encode(), "application/json; charset=utf-8", headers
        )

    def _reply_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """JSON or form bodies; JSON-encoded fields inside form data are decoded as Slack does."""
    if not raw:
        return {}
    if "application/json" in content_type:
        body = json.loads(raw)
        return body if isinstance(body, dict) else {}
    form = parse_qs(raw.decode(), keep_blank_values=True)
    args: dict[str, Any] = {k: v[-1] for k, v in form.items()}
    for key in _JSON_FIELDS:
        if isinstance(args.get(key), str) and args[key].strip()[:1] in ("[", "{"):
            args[key] = json.loads(args[key])
    return args


def _parse_json_field(value: Any, error: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(error) from None
    return value


def _check_metadata(metadata: Any) -> dict[str, Any]:
    metadata = _parse_json_field(metadata, "invalid_metadata_format")
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise _ApiError("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}


def _modal_arg(view: Any) -> Any:
    """views.open and views.push take modals only."""
    view = _parse_json_field(view, "invalid_arguments")
    if isinstance(view, dict) and view.get("type") != "modal":
        raise _ApiError("invalid_arguments", extra=_view_errors(["type: must be modal"]))
    return view


def _view_errors(errors: list[str]) -> dict[str, Any]:
    return {"response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}


def _random_id(length: int) -> str:
    return "".join(random.choice(_ID_CHARS) for _ in range(length))


def _fill_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give blocks and interactive elements the block_id/action_id Slack generates."""
    taken = {b["block_id"] for b in blocks if isinstance(b, dict) and "block_id" in b}
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if "block_id" not in block:
            block_id = _random_id(5)
            while block_id in taken:
                block_id = _random_id(5)
            taken.add(block_id)
            block["block_id"] = block_id
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in elements:
            if element.get("type") not in (None, "image") and "action_id" not in element:
                element["action_id"] = _random_id(5)
    return blocks


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
