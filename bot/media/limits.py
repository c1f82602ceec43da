"""Caps and accepted formats per media type: the one place these numbers live."""

from __future__ import annotations

import math

MB = 1_000_000

MEDIA_TYPES = ("image", "audio", "video", "document", "timeseries")

MAX_BYTES: dict[str, int] = {
    "image": 20 * MB,
    "audio": 100 * MB,
    "video": 500 * MB,
    "document": 50 * MB,
    "timeseries": 20 * MB,
}

# MIME types as `sniff` names them. Audio may come in an MP4 or WebM container: the
# magic bytes cannot tell an audio-only file from a film, the stream check does.
ALLOWED_MIME: dict[str, frozenset[str]] = {
    "image": frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"}),
    "audio": frozenset(
        {
            "audio/wav",
            "audio/mpeg",
            "audio/ogg",
            "audio/flac",
            "audio/mp4",
            "video/mp4",
            "video/webm",
        }
    ),
    "video": frozenset({"video/mp4", "video/quicktime", "video/webm", "video/x-matroska"}),
    "document": frozenset({"application/pdf"}),
    "timeseries": frozenset({"text/csv"}),
}

# The file name extension of each sniffed MIME type (copies and shares of the originals).
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "audio/mp4": ".m4a",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "text/csv": ".csv",
    "application/json": ".json",
}

# Lower than Pillow's own MAX_IMAGE_PIXELS (about 89 Mpx, where it only warns): a 50 Mpx
# RGBA decode is 200 MB, the most one image may cost.
MAX_IMAGE_PIXELS = 50_000_000

# Decoding a waveform reads the whole file; three hours is far beyond a reviewed clip.
MAX_AUDIO_SECONDS = 3 * 3600.0

# Points per series of a time series (CSV rows or inline values).
MAX_SERIES_POINTS = 2_000_000

# Rendering bounds: no request may ask for a larger bitmap than these.
MAX_RENDER_PAGES = 20
MAX_RENDER_WIDTH = 2400
MAX_PAGE_ASPECT = 4.0  # height / width of a rendered page; taller pages are shrunk

# Frames decoded after a seek while looking for the poster frame.
MAX_POSTER_DECODE_FRAMES = 600


def size_text(size: int) -> str:
    """Bytes as a person reads them: "31.2 MB", "640 KB", "12 bytes". Rounded up, so
    a file one byte over a 20 MB cap reads "20.1 MB", not "20.0 MB"."""
    if size >= MB:
        if size % MB == 0:
            return f"{size // MB} MB"
        return f"{math.ceil(size / MB * 10) / 10:.1f} MB"
    if size >= 1000:
        return f"{size / 1000:.0f} KB"
    return f"{size} bytes"
