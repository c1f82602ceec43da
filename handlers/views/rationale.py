"""The rationale modal was submitted."""

from __future__ import annotations

import logging

from bot.runtime.context import QuorumContext
from bot.slack.views import rationale_submission
from bot.workflow import answers, interactions
from handlers.views._ack import ack_submission


def make_rationale_submission(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_submit(ack, body: dict, view: dict, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        assignment_id, text = rationale_submission(view)
        try:
            result = interactions.run_in_transaction(
                ctx,
                answers.add_rationale,
                assignment_id=assignment_id,
                user_id=body["user"]["id"],
                text=text,
            )
        except Exception:
            logger.exception("recording a rationale failed")
            raise
        ack_submission(ack, result.errors)

    return on_submit
