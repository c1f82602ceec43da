"""The "Edit response" modal was submitted: the corrected text (and an optional rationale)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack

from bot.runtime.context import QuorumContext
from bot.slack.views import correction_submission
from bot.workflow.review import interactions
from handlers.views._ack import ack_submission


def make_correction_submission(ctx: QuorumContext) -> Callable[..., None]:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        assignment_id, change, text, rationale = correction_submission(view)
        result = interactions.correction_submitted(
            ctx,
            assignment_id=assignment_id,
            user_id=body["user"]["id"],
            text=text,
            rationale=rationale,
            change=change,
        )
        # empty, unchanged, or the item closed meanwhile: say so in the modal
        ack_submission(ack, result.errors)

    return on_submit
