"""A document (PDF: a contract, a scanned form, a report): its first pages shown as
images, its text layer (when it has one) given to LLM pre-labels."""

from __future__ import annotations

from bot.content.media import MediaContent, MediaSource, SampleRecord
from bot.slack.wording import say


class DocumentRecord(SampleRecord):
    document: MediaSource


PAGES_IN_DM = 3  # the rest of the rendered pages are behind "Show all pages"


class Document(MediaContent):
    name = "document"
    key = "document"
    record = DocumentRecord
    noun = "a document"

    def renditions(self, medium: dict) -> list[str]:
        return super().renditions(medium)[:PAGES_IN_DM]

    def more_renditions(self, medium: dict) -> list[str]:
        return super().renditions(medium)[PAGES_IN_DM:]

    def alt_for(self, alt: str, rendition: str) -> str:
        return f"{alt}, {rendition.replace('-', ' ')}"  # "nda.pdf, page 2"

    def caption(self, medium: dict) -> str | None:
        pages = int(medium.get("pages") or 0)
        return say("document_caption", pages=pages, shown=len(self.renditions(medium)))

    def prompt_text(self, medium: dict) -> str:
        return str(medium.get("text_layer") or "")


DOCUMENT = Document()
