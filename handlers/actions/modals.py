"""Buttons that open a modal: "Edit response", "Add rationale", "Flag".

The trigger id expires in three seconds and works once, so the modal is opened straight
away from what the database says now; the work happens when it is submitted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.workflow.review.outcome import ReviewResult
from handlers._refuse import ignore
from handlers.actions._reply import explain, user_of

# Opens one modal for one assignment: (what happened, the view or None when refused).
ModalOpener = Callable[..., tuple[ReviewResult, dict | None]]


def make_modal_listener(
    ctx: QuorumContext, open_view: ModalOpener, *, takes_change: bool = False
) -> Callable[..., None]:
    def on_open(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        value = inbound.button(inbound.AssignmentValue, action.get("value"))
        if value is None or not body.get("trigger_id"):
            return ignore(body, "a malformed modal button click")
        extra = {"change": value.change} if takes_change else {}
        result, view = open_view(ctx, assignment_id=value.a, user_id=user_of(body), **extra)
        if view is None:
            explain(client, body, result)
        else:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    return on_open
