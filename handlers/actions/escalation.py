"""A lead clicked "Accept: <answer>" or "Decide…" on an escalation in the leads' channel."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.slack.escalation import ACCEPT_PATTERN, DECIDE
from bot.workflow.decision.escalation import accept_answer, decision_modal
from handlers._refuse import ignore
from handlers.actions._reply import tell, user_of


def make_accept_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_accept(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        value = inbound.button(inbound.EscalationValue, action.get("value"))
        if value is None or value.r is None:
            return ignore(body, "a malformed Accept click")
        result = accept_answer(ctx, escalation_id=value.e, response_id=value.r, lead=user_of(body))
        if result.notice:
            tell(client, body, result.notice)

    return on_accept


def make_decide_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_decide(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        value = inbound.button(inbound.EscalationValue, action.get("value"))
        if value is None or not body.get("trigger_id"):
            return ignore(body, "a malformed Decide click")
        modal = decision_modal(ctx, escalation_id=value.e, lead=user_of(body))
        if modal.view is not None:
            client.views_open(trigger_id=body["trigger_id"], view=modal.view)
        elif modal.refusal:
            tell(client, body, modal.refusal)

    return on_decide


def register(app: App, ctx: QuorumContext) -> None:
    app.action(re.compile(ACCEPT_PATTERN))(make_accept_listener(ctx))
    app.action(DECIDE)(make_decide_listener(ctx))
