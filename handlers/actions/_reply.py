"""Answering the person who clicked: the clicked DM re-rendered at once through the
click's response_url (`run_click`), and an ephemeral message saying why nothing happened
where they clicked (or in their DM with the bot when they clicked in App Home or a modal)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from slack_sdk import WebClient

from bot.delivery.media import resolve_processed
from bot.delivery.shown import marks_for
from bot.runtime.context import QuorumContext
from bot.slack.outbound import respond
from bot.workflow.review import interactions, messages
from bot.workflow.review.outcome import OK_OUTCOMES, Outcome, ReviewResult, refusal

T = TypeVar("T")
_log = logging.getLogger(__name__)

# A response_url that does not answer within this leaves the update to the outbox.
RESPOND_TIMEOUT_S = 2

# A duplicate is a double click or a Slack retry of the same answer: nothing to say.
SILENT = OK_OUTCOMES | {Outcome.DUPLICATE}


def user_of(body: dict) -> str:
    return body["user"]["id"]


def channel_of(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    user = user_of(body)
    channel = channel_of(body) or client.conversations_open(users=user)["channel"]["id"]
    client.chat_postEphemeral(channel=channel, user=user, text=text)


def explain(client: WebClient, body: dict[str, Any], result: ReviewResult) -> None:
    """An ephemeral refusal when the click changed nothing for a reason worth saying."""
    if result.outcome not in SILENT:
        tell(client, body, refusal(result))


def clicked_message(body: dict[str, Any]) -> messages.ClickedDM | None:
    """The message the click came from, when Slack gave a response_url for it."""
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if not body.get("response_url") or not channel or not ts:
        return None
    return messages.ClickedDM(channel=str(channel), ts=str(ts))


def run_click(
    ctx: QuorumContext, body: dict[str, Any], service: Callable[..., T], **kwargs: Any
) -> T:
    """Run the click's workflow step in its transaction; then show the clicked DM's new
    render at once through the click's response_url (not charged to chat.update's
    Tier 3 budget). The queued chat.update of that render is the fallback: marked sent
    when the response_url worked, made due at once when it did not."""
    clicked = clicked_message(body)
    token = messages.watching_click(clicked)
    try:
        result = interactions.run_in_transaction(ctx, service, **kwargs)
    finally:
        messages.stop_watching(token)
    if clicked is not None and clicked.renders:
        key, message = clicked.renders[-1]
        show_now(ctx, str(body["response_url"]), key, message.text, message.blocks)
    return result


def show_now(
    ctx: QuorumContext, url: str, key: str, text: str, blocks: list[dict[str, Any]]
) -> bool:
    """POST the render to the response_url; its outbox row learns the outcome a moment
    later (bot.delivery.shown), with other clicks' in one transaction."""
    shown = False
    shown_blocks = resolve_processed(ctx.engine, blocks)  # None: a file is not processed yet
    try:
        if shown_blocks is not None:
            status = respond(
                url,
                timeout_s=RESPOND_TIMEOUT_S,
                replace_original=True,
                text=text,
                blocks=shown_blocks,
            )
            shown = status == 200
            if not shown:
                _log.info("response_url refused (%s): the outbox updates it", status)
    except Exception as exc:  # timeouts, dropped connections: the outbox has it
        _log.info("response_url failed (%r): the outbox updates the DM", exc)
    marks_for(ctx.engine).record(key, shown=shown, now=ctx.clock.now)
    return shown
