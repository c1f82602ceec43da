"""A lead clicked "Accept: <answer>" or "Decide…" on an escalation in the leads' channel."""

from __future__ import annotations

import logging
import re

from bot.runtime.context import QuorumContext
from bot.slack.escalation import ACCEPT_PATTERN, DECIDE, parse_choice_value
from bot.workflow.escalation import accept_answer, decision_modal


def _channel(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def make_accept_listener(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_accept(ack, body: dict, action: dict, client, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        ack()
        user = body["user"]["id"]
        try:
            escalation_id, response_id = parse_choice_value(action["value"])
            result = accept_answer(
                ctx, escalation_id=escalation_id, response_id=response_id or 0, lead=user
            )
        except Exception:
            logger.exception("resolving an escalation failed")
            raise
        if result.notice:
            client.chat_postEphemeral(channel=_channel(body), user=user, text=result.notice)

    return on_accept


def make_decide_listener(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_decide(ack, body: dict, action: dict, client, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        ack()
        user = body["user"]["id"]
        try:
            escalation_id, _ = parse_choice_value(action["value"])
            modal = decision_modal(ctx, escalation_id=escalation_id, lead=user)
            if modal.view is not None:
                client.views_open(trigger_id=body["trigger_id"], view=modal.view)
                return
        except Exception:
            logger.exception("opening the decision modal failed")
            raise
        client.chat_postEphemeral(channel=_channel(body), user=user, text=modal.refusal)

    return on_decide


def register(app, ctx: QuorumContext) -> None:  # type: ignore[no-untyped-def]
    app.action(re.compile(ACCEPT_PATTERN))(make_accept_listener(ctx))
    app.action(DECIDE)(make_decide_listener(ctx))
