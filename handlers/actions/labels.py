"""Multi-label requests: ticking labels (kept as a draft) and "Submit"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import ids
from bot.slack.payloads import decode
from bot.workflow.review import answer
from handlers.actions._reply import explain, run_click, user_of


def _chosen(entry: dict) -> list[str]:
    return [o["value"] for o in entry.get("selected_options") or []]


def ticked_in_state(body: dict, assignment_id: int) -> list[str] | None:
    """The labels ticked in the message, from the state Slack sends with a click."""
    values = (body.get("state") or {}).get("values") or {}
    for block_id, entries in values.items():
        if ids.assignment_of_block(block_id) == assignment_id and block_id.startswith("labels:"):
            entry = entries.get(ids.TICK_LABELS)
            if entry is not None:
                return _chosen(entry)
    return None


def make_tick_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_tick(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        assignment_id = ids.assignment_of_block(action.get("block_id"))
        if assignment_id is None:
            return
        run_click(
            ctx,
            body,
            answer.tick_labels,
            assignment_id=assignment_id,
            user_id=user_of(body),
            labels=_chosen(action),
        )

    return on_tick


def make_submit_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_submit(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        data = decode(action.get("value"))
        assignment_id = int(data["a"])
        result = run_click(
            ctx,
            body,
            answer.submit_labels,
            assignment_id=assignment_id,
            user_id=user_of(body),
            labels=ticked_in_state(body, assignment_id),
            change=bool(data.get("c")),
            interaction_id=action.get("action_ts"),
        )
        explain(client, body, result)

    return on_submit
