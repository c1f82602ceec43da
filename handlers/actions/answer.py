"""A reviewer answered in one tap: a label button or menu choice, "A is better",
"Looks right", "Confirm: <label>" (or the same while changing an answer)."""

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


def make_answer_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_answer(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        clicked = inbound.action(action)
        if clicked is None:
            return ignore(body, "a malformed answer click")
        if clicked.type == "static_select":  # a label chosen from the menu
            assignment_id = ids.assignment_of_block(clicked.block_id)
            raw: Any = clicked.selected
            change = is_change_block(clicked.block_id)
        else:
            value = inbound.button(inbound.AssignmentValue, clicked.value)
            assignment_id, raw = (value.a, value.v) if value else (None, None)
            change = bool(value and value.change)
        if assignment_id is None or raw is None:
            return ignore(body, "an answer click without an assignment or value")
        result = run_click(
            ctx,
            body,
            answer.submit,
            assignment_id=assignment_id,
            user_id=user_of(body),
            raw=raw,
            change=change,
            interaction_id=clicked.action_ts,
        )
        explain(client, body, result)

    return on_answer
