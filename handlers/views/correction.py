"""The "Edit response" modal was submitted: the corrected text (and an optional rationale)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.workflow.review import interactions
from handlers.actions._reply import user_of
from handlers.views._ack import ack_submission, refuse_too_long, refuse_unreadable


def make_correction_submission(ctx: QuorumContext) -> Callable[..., None]:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submitted = inbound.correction_submission(view)
        if submitted is None:
            return refuse_unreadable(ack, body, "a correction modal that is not ours")
        if refuse_too_long(ack, view):
            return None
        result = interactions.correction_submitted(
            ctx,
            assignment_id=submitted.assignment_id,
            user_id=user_of(body),
            text=submitted.text,
            rationale=submitted.rationale,
            change=submitted.change,
        )
        # empty, unchanged, or the item closed meanwhile: say so in the modal
        ack_submission(ack, result.errors)

    return on_submit
