"""The "Show full conversation" button, and paging through it inside the modal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime.context import QuorumContext
from bot.slack.payloads import decode
from bot.slack.views import metadata
from bot.slack.wording import say
from bot.workflow.review import interactions
from handlers.actions._reply import tell, user_of


def make_open_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_open(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        view = interactions.conversation_view(
            ctx, user_id=user_of(body), ref=decode(action.get("value"))
        )
        if view is None:
            tell(client, body, say("full_conversation_refused"))
            return
        client.views_open(trigger_id=body["trigger_id"], view=view)

    return on_open


def make_page_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_page(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        logger: logging.Logger,
    ) -> None:
        ack()
        current = body.get("view") or {}
        ref = {k: v for k, v in metadata(current).items() if k in ("a", "i")}
        page = str(action.get("value") or "")
        if not current.get("id") or not ref or not page.isdigit():
            logger.warning("a page turn outside a conversation modal was ignored")
            return
        view = interactions.conversation_view(ctx, user_id=user_of(body), ref=ref, page=int(page))
        if view is None:
            return
        try:
            # The hash makes Slack refuse the update if the modal changed meanwhile
            # (a second click already turned the page): the newer page stays.
            client.views_update(view_id=current["id"], hash=current.get("hash"), view=view)
        except SlackApiError as exc:
            if exc.response.get("error") != "hash_conflict":
                raise
            logger.info("page turn skipped: the modal changed meanwhile")

    return on_page
