"""OpenAI's content parts in a conversation turn: `{"type": "text", "text": …}`,
`{"type": "image_url", "image_url": {"url": …}}` and `{"type": "input_audio",
"input_audio": {"data": <base64>, "format": "wav" | "mp3"}}`. A turn's `content` is a
string or a list of these; the images and audio in it are media like any other (fetched,
checked and stored at import, shown in the conversation's place)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field

from bot.content.base import InvalidContent, Record
from bot.content.media import MAX_SRC_CHARS, PART_MEDIA, media_location

MAX_PART_TEXT = 100_000
MAX_AUDIO_DATA = 140_000_000  # base64 of the 100 MB audio cap


class TextPart(Record):
    type: Literal["text"]
    text: str = Field(max_length=MAX_PART_TEXT)


class ImageUrl(Record):
    url: str = Field(min_length=1, max_length=MAX_SRC_CHARS * 50)  # data: URIs are long
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Record):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudio(Record):
    data: str = Field(min_length=1, max_length=MAX_AUDIO_DATA)
    format: Literal["wav", "mp3"]


class AudioPart(Record):
    type: Literal["input_audio"]
    input_audio: InputAudio


ContentPart = Annotated[TextPart | ImagePart | AudioPart, Field(discriminator="type")]


def turn_text(content: Any) -> str:
    """A turn's text: the string, or its text parts joined, each medium marked."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else str(content)
    pieces = []
    for part in content:
        part_type = part.get("type") if isinstance(part, dict) else None
        if part_type == "text":
            pieces.append(str(part.get("text", "")))
        elif part_type in PART_MEDIA:
            pieces.append(f"[{PART_MEDIA[part_type]}]")
    return "\n".join(pieces)


def source_key(fields: dict) -> str:
    """The field that names a medium's bytes: `src`, an image part's `url`, or `data`."""
    return next((key for key in ("src", "url") if key in fields), "data")


def media_source(fields: dict) -> str:
    """The `src` of a medium; an image part's `url`; an audio part's data as a data URI."""
    if "src" in fields:
        return str(fields["src"])
    if "url" in fields:
        return str(fields["url"])
    return f"data:audio/{fields.get('format', 'wav')};base64,{fields.get('data', '')}"


def export_content(content: Any) -> Any:
    """A turn's content as OpenAI takes it: an image part's url is where the stored image
    is (the store's path or URL), and none of the import's facts are added to a part."""
    if not isinstance(content, list):
        return content
    parts = []
    for part in content:
        if part.get("type") == "image_url":
            image = part["image_url"]
            url = media_location(image) if image.get("sha256") else image.get("url")
            shown = {"url": url, **({"detail": image["detail"]} if "detail" in image else {})}
            parts.append({"type": "image_url", "image_url": shown})
        elif part.get("type") == "input_audio":
            audio = part["input_audio"]
            shown = {"data": audio.get("data"), "format": audio.get("format")}
            parts.append({"type": "input_audio", "input_audio": shown})
        else:
            parts.append(part)
    return parts


def vision_content(content: Any, images: list[str]) -> list[dict]:
    """A turn's content in TRL's vision format: typed parts with an `{"type": "image"}`
    placeholder for each image, whose location is appended to `images`."""
    if not isinstance(content, list):
        return [{"type": "text", "text": content}]
    parts: list[dict] = []
    for part in content:
        if part.get("type") == "image_url":
            images.append(media_location(part["image_url"]))
            parts.append({"type": "image"})
        elif part.get("type") == "text":
            parts.append({"type": "text", "text": part.get("text")})
    return parts


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
        text = turn_text(content) if isinstance(content, str | list) else json.dumps(content)
        turns.append({"role": str(turn.get("role") or "user"), "content": text})
    return turns


def export_turns(turns: Any) -> list[dict]:
    """Turns as trainers read them: role and content only (OpenAI's content parts kept,
    an image part's url being where Quorum stored the image)."""
    return [
        {"role": t.get("role"), "content": export_content(t.get("content"))} for t in turns or []
    ]
