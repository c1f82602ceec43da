"""The "Skip" button: the item goes to another reviewer."""

from __future__ import annotations

import logging

from bot.runtime.context import QuorumContext
from bot.slack.payloads import decode
from bot.workflow import answers, interactions
from handlers.actions._reply import explain, user_of


def make_skip_listener(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_skip(ack, body: dict, action: dict, client, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        ack()
        try:
            result = interactions.run_in_transaction(
                ctx,
                answers.skip,
                assignment_id=int(decode(action.get("value"))["a"]),
                user_id=user_of(body),
                rng=ctx.rng,
            )
        except Exception:
            logger.exception("skipping an item failed")
            raise
        explain(client, body, result)

    return on_skip
