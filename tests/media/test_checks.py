"""The import check: caps, formats by content, and full decoding; every refusal is a
MediaError whose message names the problem."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.media.checks import MediaFacts, check
from bot.media.errors import MediaError
from bot.media.limits import MAX_BYTES
from tests.media.builders import pdf_bytes, png_bytes, png_claiming_size, wav_bytes

ECG_SPEC = {"src": "ecg/9.csv", "x": "t", "y": ["lead_ii"], "window": [0.5, 1.5], "unit": "mV"}


def _noise_png(size: int = 200) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 255, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def test_an_image_is_decoded_and_measured():
    facts = check("image", png_bytes(64, 48), {"src": "images/cxr-001.png"})
    assert facts == MediaFacts(mime="image/png", size=facts.size, width=64, height=48)


def test_a_pdf_named_png_is_refused_as_an_image():
    with pytest.raises(
        MediaError, match="not a PNG/JPEG/GIF/WebP image: the bytes look like a PDF"
    ):
        check("image", pdf_bytes(["NDA"]), {"src": "images/cxr-001.png"})


def test_a_truncated_png_is_refused():
    data = _noise_png()
    with pytest.raises(MediaError, match="truncated PNG"):
        check("image", data[: len(data) // 2], {})


def test_a_png_cut_inside_its_header_is_refused():
    with pytest.raises(MediaError, match="header is corrupt or cut short"):
        check("image", png_bytes()[:30], {})


def test_a_decompression_bomb_is_refused_before_decoding():
    # 10000 x 6000 claimed by a file of a hundred bytes: over our cap, under Pillow's.
    with pytest.raises(MediaError, match=r"10000 x 6000 pixels .* the cap is 50 megapixels"):
        check("image", png_claiming_size(10_000, 6_000), {})


def test_a_bomb_beyond_pillows_own_limit_is_a_media_error_too():
    with pytest.raises(MediaError, match="decompression bomb"):
        check("image", png_claiming_size(20_000, 20_000), {})


def test_an_oversize_file_is_refused_with_its_size_and_the_cap():
    data = png_bytes() + bytes(MAX_BYTES["image"])
    with pytest.raises(MediaError, match=r"image is 20\.1 MB; the cap for images is 20 MB"):
        check("image", data, {})


def test_a_document_reports_pages_and_whether_it_has_text():
    scanned = check("document", pdf_bytes([None, None]), {})
    typed = check("document", pdf_bytes(["Clause 1", "Clause 2", "Signatures"]), {})
    assert (scanned.mime, scanned.pages, scanned.has_text) == ("application/pdf", 2, False)
    assert (typed.pages, typed.has_text) == (3, True)


def test_a_broken_pdf_is_refused():
    with pytest.raises(MediaError, match="PDF cannot be opened"):
        check("document", pdf_bytes(["NDA"])[:200], {})


def test_audio_reports_length_rate_and_channels(wav):
    facts = check("audio", wav, {"src": "calls/7.wav"})
    assert (facts.mime, facts.sample_rate, facts.channels) == ("audio/wav", 8000, 2)
    assert facts.duration_s == pytest.approx(2.0)


def test_a_video_is_refused_as_audio_when_it_has_no_sound(mp4):
    with pytest.raises(MediaError, match="no audio stream"):
        check("audio", mp4, {})


def test_audio_cut_short_is_refused():
    with pytest.raises(MediaError, match="audio cannot be opened"):
        check("audio", wav_bytes()[:30], {})


def test_a_video_reports_length_and_size(mp4):
    facts = check("video", mp4, {"src": "clips/5.mp4"})
    assert (facts.mime, facts.width, facts.height) == ("video/mp4", 160, 120)
    assert facts.duration_s == pytest.approx(2.0, abs=0.15)


def test_audio_is_not_a_video(wav):
    with pytest.raises(MediaError, match="not an MP4/MOV/WebM/MKV video: .* a WAV audio file"):
        check("video", wav, {})


def test_a_csv_time_series_reports_its_columns_and_rows():
    data = b"t,lead_i,lead_ii\n0,0.1,0.2\n1,0.1,0.9\n2,0.0,0.3\n"
    facts = check("timeseries", data, ECG_SPEC)
    assert (facts.mime, facts.columns, facts.rows) == ("text/csv", ("t", "lead_ii"), 3)


def test_a_csv_without_the_named_column_is_refused_with_the_columns_it_has():
    data = b"t,lead_i\n0,0.1\n1,0.2\n"
    with pytest.raises(MediaError) as refused:
        check("timeseries", data, ECG_SPEC)
    assert str(refused.value) == "CSV has no column `lead_ii` (columns: t, lead_i)"


def test_a_pdf_given_as_a_csv_is_refused():
    with pytest.raises(MediaError, match="not a CSV file .* a PDF"):
        check("timeseries", pdf_bytes(["x"]), ECG_SPEC)


def test_an_inline_time_series_needs_no_file():
    spec = {"x": [0, 1, 2], "series": {"lead_ii": [0.1, 0.5, 0.2]}, "window": [1, 2], "unit": "mV"}
    facts = check("timeseries", b"", spec)
    assert (facts.columns, facts.rows) == (("x", "lead_ii"), 3)


def test_an_unknown_media_type_is_refused():
    with pytest.raises(MediaError, match="unknown media type `hologram`"):
        check("hologram", b"", {})
