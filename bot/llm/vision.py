"""The images a vision model gets with a pre-label request: the renditions a reviewer sees
of the item's medium (an image's display copy, a document's pages, a series' chart, a
recording's waveform, a video's poster), read from the media store and sent as OpenAI
`image_url` content parts.

Sent inline as base64 data URIs: the store is a folder or a private bucket that the
model's provider cannot reach. The cost is bounded (MAX_IMAGES per request, none over
MAX_IMAGE_BYTES), and a rendition the store lacks is left out and logged rather than
failing the pre-label: the text still carries the item.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.content.base import ContentType
from bot.content.candidates import LETTERS
from bot.content.media import (
    DISPLAY,
    ORIGINAL,
    MediaContent,
    media_of,
    media_type_of,
    page_rendition,
)
from bot.media.sniff import sniff
from bot.media.store import MediaStore
from bot.runtime.settings import get_settings

log = logging.getLogger("bot.llm")

MAX_IMAGES = 4  # per request: each costs hundreds of tokens, a page of text more
MAX_IMAGE_BYTES = 4 * 1024 * 1024  # a bigger rendition is left out, not downscaled here
# What OpenAI's vision models read; anything else would be refused with a 400.
SENDABLE_MIME = ("image/png", "image/jpeg", "image/gif", "image/webp")


class RenditionSource(Protocol):
    """Where renditions are read from: a MediaStore (or a test's stand-in)."""

    def get(self, sha256: str) -> bytes: ...

    def get_derived(self, sha256: str, name: str) -> bytes | None: ...


@dataclass(frozen=True)
class PromptImage:
    """One rendition sent to the model."""

    medium: str  # the content type's name: image, document, timeseries, audio, video
    sha256: str  # of the medium's original bytes
    rendition: str  # "display", "page-1", ...
    mime: str
    data: bytes
    where: str | None = None  # where in the item it is: "response A", "turn 1"

    @property
    def reference(self) -> str:
        """What provenance keeps of it: the medium and which rendition."""
        return f"{self.sha256}:{self.rendition}"

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def content_part(self) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": self.data_uri()}}


@dataclass(frozen=True)
class PromptImages:
    """The images of one request, and how many a reviewer sees that the model does not."""

    images: tuple[PromptImage, ...] = ()
    left_out: int = 0
    medium: dict[str, Any] | None = None  # the medium's stored facts (pages, window)

    def __bool__(self) -> bool:
        return bool(self.images)

    def template_variables(self) -> dict[str, Any]:
        """What prompts/llm/images.j2 describes the images from."""
        facts = self.medium or {}
        return {
            "images": [
                {
                    "medium": image.medium,
                    "rendition": image.rendition,
                    "page": _page(image),
                    "where": image.where,
                }
                for image in self.images
            ],
            "left_out": self.left_out,
            "pages": facts.get("pages"),
            "window": facts.get("window"),
        }


def default_store() -> MediaStore:
    """The store imports write to (QUORUM_MEDIA_STORE, or beside the database)."""
    return MediaStore.open(get_settings().media_store_url())


def prompt_images(
    content_type: ContentType,
    content: dict,
    store: RenditionSource | None,
    *,
    project: str,
) -> PromptImages:
    """The renditions a reviewer sees of the item's medium, as far as they can be sent;
    none for an item without media. `store` None: the default store, opened only here."""
    if not isinstance(content_type, MediaContent):
        return _images_in_place(content, store, project=project)
    medium = content_type.medium(content)
    sha256 = str(medium["sha256"])
    wanted = content_type.renditions(medium)
    source = store if store is not None else default_store()
    images: list[PromptImage] = []
    for name in wanted:
        if len(images) == MAX_IMAGES:
            break
        image = _image(source, content_type.name, sha256, name, project=project)
        if image is not None:
            images.append(image)
    if len(wanted) > MAX_IMAGES:
        log.info(
            "pre-label for %s: %d of the %d images of %s %s sent (at most %d)",
            project,
            len(images),
            len(wanted),
            content_type.name,
            sha256[:12],
            MAX_IMAGES,
        )
    return PromptImages(tuple(images), len(wanted) - len(images), medium)


def _images_in_place(content: dict, store: RenditionSource | None, *, project: str) -> PromptImages:
    """The images of a conversation's parts or of candidate responses (and the picture
    a prompt is about), each named by where it is in the item."""
    wanted = list(media_of(content))
    if not wanted:
        return PromptImages()
    source = store if store is not None else default_store()
    images: list[PromptImage] = []
    for path, fields in wanted[:MAX_IMAGES]:
        if not fields.get("sha256"):
            continue
        rendition = str((fields.get("renditions") or [DISPLAY])[0])
        medium = media_type_of(path)
        image = _image(source, medium, str(fields["sha256"]), rendition, project=project)
        if image is not None:
            images.append(replace(image, where=_where(path)))
    return PromptImages(tuple(images), len(wanted) - len(images))


def _where(path: str) -> str:
    """A medium's place in an item, as a prompt names it."""
    steps = path.split(".")
    if steps[0] == "responses":
        return f"of response {LETTERS[int(steps[1])]}"
    if steps[0] in ("conversation", "prompt") and len(steps) > 1:
        return f"in turn {int(steps[1]) + 1}"
    return "the prompt asks about"


def _image(
    store: RenditionSource, medium: str, sha256: str, name: str, *, project: str
) -> PromptImage | None:
    what = f"the {name} rendition of {medium} {sha256[:12]}"
    try:
        data = store.get(sha256) if name == ORIGINAL else store.get_derived(sha256, name)
    except (OSError, ValueError, LookupError) as exc:  # unreachable, a bad digest, missing
        log.warning("pre-label for %s: cannot read %s (%s); sent without it", project, what, exc)
        return None
    if data is None:
        log.warning(
            "pre-label for %s: the media store has no %s; sent without that image (import "
            "the item again to render it)",
            project,
            what,
        )
        return None
    if len(data) > MAX_IMAGE_BYTES:
        log.warning(
            "pre-label for %s: %s is %.1f MB, over the %.0f MB sent to a model; sent without it",
            project,
            what,
            len(data) / 1e6,
            MAX_IMAGE_BYTES / 2**20,
        )
        return None
    mime = sniff(data)
    if mime not in SENDABLE_MIME:
        log.warning(
            "pre-label for %s: %s is not a PNG/JPEG/GIF/WebP image (%s); sent without it",
            project,
            what,
            mime or "unknown bytes",
        )
        return None
    return PromptImage(medium, sha256, name, mime, data)


def _page(image: PromptImage) -> int | None:
    """The document page a rendition shows, or None."""
    for page in range(1, MAX_IMAGES + 1):
        if image.rendition == page_rendition(page):
            return page
    return None


def with_images(messages: list[dict], intro: str, images: PromptImages) -> list[dict]:
    """The messages with the last user message as content parts: its text and the intro
    saying what the images are, then the images in order. Unchanged without images."""
    if not images:
        return messages
    parts: list[dict[str, Any]] = [image.content_part() for image in images.images]
    out = [dict(message) for message in messages]
    for message in reversed(out):
        if message["role"] == "user":
            text = "\n\n".join(t for t in (str(message["content"]), intro) if t)
            message["content"] = [{"type": "text", "text": text}, *parts]
            return out
    out.append({"role": "user", "content": [{"type": "text", "text": intro}, *parts]})
    return out


def prompt_digest(template_digest: str, intro_digest: str, images: PromptImages) -> str:
    """The prompt version a pre-label records: the template's own hash for a text-only
    request; with images, a hash over it, the intro template and each image sent (its
    medium, its rendition and the bytes' own sha256), so a different picture is a
    different prompt."""
    if not images:
        return template_digest
    lines = [template_digest, intro_digest]
    lines += [f"{i.reference}:{hashlib.sha256(i.data).hexdigest()}" for i in images.images]
    return hashlib.sha256("\n".join(lines).encode("ascii")).hexdigest()
