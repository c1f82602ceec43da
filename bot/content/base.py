"""The protocol of a content type, and what every imported record carries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from slack_sdk.models.blocks import Block

from bot.config.people import Requirements
from bot.slack.conversation import Part


class InvalidContent(ValueError):
    """Item content that a prompt or a message cannot be built from; says why."""


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemRecord(Record):
    """Fields of every imported item, whatever it shows: the caller's own id, free
    metadata, an optional gold answer and what its reviewers must know (languages,
    skills)."""

    id: str = Field(min_length=1, max_length=255)
    metadata: dict[str, Any] | None = None
    gold: Any | None = None
    requires: Requirements | None = None


# The fields of ItemRecord that reviewers are not shown: the rest is the item's content.
NOT_CONTENT = frozenset({"id", "metadata", "gold", "requires"})


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

    def shared_files(self, content: dict) -> list[dict[str, Any]]:
        """Stored media to share into the review DM's thread as files, for Slack's own
        player: {sha256, filename, title} each."""
        return []
