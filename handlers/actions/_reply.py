"""Telling the person who clicked why nothing happened: an ephemeral message where they
clicked (or in their DM with the bot when they clicked in App Home or a modal)."""

from __future__ import annotations

from bot.workflow.answers import OK_OUTCOMES, Outcome, ReviewResult, refusal

# A duplicate is a double click or a Slack retry of the same answer: nothing to say.
SILENT = OK_OUTCOMES | {Outcome.DUPLICATE}


def user_of(body: dict) -> str:
    return body["user"]["id"]


def channel_of(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def tell(client, body: dict, text: str) -> None:  # type: ignore[no-untyped-def]
    user = user_of(body)
    channel = channel_of(body) or client.conversations_open(users=user)["channel"]["id"]
    client.chat_postEphemeral(channel=channel, user=user, text=text)


def explain(client, body: dict, result: ReviewResult) -> None:  # type: ignore[no-untyped-def]
    """An ephemeral refusal when the click changed nothing for a reason worth saying."""
    if result.outcome not in SILENT:
        tell(client, body, refusal(result))
