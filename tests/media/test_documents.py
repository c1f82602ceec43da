"""PDF pages as PNG and the text layer, for a review DM and an LLM prompt."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.media.documents import page_count, render_pages, text_layer
from bot.media.errors import MediaError
from tests.media.builders import pdf_bytes


def _sizes(pngs: list[bytes]) -> list[tuple[int, int]]:
    return [Image.open(io.BytesIO(png)).size for png in pngs]


def test_the_pages_asked_for_are_rendered_as_pngs_of_the_width_asked():
    pdf = pdf_bytes(["one", "two", "three", "four"])
    pngs = render_pages(pdf, first=1, count=2, width=600)
    assert [Image.open(io.BytesIO(png)).format for png in pngs] == ["PNG", "PNG"]
    # US Letter is 612 x 792 points: 600 wide is 776.5 high.
    assert [(w, round(h / 10)) for w, h in _sizes(pngs)] == [(600, 78), (600, 78)]


def test_a_rendered_page_shows_its_text_in_black_on_white():
    page = Image.open(io.BytesIO(render_pages(pdf_bytes(["NDA"]), 0, 1, width=612)[0]))
    # The line is set 120 pt from the top, at a scale of one pixel per point.
    top = page.crop((60, 90, 200, 125)).convert("L")
    assert top.getextrema()[0] < 60  # ink of the heading
    assert page.convert("L").getpixel((400, 600)) == 255  # paper


def test_rendering_stops_at_the_last_page():
    assert len(render_pages(pdf_bytes(["a", "b", "c"]), first=1, count=10)) == 2


def test_a_page_past_the_end_is_refused():
    with pytest.raises(MediaError, match="has 3 page"):
        render_pages(pdf_bytes(["a", "b", "c"]), first=3, count=1)


def test_a_very_tall_page_is_rendered_narrower_not_endlessly_tall():
    (size,) = _sizes(render_pages(pdf_bytes(["receipt"], size=(200, 4000)), 0, 1, width=1000))
    assert size[1] <= 4000 and size[0] < 1000


def test_the_text_layer_is_read_in_page_order_and_cut_at_the_limit():
    pdf = pdf_bytes(["Clause one applies.", None, "Clause three applies."])
    assert text_layer(pdf, 10_000) == "Clause one applies.\n\nClause three applies."
    assert text_layer(pdf, 10) == "Clause one"


def test_page_count_and_a_broken_pdf():
    assert page_count(pdf_bytes(["a", None])) == 2
    with pytest.raises(MediaError, match="PDF cannot be opened"):
        page_count(b"%PDF-1.4\nnot really")
