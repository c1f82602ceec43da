"""The protocol of a content type, and what every imported record carries."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.models.blocks import Block

from bot.slack.conversation import Part


class InvalidContent(ValueError):
    """Item content that a prompt or a message cannot be built from; says why."""


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemRecord(Record):
    """Fields of every imported item, whatever it shows: the caller's own id, free
    metadata and an optional gold answer."""

    id: str = Field(min_length=1, max_length=255)
    metadata: dict[str, Any] | None = None
    gold: Any | None = None


class ContentType(ABC):
    """Defaults shared by the content types; each module overrides what differs."""

    name: ClassVar[str]
    key: ClassVar[str]  # the item field that marks content of this type
    record: ClassVar[type[ItemRecord]]

    @abstractmethod
    def parts(
        self, content: dict, presentation: dict | None, *, focus_reviewed: bool
    ) -> list[Part]:
        """The sample as titled parts for a review DM and the full-view modal;
        `focus_reviewed` marks the turn under review, for kinds that judge it."""

    @abstractmethod
    def channel_blocks(self, content: dict) -> list[Block]:
        """The sample compacted for a channel message (the leads' escalation card)."""

    @abstractmethod
    def prompt_variables(self, content: dict) -> dict[str, Any]:
        """The sample's variables for an LLM prompt template (InvalidContent if unusable)."""


def prompt_turns(raw: object, field: str) -> list[dict]:
    """Turns as {role, content} text for a prompt; a bare string is one user turn."""
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise InvalidContent(f"item has no `{field}` (a list of {{role, content}} turns)")
    turns = []
    for turn in raw:
        if not isinstance(turn, dict) or "content" not in turn:
            raise InvalidContent(f"`{field}` holds a turn without `content`")
        content = turn["content"]
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        turns.append({"role": str(turn.get("role") or "user"), "content": text})
    return turns


def export_turns(turns: Any) -> list[dict]:
    """Turns as trainers read them: role and content only."""
    return [{"role": t.get("role"), "content": t.get("content")} for t in turns or []]
