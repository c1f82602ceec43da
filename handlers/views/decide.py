"""A lead submitted the "Decide…" modal of an escalation: a final value and a rationale."""

from __future__ import annotations

import logging

from bot.runtime.context import QuorumContext
from bot.slack.escalation import DECIDE_VIEW, modal_escalation_id
from bot.workflow.escalation import submit_decision
from handlers.views._ack import ack_submission


def make_decide_submission(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_submit(ack, body: dict, view: dict, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        user = body["user"]["id"]
        try:
            result = submit_decision(
                ctx,
                escalation_id=modal_escalation_id(view),
                lead=user,
                state_values=(view.get("state") or {}).get("values") or {},
            )
        except Exception:
            logger.exception("recording a lead's decision failed")
            ack(response_action="errors", errors={"rationale": "Something went wrong; try again."})
            raise
        ack_submission(ack, result.errors)

    return on_submit


def register(app, ctx: QuorumContext) -> None:  # type: ignore[no-untyped-def]
    app.view(DECIDE_VIEW)(make_decide_submission(ctx))
