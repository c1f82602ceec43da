"""A prompt with candidate responses from one or more models, compared side by side
(preferences: two; rankings: three to six). Reviewers see them in a per-reviewer order
recorded with the assignment, under position letters A, B, C…

A response is a text (`content`) or an image (`image`: two generated images to compare);
the prompt may show an image of its own (`image`: the picture a question is about)."""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field, model_validator
from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.content.base import ContentType, InvalidContent, ItemRecord, Record
from bot.content.conversation import Turn, channel_turn_blocks
from bot.content.media import MediaSource, image_picture, media_location, media_of
from bot.content.parts import export_turns, prompt_turns, vision_content
from bot.slack.conversation import Part, picture_block
from bot.slack.text import SECTION_LIMIT, escape_mrkdwn, truncate
from bot.slack.wording import say

LETTERS = "ABCDEFGH"
CHANNEL_RESPONSE_CHARS = 1500


class CandidateResponse(Record):
    id: str = Field(min_length=1, max_length=64)
    content: str | None = None
    image: MediaSource | None = None
    model: str | None = None

    @model_validator(mode="after")
    def _text_or_image(self) -> CandidateResponse:
        if (self.content is None) == (self.image is None):
            raise ValueError("a response has `content` (text) or an `image`, not both")
        return self


class CandidatesRecord(ItemRecord):
    prompt: list[Turn] = Field(min_length=1)
    image: MediaSource | None = None  # what the prompt asks about
    responses: list[CandidateResponse] = Field(min_length=2)

    @model_validator(mode="after")
    def _trainable(self) -> CandidatesRecord:
        # Preference trainers (TRL's DPO, reward models) append each response to the
        # prompt as the assistant's answer to its last turn: a prompt ending elsewhere
        # trains a continuation of that turn, or fails ("Invalid role in the last
        # message: system"); two equal texts make a pair that teaches nothing.
        last = self.prompt[-1].role
        if last != "user":
            raise ValueError(
                f"field `prompt`: the last turn must be the user's (it is the {last}'s): "
                "the responses answer it"
            )
        seen: dict[str, str] = {}
        for response in self.responses:
            if response.content is None:
                continue
            text = response.content.strip()
            if text in seen:
                raise ValueError(
                    f"field `responses`: {response.id!r} has the same text as {seen[text]!r}"
                )
            seen[text] = response.id
        return self


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
    key = "responses"
    record = CandidatesRecord

    def parts(
        self, content: dict, presentation: dict | None, *, focus_reviewed: bool
    ) -> list[Part]:
        by_id = {str(r["id"]): r for r in content.get("responses", [])}
        asked = content.get("image")
        parts = [
            Part(
                say("controls", name="prompt"),
                list(content.get("prompt", [])),
                pictures=(image_picture(asked),) if asked else (),
            )
        ]
        for letter, response_id in zip(LETTERS, shown_order(content, presentation), strict=False):
            response = by_id[response_id]
            title = say("response_title", letter=letter)
            if response.get("image"):
                picture = image_picture(response["image"], f"Response {letter}")
                parts.append(Part(title, [], roles=False, pictures=(picture,)))
            else:
                turn = {"role": "assistant", "content": response.get("content", "")}
                parts.append(Part(title, [turn], roles=False))
        return parts

    def channel_blocks(self, content: dict) -> list[Block]:
        blocks = channel_turn_blocks(content.get("prompt") or [], budget=3)
        if content.get("image"):
            blocks.append(picture_block(image_picture(content["image"])))
        for response in content.get("responses") or []:
            model = response.get("model")
            shown_model = f" · {escape_mrkdwn(str(model)[:80])}" if model else ""
            body = truncate(
                escape_mrkdwn(str(response.get("content", ""))), CHANNEL_RESPONSE_CHARS
            )[0]
            header = f"*Response `{escape_mrkdwn(str(response.get('id')))}`*{shown_model}"
            text = truncate(f"{header}\n{body}", SECTION_LIMIT)[0]
            blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
            if response.get("image"):
                blocks.append(picture_block(image_picture(response["image"])))
        return blocks

    def prompt_variables(self, content: dict) -> dict[str, Any]:
        responses = content.get("responses")
        if not isinstance(responses, list) or len(responses) < 2:
            raise InvalidContent("the item needs at least two `responses`")
        shown = [
            # Model names stay out of the prompt: they would bias the judgement.
            {"letter": letter, "content": str(response.get("content") or "(an image)")}
            for letter, response in zip(LETTERS, responses, strict=False)
            if isinstance(response, dict)
        ]
        if len(shown) != len(responses):
            raise InvalidContent("each response must be an object with `content`")
        media = [m for m in [content.get("image")] + [r.get("image") for r in responses] if m]
        return {
            "prompt": prompt_turns(content.get("prompt"), "prompt"),
            "responses": shown,
            "media": media,
        }


CANDIDATES = Candidates()


def _vision_turns(turns: list[dict], images: list[str]) -> list[dict]:
    return [
        {"role": t.get("role"), "content": vision_content(t.get("content"), images)} for t in turns
    ]


def _completion(response: dict, images: list[str]) -> list[dict]:
    if response.get("image"):
        images.append(media_location(response["image"]))
        return [{"role": "assistant", "content": [{"type": "image"}]}]
    return [{"role": "assistant", "content": [{"type": "text", "text": response.get("content")}]}]


def preference_pair(content: dict, better: dict, worse: dict) -> dict[str, Any]:
    """`prompt`, `chosen` and `rejected` of one preference pair in TRL's conversational
    format. With images (the prompt's own, or image responses) in TRL's vision format:
    every turn's content as typed parts, an `{"type": "image"}` placeholder where each
    image goes, and `images` listing them in placeholder order (their store URIs)."""
    prompt = export_turns(content.get("prompt"))
    if not any(True for _ in media_of({**content, "responses": [better, worse]})):
        return {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": better.get("content")}],
            "rejected": [{"role": "assistant", "content": worse.get("content")}],
        }
    images: list[str] = []
    if content.get("image"):  # the prompt's picture goes before its first turn's parts
        images.append(media_location(content["image"]))
    turns = _vision_turns(content.get("prompt") or [], images)
    if content.get("image"):
        first_user = next((t for t in turns if t["role"] == "user"), turns[0])
        first_user["content"].insert(0, {"type": "image"})
    chosen = _completion(better, images)
    rejected = _completion(worse, images)
    return {"prompt": turns, "chosen": chosen, "rejected": rejected, "images": images}


def export_response(response: dict) -> dict[str, Any]:
    """A response as an export row lists it: its text, or where its stored image is."""
    image = response.get("image")
    return {
        "id": response.get("id"),
        "content": response.get("content"),
        "image": media_location(image) if image else None,
        "model": response.get("model"),
    }
