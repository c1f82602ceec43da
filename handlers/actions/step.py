"""One partial step of an answer made of several choices: a response chosen for a rank
(quorum_step:<slot>, a menu in the review DM)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import ids, inbound
from bot.slack.controls import is_change_block
from bot.workflow.review import answer
from handlers._refuse import ignore
from handlers.actions._reply import explain, run_click, user_of

MAX_SLOT_DIGITS = 3  # a rank's slot: far more than the responses an item may have


def make_step_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_step(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        clicked = inbound.action(action)
        if clicked is None:
            return ignore(body, "a malformed step choice")
        block_id = clicked.block_id or ""
        assignment_id = ids.assignment_of_block(block_id)
        slot = clicked.action_id.rpartition(":")[2]
        picked = clicked.selected
        if (
            assignment_id is None
            or not (slot.isascii() and slot.isdigit())
            or len(slot) > MAX_SLOT_DIGITS
            or picked is None
        ):
            return ignore(body, "a step choice without an assignment, slot or value")
        result = run_click(
            ctx,
            body,
            answer.step,
            assignment_id=assignment_id,
            user_id=user_of(body),
            raw={"slot": int(slot), "value": picked},
            change=is_change_block(block_id),
            interaction_id=clicked.action_ts,
        )
        explain(client, body, result)

    return on_step
