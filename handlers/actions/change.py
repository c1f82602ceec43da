"""The "Change my answer" button re-opens the choices; "Keep my answer" closes them."""

from __future__ import annotations

import logging

from bot.runtime.context import QuorumContext
from bot.slack.payloads import decode
from bot.workflow import answers, interactions
from handlers.actions._reply import explain, user_of


def make_change_listener(ctx: QuorumContext, *, keep: bool = False):  # type: ignore[no-untyped-def]
    service = answers.keep_answer if keep else answers.start_change

    def on_change(ack, body: dict, action: dict, client, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        ack()
        try:
            result = interactions.run_in_transaction(
                ctx,
                service,
                assignment_id=int(decode(action.get("value"))["a"]),
                user_id=user_of(body),
            )
        except Exception:
            logger.exception("changing an answer failed")
            raise
        explain(client, body, result)

    return on_change
