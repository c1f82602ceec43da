"""What a file is, from its first bytes alone: names and extensions are never trusted."""

from __future__ import annotations

import codecs

from bot.media.errors import MediaError
from bot.media.limits import ALLOWED_MIME

# How much text is read to decide whether bytes are text (CSV) or binary.
_TEXT_PROBE = 64 * 1024

# ISO base media (MP4 family) brands that are not films.
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_IMAGE_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heic",
    b"msf1": "image/heic",
}
# Old QuickTime files start with an atom, not with `ftyp`.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

# What a person expected, for "not a PNG/JPEG/GIF/WebP image: the bytes look like a PDF".
_EXPECTED = {
    "image": "a PNG/JPEG/GIF/WebP image",
    "audio": "a WAV/MP3/Ogg/FLAC/M4A audio file",
    "video": "an MP4/MOV/WebM/MKV video",
    "document": "a PDF",
    "timeseries": "a CSV file (UTF-8 text)",
}

_NAMES = {
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
    "image/gif": "a GIF image",
    "image/webp": "a WebP image",
    "image/avif": "an AVIF image",
    "image/heic": "a HEIC image",
    "image/tiff": "a TIFF image",
    "image/bmp": "a BMP image",
    "application/pdf": "a PDF",
    "application/zip": "a ZIP archive (perhaps a Word or Excel file)",
    "application/gzip": "a gzip archive",
    "audio/wav": "a WAV audio file",
    "audio/mpeg": "an MP3 audio file",
    "audio/ogg": "an Ogg audio file",
    "audio/flac": "a FLAC audio file",
    "audio/mp4": "an M4A audio file",
    "video/mp4": "an MP4 video",
    "video/quicktime": "a QuickTime (MOV) video",
    "video/webm": "a WebM video",
    "video/x-matroska": "a Matroska (MKV) video",
    "text/html": "an HTML page (a login or error page instead of the file?)",
    "text/csv": "text",
    "text/plain": "text",
}


def sniff(data: bytes, *, allow_csv: bool = False) -> str | None:
    """The MIME type the bytes start like, or None when unknown.

    Text (valid UTF-8, no NUL bytes) is "text/csv" only when `allow_csv` (a time series
    is expected) and "text/plain" otherwise; HTML is always "text/html"."""
    head = data[:64]
    binary = _binary_type(data, head)
    if binary is not None:
        return binary
    if not _is_text(data):
        return None
    if _is_html(data):
        return "text/html"
    return "text/csv" if allow_csv else "text/plain"


def require_mime(media_type: str, data: bytes) -> str:
    """The MIME type of `data` when it is one `media_type` accepts (ALLOWED_MIME), else
    MediaError: "not a PNG/JPEG/GIF/WebP image: the bytes look like a PDF"."""
    mime = sniff(data, allow_csv=media_type == "timeseries")
    if mime is None or mime not in ALLOWED_MIME[media_type]:
        raise MediaError(f"not {_EXPECTED[media_type]}: the bytes look like {describe(mime, data)}")
    return mime


def describe(mime: str | None, data: bytes = b"") -> str:
    """What the bytes look like, for an error message: "a PDF", "text", ..."""
    if mime is None:
        if not data:
            return "nothing (the file is empty)"
        return f"no known format (they start {data[:8].hex(' ')})"
    return _NAMES.get(mime, mime)


def _binary_type(data: bytes, head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] in (b"RIFF", b"RF64", b"BW64"):
        form = head[8:12]
        if form == b"WEBP":
            return "image/webp"
        if form == b"WAVE":
            return "audio/wav"
        return None
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    # The ID3 version byte (2 to 4) tells a tag from text that starts "ID3".
    if head.startswith(b"ID3") and len(head) >= 10 and head[3] in (2, 3, 4):
        return _after_id3(data)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _ebml_type(data[:4096])
    # A box starts with its size. Four bytes of text read as a size are over 538 MB,
    # more than the file: "hum,wide" in a CSV header is no QuickTime atom.
    box = int.from_bytes(head[:4], "big")
    if head[4:8] == b"ftyp" and 16 <= box <= len(data):
        return _ftyp_type(head)
    if head[4:8] in _QUICKTIME_ATOMS and (8 <= box <= len(data) or box == 1):
        return "video/quicktime"
    if _is_mpeg_audio_frame(head):
        return "audio/mpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    # BMP's reserved bytes are zero, which no text has ("BMI,weight" is a CSV).
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    return None


def _after_id3(data: bytes) -> str:
    """An ID3v2 tag usually opens an MP3, but FLAC files may carry one too."""
    if len(data) >= 10:
        # The tag size is "syncsafe": 7 bits per byte.
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        footer = 10 if data[5] & 0x10 else 0
        if data[10 + size + footer :].startswith(b"fLaC"):
            return "audio/flac"
    return "audio/mpeg"


def _ebml_type(head: bytes) -> str:
    # The EBML header names its DocType near the start.
    return "video/webm" if b"webm" in head[:64] else "video/x-matroska"


def _ftyp_type(head: bytes) -> str:
    size = int.from_bytes(head[:4], "big")
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(size, len(head)), 4)]
    major = brands[0]
    if major in _IMAGE_BRANDS:
        return _IMAGE_BRANDS[major]
    if major in _AUDIO_BRANDS:
        return "audio/mp4"
    if major == b"qt  ":
        return "video/quicktime"
    return "video/mp4"


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, then fields none of which is reserved.
    Layer "00" (AAC in ADTS) is refused: that is not MP3."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate not in (0, 0b1111) and rate != 0b11


def _is_text(data: bytes) -> bool:
    probe = data[:_TEXT_PROBE]
    if not probe or b"\x00" in probe:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final only when the probe is the whole file: a cut multibyte character at the
        # probe's end is not an error.
        decoder.decode(probe, final=len(data) <= _TEXT_PROBE)
    except UnicodeDecodeError:
        return False
    return True


def _is_html(data: bytes) -> bool:
    start = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))
