"""Answering a modal submission: close it, keep it open with the errors shown, or refuse
one that cannot be read."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.slack import inbound
from bot.slack.wording import say
from handlers._refuse import ignore


def ack_submission(ack: Ack, errors: dict[str, str] | None) -> None:
    """`errors` maps a modal input block to its message; none closes the modal."""
    if errors:
        ack(response_action="errors", errors=errors)
    else:
        ack()


def refuse_too_long(ack: Ack, view: dict[str, Any]) -> bool:
    """Keep the modal open on every input over Slack's text cap; True when there was one.
    Slack's own form enforces the cap; a forged submission is not held to it."""
    over = inbound.too_long(view)
    if over:
        ack_submission(
            ack,
            {
                block: say("text_too_long", length=length, limit=inbound.MAX_TEXT)
                for block, length in over.items()
            },
        )
    return bool(over)


def refuse_unreadable(ack: Ack, body: dict[str, Any], what: str) -> None:
    """A submission whose private_metadata is not ours: closed, changing nothing."""
    ack()
    ignore(body, what)
