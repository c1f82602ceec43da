"""Block Kit building blocks shared by review requests, answered receipts, modals and
App Home, built with slack_sdk.models so Slack's length limits are checked when the
blocks are serialised (the 50-block rule is the callers' job; they budget for it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slack import conversation
from bot.slack.payloads import encode
from bot.slack.text import Mrkdwn, date_token
from bot.slack.wording import say, say_plain

MAX_BUTTON_TEXT = 75
MAX_MESSAGE_BLOCKS = 50
CONTEXT_CHARS = 2900


class Titled(Protocol):
    """What a message's intro names: the project (a ProjectConfig)."""

    @property
    def name(self) -> str: ...
    @property
    def question(self) -> str: ...


@dataclass(frozen=True)
class SlackMessage:
    text: str  # notification fallback; also what screen readers announce
    blocks: list[dict]
    # Media placeholders the message's full view shows, to upload with it (Preview).
    prefetch: list[str] = field(default_factory=list)


# --- values carried by buttons ------------------------------------------------------------


def answer_value(assignment_id: int, value: object, *, change: bool = False) -> str:
    """A one-tap answer: the assignment, the raw choice, and whether it changes an answer."""
    data: dict[str, Any] = {"a": assignment_id, "v": value}
    if change:
        data["c"] = 1
    return encode(data)


def assignment_value(assignment_id: int, **extra: Any) -> str:
    return encode({"a": assignment_id, **extra})


# --- small builders -----------------------------------------------------------------------


def slack_time(at: datetime) -> Mrkdwn:
    """A time every reader sees in their own time zone (Slack's date token), with a UTC
    fallback for clients that cannot format it."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return date_token(int(at.timestamp()), "{date_short_pretty} at {time}", fallback)


def control(name: str) -> str:
    """The short text of a button, menu, title or heading (plain_text)."""
    return say_plain("controls", name=name)


def button_text(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_TEXT else text[: MAX_BUTTON_TEXT - 1] + "…"


def button(
    text: str,
    action_id: str,
    value: str | None = None,
    *,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=button_text(text), action_id=action_id, value=value, style=style, confirm=confirm
    )


def section(text: str, *, block_id: str | None = None) -> SectionBlock:
    text, _ = conversation.cut(text, conversation.SECTION_CHARS)
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id)


def context(text: str, *, block_id: str | None = None) -> ContextBlock:
    text, _ = conversation.cut(text, CONTEXT_CHARS)
    return ContextBlock(elements=[MarkdownTextObject(text=text)], block_id=block_id)


def actions(elements: list, *, block_id: str | None = None) -> ActionsBlock:
    return ActionsBlock(elements=elements, block_id=block_id)


def intro(config: Titled) -> SectionBlock:
    return section(say("review_intro", project_name=config.name, question=config.question))


def serialise(blocks: list[Block]) -> list[dict]:
    if len(blocks) > MAX_MESSAGE_BLOCKS:
        raise ValueError(f"a message holds at most {MAX_MESSAGE_BLOCKS} blocks, not {len(blocks)}")
    return [block.to_dict() for block in blocks]
