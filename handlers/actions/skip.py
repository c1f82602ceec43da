"""The "Skip" button: the item goes to another reviewer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.workflow.review import release
from handlers._refuse import ignore
from handlers.actions._reply import explain, run_click, user_of


def make_skip_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_skip(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        value = inbound.button(inbound.AssignmentValue, action.get("value"))
        if value is None:
            return ignore(body, "a malformed skip click")
        result = run_click(
            ctx, body, release.skip, assignment_id=value.a, user_id=user_of(body), rng=ctx.rng
        )
        explain(client, body, result)

    return on_skip
