"""A lead clicked "Accept: <answer>" or "Decide…" on an escalation in the leads' channel."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.runtime.context import QuorumContext
from bot.slack.escalation import ACCEPT_PATTERN, DECIDE, parse_choice_value
from bot.workflow.decision.escalation import accept_answer, decision_modal
from handlers.actions._reply import tell


def make_accept_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_accept(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        escalation_id, response_id = parse_choice_value(action["value"])
        result = accept_answer(
            ctx, escalation_id=escalation_id, response_id=response_id or 0, lead=user
        )
        if result.notice:
            tell(client, body, result.notice)

    return on_accept


def make_decide_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_decide(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        escalation_id, _ = parse_choice_value(action["value"])
        modal = decision_modal(ctx, escalation_id=escalation_id, lead=user)
        if modal.view is not None:
            client.views_open(trigger_id=body["trigger_id"], view=modal.view)
        elif modal.refusal:
            tell(client, body, modal.refusal)

    return on_decide


def register(app: App, ctx: QuorumContext) -> None:
    app.action(re.compile(ACCEPT_PATTERN))(make_accept_listener(ctx))
    app.action(DECIDE)(make_decide_listener(ctx))
