"""The rationale modal was submitted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.workflow.review import interactions, notes
from handlers.actions._reply import user_of
from handlers.views._ack import ack_submission, refuse_too_long, refuse_unreadable


def make_rationale_submission(ctx: QuorumContext) -> Callable[..., None]:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submitted = inbound.rationale_submission(view)
        if submitted is None:
            return refuse_unreadable(ack, body, "a rationale modal that is not ours")
        if refuse_too_long(ack, view):
            return None
        result = interactions.run_in_transaction(
            ctx,
            notes.add_rationale,
            assignment_id=submitted.assignment_id,
            user_id=user_of(body),
            text=submitted.text,
        )
        ack_submission(ack, result.errors)

    return on_submit
