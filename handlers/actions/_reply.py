"""Telling the person who clicked why nothing happened: an ephemeral message where they
clicked (or in their DM with the bot when they clicked in App Home or a modal)."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.workflow.review.outcome import OK_OUTCOMES, Outcome, ReviewResult, refusal

# A duplicate is a double click or a Slack retry of the same answer: nothing to say.
SILENT = OK_OUTCOMES | {Outcome.DUPLICATE}


def user_of(body: dict) -> str:
    return body["user"]["id"]


def channel_of(body: dict) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    user = user_of(body)
    channel = channel_of(body) or client.conversations_open(users=user)["channel"]["id"]
    client.chat_postEphemeral(channel=channel, user=user, text=text)


def explain(client: WebClient, body: dict[str, Any], result: ReviewResult) -> None:
    """An ephemeral refusal when the click changed nothing for a reason worth saying."""
    if result.outcome not in SILENT:
        tell(client, body, refusal(result))
