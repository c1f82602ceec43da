"""Buttons on App Home: "Open" an item of the queue, pause and resume reviews."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.slack.wording import say
from bot.workflow.review import interactions, pause, queue
from handlers._refuse import ignore
from handlers.actions._reply import tell, user_of


def publish_home(
    ctx: QuorumContext, client: WebClient, user: str, current: dict[str, Any] | None
) -> None:
    """Re-publish the Home tab; the hash keeps a newer one (from the outbox) in place."""
    view = interactions.home_view(ctx, user_id=user)
    try:
        client.views_publish(user_id=user, view=view, hash=(current or {}).get("hash"))
    except SlackApiError as exc:
        if exc.response.get("error") != "hash_conflict":
            raise


def make_open_item_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_open(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user = user_of(body)
        value = inbound.button(inbound.AssignmentValue, action.get("value"))
        clicked = inbound.action(action)
        if value is None or clicked is None:
            return ignore(body, "a malformed Open click")
        found = interactions.run_in_transaction(
            ctx,
            queue.open_item,
            assignment_id=value.a,
            user_id=user,
            key=f"open:{user}:{clicked.action_ts}",
        )
        if found is None:
            tell(client, body, say("home_open_refused"))
            publish_home(ctx, client, user, body.get("view"))

    return on_open


def make_pause_listener(ctx: QuorumContext, *, resume: bool) -> Callable[..., None]:
    service = pause.resume if resume else pause.pause
    extra = {} if resume else {"rng": ctx.rng}

    def on_toggle(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = user_of(body)
        interactions.run_in_transaction(ctx, service, user_id=user, **extra)
        publish_home(ctx, client, user, body.get("view"))

    return on_toggle
