"""A document (PDF: a contract, a scanned form, a report): its first pages shown as
images, its text layer (when it has one) given to LLM pre-labels."""

from __future__ import annotations

from typing import Any

from bot.content.media import MediaContent, MediaSource, SampleRecord, page_rendition
from bot.slack.wording import say


class DocumentRecord(SampleRecord):
    document: MediaSource


class Document(MediaContent):
    name = "document"
    key = "document"
    record = DocumentRecord
    noun = "a document"

    def renditions(self, medium: dict) -> list[str]:
        shown = min(int(medium.get("pages") or 1), 3)  # bot/intake/renditions.py PAGES_SHOWN
        return [page_rendition(page) for page in range(1, shown + 1)]

    def caption(self, medium: dict) -> str | None:
        pages = int(medium.get("pages") or 0)
        return say("document_caption", pages=pages, shown=len(self.renditions(medium)))

    def prompt_text(self, medium: dict) -> str:
        return str(medium.get("text_layer") or "")

    def export_fields(self, medium: dict) -> dict[str, Any]:
        return {"pages": medium.get("pages")}


DOCUMENT = Document()
