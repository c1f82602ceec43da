"""The "Show full conversation" button, and paging through it inside the modal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.slack.wording import say
from bot.workflow.review import interactions
from handlers._refuse import ignore
from handlers.actions._reply import tell, user_of

MAX_PAGE_DIGITS = 5  # far past any sample's last page; conversation_modal clamps to it


def make_open_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_open(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        ref = inbound.button(inbound.ConversationRef, action.get("value"))
        if ref is None or not body.get("trigger_id"):
            return ignore(body, "a malformed full-conversation click")
        view = interactions.conversation_view(ctx, user_id=user_of(body), ref=ref.ref)
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
        ref = inbound.metadata(inbound.ConversationRef, current)
        page = str(action.get("value") or "")
        if (
            not current.get("id")
            or ref is None
            or not (page.isascii() and page.isdigit())
            or len(page) > MAX_PAGE_DIGITS
        ):
            return ignore(body, "a page turn outside a conversation modal")
        view = interactions.conversation_view(
            ctx, user_id=user_of(body), ref=ref.ref, page=int(page)
        )
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
