"""The "Change my answer" button re-opens the choices; "Keep my answer" closes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.workflow.review import answer
from handlers._refuse import ignore
from handlers.actions._reply import explain, run_click, user_of


def make_change_listener(ctx: QuorumContext, *, keep: bool = False) -> Callable[..., None]:
    service = answer.keep_answer if keep else answer.start_change

    def on_change(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        value = inbound.button(inbound.AssignmentValue, action.get("value"))
        if value is None:
            return ignore(body, "a malformed change-answer click")
        result = run_click(ctx, body, service, assignment_id=value.a, user_id=user_of(body))
        explain(client, body, result)

    return on_change
