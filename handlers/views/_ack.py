"""Answering a modal submission: close it, or keep it open with the errors shown."""

from __future__ import annotations

from slack_bolt import Ack


def ack_submission(ack: Ack, errors: dict[str, str] | None) -> None:
    """`errors` maps a modal input block to its message; none closes the modal."""
    if errors:
        ack(response_action="errors", errors=errors)
    else:
        ack()
