"""A prompt with candidate responses from one or more models, compared side by side
(preferences: two; rankings: three to six). Reviewers see them in a per-reviewer order
recorded with the assignment, under position letters A, B, C…"""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field
from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.content.base import ContentType, InvalidContent, ItemRecord, Record, prompt_turns
from bot.content.conversation import Turn, channel_turn_blocks
from bot.slack.conversation import Part
from bot.slack.text import SECTION_LIMIT, escape_mrkdwn, truncate
from bot.slack.wording import say

LETTERS = "ABCDEFGH"
CHANNEL_RESPONSE_CHARS = 1500


class CandidateResponse(Record):
    id: str = Field(min_length=1, max_length=64)
    content: str
    model: str | None = None


class CandidatesRecord(ItemRecord):
    prompt: list[Turn] = Field(min_length=1)
    responses: list[CandidateResponse] = Field(min_length=2)


def response_ids(content: dict | None) -> list[str]:
    return [str(r.get("id")) for r in (content or {}).get("responses") or []]


def shown_order(content: dict, presentation: dict | None) -> list[str]:
    """Response ids in the order this reviewer saw them (position A first)."""
    order = (presentation or {}).get("order")
    return [str(o) for o in order] if order else response_ids(content)


def shuffled_order(content: dict, rng: random.Random) -> dict:
    order = response_ids(content)
    rng.shuffle(order)
    return {"order": order}


class Candidates(ContentType):
    name = "candidates"
    record = CandidatesRecord

    def parts(
        self, content: dict, presentation: dict | None, *, focus_reviewed: bool
    ) -> list[Part]:
        by_id = {str(r["id"]): r for r in content.get("responses", [])}
        parts = [Part(say("controls", name="prompt"), list(content.get("prompt", [])))]
        for letter, response_id in zip(LETTERS, shown_order(content, presentation), strict=False):
            turn = {"role": "assistant", "content": by_id[response_id].get("content", "")}
            parts.append(Part(say("response_title", letter=letter), [turn], roles=False))
        return parts

    def channel_blocks(self, content: dict) -> list[Block]:
        blocks = channel_turn_blocks(content.get("prompt") or [], budget=3)
        for response in content.get("responses") or []:
            model = response.get("model")
            shown_model = f" · {escape_mrkdwn(str(model)[:80])}" if model else ""
            body = truncate(
                escape_mrkdwn(str(response.get("content", ""))), CHANNEL_RESPONSE_CHARS
            )[0]
            header = f"*Response `{escape_mrkdwn(str(response.get('id')))}`*{shown_model}"
            text = truncate(f"{header}\n{body}", SECTION_LIMIT)[0]
            blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
        return blocks

    def prompt_variables(self, content: dict) -> dict[str, Any]:
        responses = content.get("responses")
        if not isinstance(responses, list) or len(responses) < 2:
            raise InvalidContent("the item needs at least two `responses`")
        shown = [
            # Model names stay out of the prompt: they would bias the judgement.
            {"letter": letter, "content": str(response.get("content", ""))}
            for letter, response in zip(LETTERS, responses, strict=False)
            if isinstance(response, dict)
        ]
        if len(shown) != len(responses):
            raise InvalidContent("each response must be an object with `content`")
        return {"prompt": prompt_turns(content.get("prompt"), "prompt"), "responses": shown}


CANDIDATES = Candidates()
