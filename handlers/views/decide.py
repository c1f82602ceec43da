"""A lead submitted the "Decide…" modal of an escalation: a final value and a rationale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.slack.escalation import DECIDE_VIEW
from bot.workflow.decision.escalation import submit_decision
from handlers.actions._reply import user_of
from handlers.views._ack import ack_submission, refuse_too_long, refuse_unreadable


def make_decide_submission(ctx: QuorumContext) -> Callable[..., None]:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = inbound.metadata(inbound.EscalationMeta, view)
        if meta is None:
            return refuse_unreadable(ack, body, "a decision modal that is not ours")
        if refuse_too_long(ack, view):  # the lead's rationale and a corrected text
            return None
        try:
            result = submit_decision(
                ctx,
                escalation_id=meta.e,
                lead=user_of(body),
                state_values=inbound.state_values(view.get("state")),
            )
        except Exception:
            # The lead sees why the modal stayed open; the error boundary logs the failure.
            ack(response_action="errors", errors={"rationale": "Something went wrong; try again."})
            raise
        ack_submission(ack, result.errors)

    return on_submit


def register(app: App, ctx: QuorumContext) -> None:
    app.view(DECIDE_VIEW)(make_decide_submission(ctx))
