"""A reviewer answered in one tap: a label button or menu choice, "A is better",
"Looks right", "Confirm: <label>" (or the same while changing an answer)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import ids
from bot.slack.controls import is_change_block
from bot.slack.payloads import decode
from bot.workflow.review import answer
from handlers.actions._reply import explain, run_click, user_of


def make_answer_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_answer(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        logger: logging.Logger,
    ) -> None:
        ack()
        if action.get("type") == "static_select":  # a label chosen from the menu
            assignment_id = ids.assignment_of_block(action.get("block_id"))
            raw = (action.get("selected_option") or {}).get("value")
            change = is_change_block(action.get("block_id"))
        else:
            data = decode(action.get("value"))
            assignment_id, raw, change = data.get("a"), data.get("v"), bool(data.get("c"))
        if assignment_id is None or raw is None:
            logger.warning("an answer click without an assignment or value was ignored")
            return
        result = run_click(
            ctx,
            body,
            answer.submit,
            assignment_id=int(assignment_id),
            user_id=user_of(body),
            raw=raw,
            change=change,
            interaction_id=action.get("action_ts"),
        )
        explain(client, body, result)

    return on_answer
