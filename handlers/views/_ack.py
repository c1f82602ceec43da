"""Answering a modal submission: close it, or keep it open with the errors shown."""

from __future__ import annotations


def ack_submission(ack, errors: dict[str, str] | None) -> None:  # type: ignore[no-untyped-def]
    """`errors` maps a modal input block to its message; none closes the modal."""
    if errors:
        ack(response_action="errors", errors=errors)
    else:
        ack()
