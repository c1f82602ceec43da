"""The one outbound interface to Slack's Web API that the bot uses.

Everything the workflow sends goes through these few calls, so tests can point them at
the emulator and the delivery worker can pace and retry them in one place.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.web.slack_response import SlackResponse


def make_web_client(token: str | None, base_url: str) -> WebClient:
    # Only connection errors are retried here; 429s and 5xx are the delivery worker's job
    # so that a slow Slack never blocks a request thread.
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=15,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
    )


# Clicks answer through their response_url (hooks.slack.com in production). One client per
# process keeps those connections, and their TLS sessions, open between clicks: a new
# connection per click cost a TCP and TLS handshake each.
_responder: httpx.Client | None = None
_responder_lock = threading.Lock()


def respond(url: str, *, timeout_s: float, **message: Any) -> int:
    """POST `message` (text, blocks, replace_original, ...) to an interaction's
    response_url; the HTTP status. Transport errors and timeouts raise (httpx's)."""
    global _responder
    with _responder_lock:
        if _responder is None:
            _responder = httpx.Client(limits=httpx.Limits(max_keepalive_connections=16))
    return _responder.post(url, json=message, timeout=timeout_s).status_code


class SlackOutbound:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def open_dm(self, user_id: str) -> str:
        return self.client.conversations_open(users=user_id)["channel"]["id"]

    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        metadata: dict | None = None,
    ) -> dict[str, Any]:
        response = self.client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, metadata=metadata
        )
        return {"channel": response["channel"], "ts": response["ts"]}

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: list[dict]
    ) -> dict[str, Any]:
        # Always send blocks: chat.update with text alone would strip the message's blocks.
        response = self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        return {"channel": response["channel"], "ts": response["ts"]}

    def publish_home(self, user_id: str, view: dict, view_hash: str | None = None) -> None:
        self.client.views_publish(user_id=user_id, view=view, hash=view_hash)

    def find_posted(
        self, channel: str, key: str, *, thread_ts: str | None = None, max_pages: int = 10
    ) -> dict | None:
        """Find a message we posted with this idempotency key in its metadata, newest first
        through up to `max_pages` pages of history (or of the thread, for a reply): a busy
        DM may have had many messages since the uncertain attempt."""
        cursor = None
        for _ in range(max_pages):
            if thread_ts:
                page = self.client.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    limit=200,
                    cursor=cursor,
                    include_all_metadata=True,
                )
            else:
                page = self.client.conversations_history(
                    channel=channel, limit=200, cursor=cursor, include_all_metadata=True
                )
            messages: list[dict[str, Any]] = page.get("messages", [])
            for message in messages:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("idempotency_key") == key:
                    return message
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def upload_file(
        self,
        *,
        filename: str,
        data: bytes,
        title: str | None = None,
        alt_text: str | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Upload ``data`` as a Slack file and return its id (F…), Slack's three steps:
        ask for an upload URL, POST the bytes to it, complete the upload. With ``channel``
        Slack shares the file there (under ``thread_ts``), else it stays private to the bot.

        Slack processes the file after this returns: wait for ``file_ready`` before an image
        block refers to it. Failures raise SlackApiError, the POST's too; a retry starts
        again from the first step (an upload URL is used once)."""
        ticket = self.client.files_getUploadURLExternal(
            filename=filename, length=len(data), alt_txt=alt_text
        )
        file_id: str = ticket["file_id"]
        self._post_file_bytes(ticket["upload_url"], data)
        self.client.files_completeUploadExternal(
            files=[{"id": file_id, "title": title or filename}],
            channel_id=channel,
            thread_ts=thread_ts,
        )
        return file_id

    def file_ready(self, file_id: str) -> bool:
        """Whether Slack has processed the file: files.info shows its mimetype, and for an
        image its thumbnails (an image block refers to it only then)."""
        file: dict[str, Any] = self.client.files_info(file=file_id)["file"]
        mimetype = file.get("mimetype") or ""
        if not mimetype:
            return False
        return not mimetype.startswith("image/") or any(key.startswith("thumb_") for key in file)

    def _post_file_bytes(self, url: str, data: bytes) -> None:
        """Step 2: the raw bytes to the upload URL, with the client's timeout, TLS and proxy
        (what slack_sdk's files_upload_v2 sends). Slack answers 200 when it has them."""
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/octet-stream"}
        )
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.HTTPSHandler(context=self.client.ssl)
        ]
        if self.client.proxy:
            proxies = {"http": self.client.proxy, "https": self.client.proxy}
            handlers.append(urllib.request.ProxyHandler(proxies))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=self.client.timeout) as response:
                status, headers, body = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            status, headers, body = exc.code, dict(exc.headers or {}), exc.read()
        if status == 200:
            return
        # The delivery worker classifies Slack errors by HTTP status and `error`: keep both.
        text = body.decode("utf-8", errors="replace")[:500]
        answer = SlackResponse(
            client=self.client,
            http_verb="POST",
            api_url=url,
            req_args={},
            data={"ok": False, "error": "upload_failed", "detail": text},
            headers=headers,
            status_code=status,
        )
        raise SlackApiError(f"uploading the file's bytes failed (HTTP {status}: {text})", answer)

    def user_time_zone(self, user_id: str) -> tuple[str | None, int | None]:
        """(tz name, offset in seconds) from users.info, for work hours."""
        user = self.client.users_info(user=user_id)["user"]
        return user.get("tz"), user.get("tz_offset")
