"""The "Edit response" modal was submitted: the corrected text (and an optional rationale)."""

from __future__ import annotations

import logging

from bot.runtime.context import QuorumContext
from bot.slack.views import correction_submission
from bot.workflow import interactions
from handlers.views._ack import ack_submission


def make_correction_submission(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_submit(ack, body: dict, view: dict, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        assignment_id, change, text, rationale = correction_submission(view)
        try:
            result = interactions.correction_submitted(
                ctx,
                assignment_id=assignment_id,
                user_id=body["user"]["id"],
                text=text,
                rationale=rationale,
                change=change,
            )
        except Exception:
            logger.exception("recording a correction failed")
            raise
        # empty, unchanged, or the item closed meanwhile: say so in the modal
        ack_submission(ack, result.errors)

    return on_submit
