"""Likert scores: a button (or menu choice) per criterion, and "Save new ratings" while
changing a rating."""

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

MAX_SCORE_DIGITS = 6  # a menu's score is an option value we wrote: a small integer


def _small_int(text: str | None) -> int | None:
    raw = (text or "").removeprefix("-")
    small = raw.isascii() and raw.isdigit() and len(raw) <= MAX_SCORE_DIGITS
    return int(text or "") if small else None


def make_rate_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_rate(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        clicked = inbound.action(action)
        if clicked is None:
            return ignore(body, "a malformed rating click")
        block_id = clicked.block_id or ""
        criterion: str | None = None
        index: int | None = None
        if clicked.type == "static_select":  # many criteria: one menu each
            parts = block_id.split(":")  # rate:<assignment>:<criterion index>[:c]
            assignment_id = ids.assignment_of_block(block_id)
            index = _small_int(parts[2]) if len(parts) > 2 else None
            index = -1 if index is None else index
            score = _small_int(clicked.selected)
            change = is_change_block(block_id)
        else:
            value = inbound.button(inbound.AssignmentValue, clicked.value)
            assignment_id = value.a if value else None
            criterion, score = (value.k, value.s) if value else (None, None)
            change = bool(value and value.change)
        if assignment_id is None or score is None:
            return ignore(body, "a rating click without an assignment or score")
        result = run_click(
            ctx,
            body,
            answer.rate,
            assignment_id=assignment_id,
            user_id=user_of(body),
            criterion=criterion,
            criterion_index=index,
            score=score,
            change=change,
            interaction_id=clicked.action_ts,
        )
        explain(client, body, result)

    return on_rate


def make_save_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_save(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        clicked = inbound.action(action)
        value = inbound.button(inbound.AssignmentValue, action.get("value"))
        if clicked is None or value is None:
            return ignore(body, "a malformed Save-ratings click")
        result = run_click(
            ctx,
            body,
            answer.save_rating,
            assignment_id=value.a,
            user_id=user_of(body),
            interaction_id=clicked.action_ts,
        )
        explain(client, body, result)

    return on_save
