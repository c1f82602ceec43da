"""The flag modal was submitted: a reason and an optional note for the leads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack

from bot.runtime.context import QuorumContext
from bot.slack.views import flag_submission
from bot.workflow.review import interactions, notes
from handlers.views._ack import ack_submission


def make_flag_submission(ctx: QuorumContext) -> Callable[..., None]:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        assignment_id, reason, note = flag_submission(view)
        result = interactions.run_in_transaction(
            ctx,
            notes.flag,
            assignment_id=assignment_id,
            user_id=body["user"]["id"],
            reason=reason or "",
            note=note,
        )
        ack_submission(ack, result.errors)

    return on_submit
