"""The flag modal was submitted: a reason and an optional note for the leads."""

from __future__ import annotations

import logging

from bot.runtime.context import QuorumContext
from bot.slack.views import flag_submission
from bot.workflow import answers, interactions
from handlers.views._ack import ack_submission


def make_flag_submission(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_submit(ack, body: dict, view: dict, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        assignment_id, reason, note = flag_submission(view)
        try:
            result = interactions.run_in_transaction(
                ctx,
                answers.flag,
                assignment_id=assignment_id,
                user_id=body["user"]["id"],
                reason=reason or "",
                note=note,
            )
        except Exception:
            logger.exception("recording a flag failed")
            raise
        ack_submission(ack, result.errors)

    return on_submit
