"""Block Kit for review requests and their answered state, built with slack_sdk.models
so Slack's length limits are checked when the blocks are serialised."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.projects import ProjectConfig
from bot.slack import ids
from bot.slack.text import SECTION_LIMIT, format_turn, truncate
from bot.slack.wording import say

MAX_BUTTON_TEXT = 75


@dataclass(frozen=True)
class SlackMessage:
    text: str  # notification fallback; also what screen readers announce
    blocks: list[dict]


def answer_value(assignment_id: int, value: object) -> str:
    return json.dumps({"a": assignment_id, "v": value}, separators=(",", ":"))


def parse_answer_value(raw: str) -> tuple[int, object]:
    data = json.loads(raw)
    return int(data["a"]), data["v"]


def _button_text(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_TEXT else text[: MAX_BUTTON_TEXT - 1] + "…"


def conversation_blocks(turns: list[dict], *, budget: int = 12) -> list[Block]:
    """One section per turn, each cut to Slack's section limit."""
    blocks: list[Block] = []
    for turn in turns[-budget:]:
        text, _ = truncate(format_turn(turn), SECTION_LIMIT)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    return blocks


def _serialise(blocks: list[Block]) -> list[dict]:
    return [block.to_dict() for block in blocks]


def label_review_request(
    config: ProjectConfig, *, assignment_id: int, content: dict
) -> SlackMessage:
    prediction = content.get("prediction") or {}
    predicted = prediction.get("label")
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=say("review_intro", project_name=config.name, question=config.question)
            )
        ),
        DividerBlock(),
        *conversation_blocks(content.get("conversation", [])),
    ]
    if predicted is not None:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=say(
                            "prediction",
                            label=predicted,
                            confidence=prediction.get("confidence"),
                            model=prediction.get("model"),
                        )
                    )
                ]
            )
        )
    buttons = []
    for index, label in enumerate(config.labels):
        is_predicted = label == predicted
        buttons.append(
            ButtonElement(
                text=_button_text(f"Confirm: {label}" if is_predicted else label),
                action_id=ids.indexed(ids.ANSWER, index),
                value=answer_value(assignment_id, label),
                style="primary" if is_predicted else None,
            )
        )
    blocks.append(ActionsBlock(block_id=f"answer:{assignment_id}", elements=buttons))
    return SlackMessage(
        text=say("notification", project_name=config.name), blocks=_serialise(blocks)
    )


def answered_message(
    config: ProjectConfig, *, content: dict, answer: str, at: datetime
) -> SlackMessage:
    """The review request after an answer: same sample, the buttons replaced by a receipt."""
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=say("review_intro", project_name=config.name, question=config.question)
            )
        ),
        DividerBlock(),
        *conversation_blocks(content.get("conversation", [])),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=say("answer_recorded", answer=answer, at=at.strftime("%Y-%m-%d %H:%M UTC"))
                )
            ]
        ),
    ]
    return SlackMessage(text=f"Recorded: {answer}", blocks=_serialise(blocks))
