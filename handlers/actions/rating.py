"""Likert scores: a button (or menu choice) per criterion, and "Save new ratings" while
changing a rating."""

from __future__ import annotations

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


def make_rate_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_rate(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        block_id = action.get("block_id") or ""
        if action.get("type") == "static_select":  # many criteria: one menu each
            parts = block_id.split(":")  # rate:<assignment>:<criterion index>[:c]
            assignment_id = ids.assignment_of_block(block_id)
            criterion = None
            index = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1
            score = int(action["selected_option"]["value"])
            change = is_change_block(block_id)
        else:
            data = decode(action.get("value"))
            assignment_id, criterion, index = data.get("a"), data.get("k"), None
            score, change = int(data["s"]), bool(data.get("c"))
        if assignment_id is None:
            return
        result = run_click(
            ctx,
            body,
            answer.rate,
            assignment_id=int(assignment_id),
            user_id=user_of(body),
            criterion=criterion,
            criterion_index=index,
            score=score,
            change=change,
            interaction_id=action.get("action_ts"),
        )
        explain(client, body, result)

    return on_rate


def make_save_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_save(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        result = run_click(
            ctx,
            body,
            answer.save_rating,
            assignment_id=int(decode(action.get("value"))["a"]),
            user_id=user_of(body),
            interaction_id=action.get("action_ts"),
        )
        explain(client, body, result)

    return on_save
