"""The one outbound interface to Slack's Web API that the bot uses.

Everything the workflow sends goes through these few calls, so tests can point them at
the emulator and the delivery worker can pace and retry them in one place.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler


def make_web_client(token: str | None, base_url: str) -> WebClient:
    # Only connection errors are retried here; 429s and 5xx are the delivery worker's job
    # so that a slow Slack never blocks a request thread.
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=15,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
    )


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

    def user_time_zone(self, user_id: str) -> tuple[str | None, int | None]:
        """(tz name, offset in seconds) from users.info, for work hours."""
        user = self.client.users_info(user=user_id)["user"]
        return user.get("tz"), user.get("tz_offset")
