"""What every medium of an item carries, and how a review message refers to it.

An item names a medium by `src` (a path beside the import file, an http(s) URL, a `data:`
URI or an object-store URL). The import fetches it once, checks it and stores it by its
sha256 (bot/intake/media.py); from then on the item's content holds the stored facts
beside `src`: `sha256`, `mime`, `size`, `uri` (and `width`/`height` for images).

Messages are built before Slack has the file, so an image block refers to a medium by a
placeholder file id, `quorum-media:<sha256>:<rendition>`; the delivery worker uploads the
rendition once, waits until Slack has processed it and puts Slack's file id in its place
(bot/delivery/media.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pydantic import Field
from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.content.base import ContentType, InvalidContent, ItemRecord, Record
from bot.media.limits import EXTENSIONS
from bot.slack.conversation import Part, Picture, caption_block, picture_block, turn_body
from bot.slack.text import SECTION_LIMIT, truncate

PLACEHOLDER = "quorum-media:"
_PLACEHOLDER = re.compile(r"quorum-media:([0-9a-f]{64}):([a-z0-9-]{1,32})")
MAX_SRC_CHARS = 4096
MAX_TEXT_CHARS = 100_000
MAX_ALT_CHARS = 1000  # Slack's limit for an image block's alt_text was 2000; keep margin
DISPLAY = "display"  # the rendition reviewers see (downscaled, PNG or JPEG)
ORIGINAL = "original"  # the stored original itself, when it can be shown as it is


class MediaSource(Record):
    """A medium as an import names it."""

    src: str = Field(min_length=1, max_length=MAX_SRC_CHARS)
    alt: str | None = Field(default=None, max_length=MAX_ALT_CHARS)


# Fields the import adds to a medium; a caller may not set them (they are facts of bytes).
STORED_FIELDS = ("sha256", "mime", "size", "uri", "width", "height")  # and per type, see
# bot/intake/renditions.py (pages, duration_s, summary, text_layer)


def page_rendition(page: int) -> str:
    """The rendition of a document's page (from 1)."""
    return f"page-{page}"


def placeholder(sha256: str, rendition: str = DISPLAY) -> str:
    return f"{PLACEHOLDER}{sha256}:{rendition}"


def parse_placeholder(file_id: str) -> tuple[str, str] | None:
    """(sha256, rendition) of a placeholder file id, or None for a real Slack file id."""
    found = _PLACEHOLDER.fullmatch(file_id)
    return (found[1], found[2]) if found else None


def placeholders(blocks: Any) -> Iterator[dict]:
    """Every `slack_file` object of the blocks that still holds a placeholder id."""
    if isinstance(blocks, dict):
        slack_file = blocks.get("slack_file")
        if isinstance(slack_file, dict) and str(slack_file.get("id", "")).startswith(PLACEHOLDER):
            yield slack_file
        for value in blocks.values():
            if isinstance(value, dict | list):
                yield from placeholders(value)
    elif isinstance(blocks, list):
        for value in blocks:
            yield from placeholders(value)


# Content parts of a turn that hold a medium (bot/content/parts.py): key -> media type.
PART_MEDIA = {"image_url": "image", "input_audio": "audio"}
MEDIA_FIELDS = ("image", "audio", "video", "document", "timeseries")


def media_of(content: dict | None) -> Iterator[tuple[str, dict]]:
    """(field path, medium) for every medium an item's content holds: its own, its
    responses' images, and the image and audio parts of its turns."""
    content = content or {}
    for key in MEDIA_FIELDS:
        if isinstance(content.get(key), dict):
            yield key, content[key]
    for index, response in enumerate(content.get("responses") or []):
        if isinstance(response, dict) and isinstance(response.get("image"), dict):
            yield f"responses.{index}.image", response["image"]
    for field in ("conversation", "prompt"):
        yield from _part_media(content.get(field), field)


def _part_media(turns: Any, field: str) -> Iterator[tuple[str, dict]]:
    for number, turn in enumerate(turns if isinstance(turns, list) else []):
        parts = turn.get("content") if isinstance(turn, dict) else None
        for index, part in enumerate(parts if isinstance(parts, list) else []):
            key = part.get("type") if isinstance(part, dict) else None
            if key in PART_MEDIA and isinstance(part.get(key), dict):
                yield f"{field}.{number}.content.{index}.{key}", part[key]


def media_type_of(path: str) -> str:
    """The media type of the medium at a field path from `media_of`."""
    key = path.rsplit(".", 1)[-1]
    return PART_MEDIA.get(key, key)


def media_location(medium: dict) -> str:
    """Where a trainer opens the stored bytes: a local path for the local store (what
    `datasets`' Image feature and PIL take), else the store's URL (s3://…)."""
    uri = str(medium.get("uri") or "")
    if uri.startswith("file://"):
        return url2pathname(urlsplit(uri).path)
    return uri


def export_reference(medium: dict) -> dict:
    """A medium as an export row carries it: where it is stored and what it is."""
    src = medium.get("src") or medium.get("url")
    if src is None or str(src).startswith("data:"):  # the bytes themselves: not repeated
        src = f"data:{medium.get('mime')},…" if src or "data" in medium else None
    return {
        "src": src,
        "uri": medium.get("uri"),
        "sha256": medium.get("sha256"),
        "mime": medium.get("mime"),
        "size": medium.get("size"),
    }


def alt_text(medium: dict, default: str) -> str:
    """What an image block says for people who cannot see it: the item's `alt`, else
    the file's name (never a URL's credentials or query, never a data: URI)."""
    if medium.get("alt"):
        return str(medium["alt"])[:MAX_ALT_CHARS]
    src = str(medium.get("src") or medium.get("url") or "")
    name = "" if src.startswith("data:") else PurePosixPath(urlsplit(src).path).name
    return (name or default)[:MAX_ALT_CHARS]


def image_picture(medium: dict, alt: str | None = None) -> Picture:
    """A stored image's display rendition as a picture of a message."""
    if not medium.get("sha256"):
        raise InvalidContent("the image was not stored by the import (no `sha256`)")
    rendition = str((medium.get("renditions") or [DISPLAY])[0])
    return Picture(placeholder(str(medium["sha256"]), rendition), alt_text(medium, alt or "image"))


class SampleRecord(ItemRecord):
    """An item showing one medium (the subclass names its field), with an optional text
    beside it: a caption, a transcript, a model's description."""

    text: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)


def duration(seconds: object) -> str:
    """A length as people read it: 0:42, 12:05, 1:02:03."""
    total = round(float(seconds)) if isinstance(seconds, int | float) else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class MediaContent(ContentType):
    """An item showing one medium (its field is the type's `key`): its renditions as
    images, a caption of its facts, and the item's text below."""

    noun = "a medium"  # for prompts and alt texts: "an image", "a recording"
    shares_original = False  # the file itself goes to the DM too (sound, film)

    def renditions(self, medium: dict) -> list[str]:
        """The renditions a message shows, in order, as the import made and named them
        (bot/intake/renditions.py)."""
        return [str(name) for name in medium.get("renditions") or [DISPLAY]]

    def more_renditions(self, medium: dict) -> list[str]:
        """Renditions shown only in the full view (a document's later pages)."""
        return []

    def caption(self, medium: dict) -> str | None:
        """A mrkdwn line of the medium's facts above its images (pages, length)."""
        return None

    def prompt_text(self, medium: dict) -> str:
        """Text of the medium itself for an LLM prompt (a document's text layer)."""
        return ""

    def medium(self, content: dict) -> dict:
        medium = content.get(self.key)
        if not isinstance(medium, dict) or not medium.get("sha256"):
            raise InvalidContent(f"`{self.key}` was not stored by the import (no `sha256`)")
        return medium

    def shared_files(self, content: dict) -> list[dict[str, Any]]:
        if not self.shares_original:
            return []
        medium = self.medium(content)
        name = PurePosixPath(urlsplit(str(medium.get("src") or "")).path).name
        stem = (PurePosixPath(name).stem or self.key)[:80]
        filename = f"{stem}{EXTENSIONS.get(str(medium.get('mime')), '')}"
        return [{"sha256": medium["sha256"], "filename": filename, "title": filename}]

    def pictures(self, content: dict, *, more: bool = False) -> tuple[Picture, ...]:
        medium = self.medium(content)
        alt = alt_text(medium, self.noun)
        sha256 = str(medium["sha256"])
        names = self.more_renditions(medium) if more else self.renditions(medium)
        return tuple(Picture(placeholder(sha256, n), self.alt_for(alt, n)) for n in names)

    def alt_for(self, alt: str, rendition: str) -> str:
        """What one rendition's image block says to people who cannot see it."""
        return alt

    def parts(
        self, content: dict, presentation: dict | None, *, focus_reviewed: bool
    ) -> list[Part]:
        text = content.get("text")
        turns = [{"role": "user", "content": text}] if text else []
        caption = self.caption(self.medium(content))
        return [
            Part(
                None,
                turns,
                roles=False,
                pictures=self.pictures(content),
                caption=caption,
                more_pictures=self.pictures(content, more=True),
            )
        ]

    def channel_blocks(self, content: dict) -> list[Block]:
        blocks: list[Block] = [picture_block(p) for p in self.pictures(content)]
        caption = self.caption(self.medium(content))
        if caption:
            blocks.append(caption_block(caption))
        if content.get("text"):
            body = truncate(turn_body({"content": content["text"]}), SECTION_LIMIT)[0]
            blocks.append(SectionBlock(text=MarkdownTextObject(text=body)))
        return blocks

    def prompt_variables(self, content: dict) -> dict[str, Any]:
        # Images reach a vision model as content parts (bot/llm/prelabel.py); a text-only
        # template sees the item's text and the medium's own text.
        medium = self.medium(content)
        text = "\n\n".join(
            t for t in (str(content.get("text") or ""), self.prompt_text(medium)) if t
        )
        return {
            "conversation": [{"role": "user", "content": text or f"({self.noun})"}],
            "media": [medium],
        }


def medium_messages(content: dict, completion: str) -> dict[str, Any]:
    """An item showing one medium, with `completion` as the assistant's text, as chat
    messages: the medium as a `{"type": ...}` placeholder part of the user turn (an
    image's in TRL's vision format, its location in `images`; other media's in
    `media`)."""
    key = next(k for k in MEDIA_FIELDS if isinstance(content.get(k), dict))
    where = "images" if key == "image" else "media"
    return {
        "messages": [
            {"role": "user", "content": [{"type": key}]},
            {"role": "assistant", "content": [{"type": "text", "text": completion}]},
        ],
        where: [media_location(content[key])],
    }
