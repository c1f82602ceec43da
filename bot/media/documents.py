"""PDFs: open and count pages, render pages as PNG, read the text layer (pypdfium2).

PDFium is not thread-safe, not even across documents, so every call into it holds one
process-wide lock (pypdfium2's documentation asks for exactly this)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]  # ships no py.typed marker
from PIL import Image, ImageDraw

from bot.media.errors import MediaError, library_message
from bot.media.limits import MAX_PAGE_ASPECT, MAX_RENDER_PAGES, MAX_RENDER_WIDTH

_PDFIUM = threading.Lock()

# Pages looked at to decide whether a PDF has a text layer or is a scan.
_TEXT_PROBE_PAGES = 5


def page_count(data: bytes) -> int:
    """Pages in the PDF; MediaError when it cannot be opened or has none."""
    with _document(data) as pdf:
        return len(pdf)


def has_text(data: bytes) -> bool:
    """Whether the first pages carry selectable text (False for a scan without OCR)."""
    with _document(data) as pdf:
        return _has_text(pdf)


def document_facts(data: bytes) -> tuple[int, bool]:
    """(pages, has_text) with the PDF opened once."""
    with _document(data) as pdf:
        return len(pdf), _has_text(pdf)


def render_pages(data: bytes, first: int, count: int, width: int = 1200) -> list[bytes]:
    """PNG images of pages first .. first+count-1 (0-based), each `width` pixels wide on
    white; fewer when the PDF ends first. At most MAX_RENDER_PAGES pages, and a page
    taller than MAX_PAGE_ASPECT widths is rendered narrower instead of taller."""
    if first < 0 or count < 1:
        raise MediaError(
            f"pages to render must start at 0 or later and number 1 or more, not first={first}, count={count}"
        )
    width = max(1, min(width, MAX_RENDER_WIDTH))
    count = min(count, MAX_RENDER_PAGES)
    images = []
    with _document(data, forms=True) as pdf:
        total = len(pdf)
        if first >= total:
            raise MediaError(f"the PDF has {total} page(s); page {first + 1} does not exist")
        for index in range(first, min(first + count, total)):
            images.append(_render(pdf, index, width))
    # PNG encoding needs no PDFium: done after the lock is released.
    return [_png(image) for image in images]


def text_layer(data: bytes, max_chars: int) -> str:
    """The PDF's text, pages in order and separated by a blank line, cut at `max_chars`
    (reading stops there: a 500-page contract costs no more than its first pages)."""
    parts: list[str] = []
    used = 0
    with _document(data) as pdf:
        for index in range(len(pdf)):
            if used >= max_chars:
                break
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    text = textpage.get_text_bounded().replace("\r\n", "\n").strip()
                finally:
                    textpage.close()
            finally:
                page.close()
            if text:
                parts.append(text)
                used += len(text) + 2
    return "\n\n".join(parts)[:max_chars]


@contextmanager
def _document(data: bytes, *, forms: bool = False) -> Iterator[Any]:
    with _PDFIUM:
        try:
            pdf = pdfium.PdfDocument(data)
            if forms:
                # Filled-in form fields are drawn only once forms are set up, before any
                # page is loaded.
                pdf.init_forms()
        except pdfium.PdfiumError as exc:
            message = library_message(exc)
            if "password" in message.lower():
                raise MediaError(
                    "PDF cannot be opened: it is password-protected; export it without a password"
                ) from exc
            raise MediaError(f"PDF cannot be opened: {message}") from exc
        try:
            if len(pdf) < 1:
                raise MediaError("PDF has no pages")
            yield pdf
        except pdfium.PdfiumError as exc:
            # A document can open and still hold a page that does not load.
            raise MediaError(f"PDF cannot be read: {library_message(exc)}") from exc
        finally:
            pdf.close()


def _has_text(pdf: Any) -> bool:
    for index in range(min(len(pdf), _TEXT_PROBE_PAGES)):
        page = pdf[index]
        try:
            textpage = page.get_textpage()
            try:
                if textpage.get_text_bounded().strip():
                    return True
            finally:
                textpage.close()
        finally:
            page.close()
    return False


def _render(pdf: Any, index: int, width: int) -> Image.Image:
    page = pdf[index]
    try:
        # get_size is the displayed size: the page's /Rotate is already applied.
        page_width, page_height = page.get_size()
        if page_width <= 0 or page_height <= 0:
            raise MediaError(f"PDF page {index + 1} has no size")
        scale = width / page_width
        if page_height * scale > width * MAX_PAGE_ASPECT:
            scale = width * MAX_PAGE_ASPECT / page_height
        try:
            bitmap = page.render(scale=scale, may_draw_forms=True, fill_color=(255, 255, 255, 255))
        except pdfium.PdfiumError as exc:
            raise MediaError(
                f"PDF page {index + 1} cannot be rendered: {library_message(exc)}"
            ) from exc
        try:
            # convert copies the pixels out of PDFium's buffer before it is freed.
            return bitmap.to_pil().convert("RGB")
        finally:
            bitmap.close()
    finally:
        page.close()


def _png(image: Image.Image) -> bytes:
    # A grey edge: a white page in a white Slack message otherwise has no visible end.
    ImageDraw.Draw(image).rectangle(
        (0, 0, image.width - 1, image.height - 1), outline=(170, 170, 170), width=2
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
