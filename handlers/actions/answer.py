"""A reviewer clicked an answer button in a review request."""

from __future__ import annotations

import logging

from bot.context import QuorumContext
from bot.slack.messages import parse_answer_value
from bot.slack.wording import say
from bot.workflow.responses import AnswerOutcome
from bot.workflow.reviews import answer


def make_answer_listener(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_answer(ack, body: dict, action: dict, client, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        ack()
        user_id = body["user"]["id"]
        try:
            assignment_id, value = parse_answer_value(action["value"])
            result = answer(
                ctx,
                assignment_id=assignment_id,
                user_id=user_id,
                value=value,
                interaction_id=action.get("action_ts"),
            )
        except Exception:
            logger.exception("recording an answer failed")
            raise
        notice = {
            AnswerOutcome.NOT_ASSIGNED: lambda: say("not_assigned"),
            AnswerOutcome.CLOSED: lambda: say(
                "already_closed", state=result.detail.replace("_", " ")
            ),
            AnswerOutcome.INVALID: lambda: f"That answer was not recorded: {result.detail}.",
        }.get(result.outcome)
        if notice is not None:
            channel = (body.get("channel") or {}).get("id") or body["container"].get("channel_id")
            client.chat_postEphemeral(channel=channel, user=user_id, text=notice())

    return on_answer
