"""A lead submitted the "Decide…" modal of an escalation: a final value and a rationale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.runtime.context import QuorumContext
from bot.slack.escalation import DECIDE_VIEW, modal_escalation_id
from bot.workflow.decision.escalation import submit_decision
from handlers.views._ack import ack_submission


def make_decide_submission(ctx: QuorumContext) -> Callable[..., None]:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        try:
            result = submit_decision(
                ctx,
                escalation_id=modal_escalation_id(view),
                lead=user,
                state_values=(view.get("state") or {}).get("values") or {},
            )
        except Exception:
            # The lead sees why the modal stayed open; the error boundary logs the failure.
            ack(response_action="errors", errors={"rationale": "Something went wrong; try again."})
            raise
        ack_submission(ack, result.errors)

    return on_submit


def register(app: App, ctx: QuorumContext) -> None:
    app.view(DECIDE_VIEW)(make_decide_submission(ctx))
