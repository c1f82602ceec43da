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
from bot.slack.payloads import decode
from bot.workflow.review import interactions
from handlers.actions._reply import explain, user_of


def make_modal_listener(ctx: QuorumContext, modal: str) -> Callable[..., None]:
    def on_open(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        data = decode(action.get("value"))
        assignment_id, user = int(data["a"]), user_of(body)
        if modal == "correction":
            result, view = interactions.correction_view(
                ctx, assignment_id=assignment_id, user_id=user, change=bool(data.get("c"))
            )
        elif modal == "rationale":
            result, view = interactions.rationale_view(
                ctx, assignment_id=assignment_id, user_id=user
            )
        else:
            result, view = interactions.flag_view(ctx, assignment_id=assignment_id, user_id=user)
        if view is None:
            explain(client, body, result)
        else:
            client.views_open(trigger_id=body["trigger_id"], view=view)

    return on_open
