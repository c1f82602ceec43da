"""One partial step of an answer made of several choices: a response chosen for a rank
(quorum_step:<slot>, a menu in the review DM)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import ids
from bot.slack.controls import is_change_block
from bot.workflow.review import answer
from handlers.actions._reply import explain, run_click, user_of


def make_step_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_step(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        block_id = action.get("block_id") or ""
        assignment_id = ids.assignment_of_block(block_id)
        slot = str(action.get("action_id") or "").rpartition(":")[2]
        picked = (action.get("selected_option") or {}).get("value")
        if assignment_id is None or not slot.isdigit() or picked is None:
            return
        result = run_click(
            ctx,
            body,
            answer.step,
            assignment_id=assignment_id,
            user_id=user_of(body),
            raw={"slot": int(slot), "value": picked},
            change=is_change_block(block_id),
            interaction_id=action.get("action_ts"),
        )
        explain(client, body, result)

    return on_step
