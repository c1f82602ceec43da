"""The type of a file comes from its bytes: each format is named, and a file that lies
about itself (a PDF called .png) is named for what it is."""

from __future__ import annotations

import pytest

from bot.media.sniff import describe, sniff
from tests.media.builders import (
    encoded_audio,
    jpeg_bytes,
    mp4_bytes,
    pdf_bytes,
    png_bytes,
    wav_bytes,
)


def _strip_id3(mp3: bytes) -> bytes:
    size = 0
    for byte in mp3[6:10]:
        size = (size << 7) | byte
    return mp3[10 + size :]


@pytest.mark.parametrize(
    ("make", "mime"),
    [
        (lambda: png_bytes(), "image/png"),
        (lambda: jpeg_bytes(), "image/jpeg"),
        (lambda: b"GIF89a" + bytes(20), "image/gif"),
        (lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(20), "image/webp"),
        (lambda: pdf_bytes(["hello"]), "application/pdf"),
        (lambda: wav_bytes(0.1), "audio/wav"),
        (lambda: encoded_audio("mp3", "libmp3lame", 0.2), "audio/mpeg"),
        (lambda: _strip_id3(encoded_audio("mp3", "libmp3lame", 0.2)), "audio/mpeg"),
        (lambda: encoded_audio("ogg", "libopus", 0.2, rate=48000), "audio/ogg"),
        (lambda: encoded_audio("flac", "flac", 0.2), "audio/flac"),
        (lambda: encoded_audio("ipod", "aac", 0.2), "audio/mp4"),
        (lambda: mp4_bytes(0.5), "video/mp4"),
        (lambda: b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (lambda: encoded_audio("webm", "libopus", 0.2, rate=48000), "video/webm"),
        (lambda: b"\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska" + bytes(8), "video/x-matroska"),
    ],
)
def test_each_format_is_named_from_its_bytes(make, mime):
    assert sniff(make()) == mime


def test_a_pdf_named_png_is_a_pdf():
    # No name is passed at all: there is nothing to trust but the bytes.
    assert sniff(pdf_bytes(["contract"])) == "application/pdf"
    assert describe(sniff(pdf_bytes(["contract"]))) == "a PDF"


def test_text_is_csv_only_when_a_time_series_is_expected():
    text = b"t,lead_ii\n0,0.1\n1,0.2\n"
    assert sniff(text, allow_csv=True) == "text/csv"
    assert sniff(text) == "text/plain"
    assert describe(sniff(text)) == "text"


def test_binary_that_is_no_known_format_is_unknown():
    junk = b"\x00\x01\x02\x03binary\xff\xfe"
    assert sniff(junk, allow_csv=True) is None
    assert sniff("t,v\n0,é\n".encode("latin-1"), allow_csv=True) is None  # not UTF-8
    assert "00 01 02 03" in describe(None, junk)
    assert describe(None, b"") == "nothing (the file is empty)"


def test_an_html_error_page_is_recognised_even_as_text():
    page = b"<!DOCTYPE html>\n<html><body>Sign in</body></html>"
    assert sniff(page, allow_csv=True) == "text/html"
    assert "HTML page" in describe("text/html")


def test_aac_in_adts_is_not_taken_for_mp3():
    # ADTS shares MP3's sync bits but has layer 00.
    assert sniff(b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(16)) is None


@pytest.mark.parametrize(
    "header",
    [b"BMI,weight\n", b"hum,wide\n", b"abc,ftyp,x\n", b"ID3,lead_ii\n", b"t,moov\n"],
)
def test_csv_headers_that_start_like_a_binary_format_stay_text(header):
    data = header + b"1,2\n3,4\n"
    assert sniff(data, allow_csv=True) == "text/csv"
