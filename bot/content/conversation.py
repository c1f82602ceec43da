"""A conversation: turns of a chat with a model, the last assistant turn being the one
rated, corrected or labelled."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.content.base import ContentType, InvalidContent, ItemRecord, Record
from bot.content.media import image_picture, media_of
from bot.content.parts import ContentPart, prompt_turns, turn_text
from bot.slack.conversation import Part, picture_block
from bot.slack.text import SECTION_LIMIT, format_turn, truncate

MAX_CHANNEL_TURNS = 6
CHANNEL_TURN_CHARS = 1200


class Turn(Record):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[ContentPart] = Field(min_length=1)  # text, or OpenAI's parts


def shown_turns(turns: list[dict]) -> list[dict]:
    """Turns as a message shows them: a turn of content parts as its text, with the
    images (and audio waveforms) of its parts as pictures in its place."""
    shown = []
    for turn in turns:
        content = turn.get("content")
        if not isinstance(content, list):
            shown.append(turn)
            continue
        pictures = tuple(
            image_picture(fields, "audio clip" if path.endswith("input_audio") else "image")
            for path, fields in media_of({"conversation": [turn]})
        )
        shown.append({**turn, "content": turn_text(content), "pictures": pictures})
    return shown


class ConversationRecord(ItemRecord):
    conversation: list[Turn] = Field(min_length=1)


class ReviewedConversationRecord(ConversationRecord):
    """A conversation whose last assistant turn is under review (ratings, corrections)."""

    @model_validator(mode="after")
    def _has_assistant_turn(self) -> ReviewedConversationRecord:
        if not any(turn.role == "assistant" for turn in self.conversation):
            raise ValueError("`conversation` needs an assistant turn to review")
        return self


def reviewed_turn(content: dict | None) -> int | None:
    """Index of the turn a rating or correction is about: the last assistant turn."""
    turns = (content or {}).get("conversation") or []
    for index in range(len(turns) - 1, -1, -1):
        if turns[index].get("role") == "assistant":
            return index
    return None


def original_response(content: dict | None) -> str:
    """The model text under review: the last assistant turn, or for an item showing a
    medium its `text` (a transcript, a caption); "" if there is none."""
    if "conversation" not in (content or {}):
        return str((content or {}).get("text") or "")
    index = reviewed_turn(content)
    return "" if index is None else turn_text((content or {})["conversation"][index].get("content"))


def channel_turn_blocks(turns: list[dict], *, budget: int = MAX_CHANNEL_TURNS) -> list[Block]:
    blocks: list[Block] = []
    if len(turns) > budget:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(text=f"_{len(turns) - budget} earlier turn(s) not shown_")
                ]
            )
        )
    for turn in turns[-budget:]:
        text = truncate(truncate(format_turn(turn), CHANNEL_TURN_CHARS)[0], SECTION_LIMIT)[0]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
        blocks += [picture_block(p) for p in turn.get("pictures", ())]
    return blocks


class Conversation(ContentType):
    name = "conversation"
    key = "conversation"
    record = ConversationRecord

    def parts(
        self, content: dict, presentation: dict | None, *, focus_reviewed: bool
    ) -> list[Part]:
        focus = reviewed_turn(content) if focus_reviewed else None
        return [Part(None, shown_turns(content.get("conversation", [])), focus=focus)]

    def channel_blocks(self, content: dict) -> list[Block]:
        return channel_turn_blocks(shown_turns(content.get("conversation") or []))

    def prompt_variables(self, content: dict) -> dict[str, Any]:
        return {"conversation": prompt_turns(content.get("conversation"), "conversation")}

    def reviewed(self, content: dict, *, kind: str, verb: str) -> tuple[list[dict], str]:
        """(the turns before the one under review, its text) for a prompt of a `kind`
        item that asks to `verb` that turn."""
        conversation = self.prompt_variables(content)["conversation"]
        last = max(
            (i for i, t in enumerate(conversation) if t["role"] == "assistant"), default=None
        )
        if last is None:
            raise InvalidContent(f"a {kind} item needs an assistant turn to {verb}")
        return conversation[:last], conversation[last]["content"]


CONVERSATION = Conversation()
