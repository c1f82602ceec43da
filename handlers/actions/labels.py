"""Multi-label requests: ticking labels (kept as a draft) and "Submit"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import ids, inbound
from bot.workflow.review import answer
from handlers._refuse import ignore
from handlers.actions._reply import explain, run_click, user_of


def ticked_in_state(body: dict, assignment_id: int) -> list[str] | None:
    """The labels ticked in the message, from the state Slack sends with a click."""
    values = inbound.state_values(body.get("state"))
    for block_id, entries in values.items():
        if ids.assignment_of_block(block_id) == assignment_id and block_id.startswith("labels:"):
            entry = entries.get(ids.TICK_LABELS)
            if entry is not None:
                return [option["value"] for option in entry.get("selected_options") or []]
    return None


def make_tick_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_tick(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        clicked = inbound.action(action)
        assignment_id = ids.assignment_of_block(clicked.block_id) if clicked else None
        if clicked is None or assignment_id is None:
            return ignore(body, "a malformed label tick")
        run_click(
            ctx,
            body,
            answer.tick_labels,
            assignment_id=assignment_id,
            user_id=user_of(body),
            labels=clicked.selected_values,
        )

    return on_tick


def make_submit_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_submit(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        clicked = inbound.action(action)
        value = inbound.button(inbound.AssignmentValue, action.get("value"))
        if clicked is None or value is None:
            return ignore(body, "a malformed labels Submit click")
        result = run_click(
            ctx,
            body,
            answer.submit_labels,
            assignment_id=value.a,
            user_id=user_of(body),
            labels=ticked_in_state(body, value.a),
            change=value.change,
            interaction_id=clicked.action_ts,
        )
        explain(client, body, result)

    return on_submit
