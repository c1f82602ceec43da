"""The import-time check of one medium: within its cap, of an accepted format by its
bytes, and fully readable. Returns the facts the item keeps; raises MediaError."""

from __future__ import annotations

from dataclasses import dataclass

from bot.media import audio, documents, images, timeseries, video
from bot.media.errors import MediaError
from bot.media.limits import MAX_BYTES, MEDIA_TYPES, size_text
from bot.media.sniff import require_mime

_PLURAL = {
    "image": "images",
    "audio": "audio",
    "video": "videos",
    "document": "documents",
    "timeseries": "time series",
}
INLINE_MIME = "application/json"


@dataclass(frozen=True)
class MediaFacts:
    """What the check learnt; the fields of other media types stay None."""

    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    pages: int | None = None
    has_text: bool | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    columns: tuple[str, ...] | None = None
    rows: int | None = None


def check(media_type: str, data: bytes, spec: dict) -> MediaFacts:
    """Check `data` as the item's `media_type` medium ("image", "audio", "video",
    "document", "timeseries"); `spec` is the item's object for it (a time series' column
    names and window; inline series need no bytes, pass b"")."""
    if media_type not in MEDIA_TYPES:
        raise MediaError(f"unknown media type `{media_type}` (one of: {', '.join(MEDIA_TYPES)})")
    if media_type == "timeseries" and "src" not in spec:
        series = timeseries.load(spec, None)
        return _series_facts(series, INLINE_MIME, 0)
    cap = MAX_BYTES[media_type]
    if len(data) > cap:
        raise MediaError(
            f"{media_type} is {size_text(len(data))}; "
            f"the cap for {_PLURAL[media_type]} is {size_text(cap)}"
        )
    mime = require_mime(media_type, data)
    size = len(data)
    if media_type == "image":
        width, height = images.decoded_size(data)
        return MediaFacts(mime=mime, size=size, width=width, height=height)
    if media_type == "document":
        pages, has_text = documents.document_facts(data)
        return MediaFacts(mime=mime, size=size, pages=pages, has_text=has_text)
    if media_type == "audio":
        duration, rate, channels = audio.probe(data)
        return MediaFacts(
            mime=mime, size=size, duration_s=duration, sample_rate=rate, channels=channels
        )
    if media_type == "video":
        duration, width, height = video.probe(data)
        return MediaFacts(mime=mime, size=size, duration_s=duration, width=width, height=height)
    return _series_facts(timeseries.load(spec, data), mime, size)


def _series_facts(series: timeseries.Series, mime: str, size: int) -> MediaFacts:
    return MediaFacts(mime=mime, size=size, columns=(series.x_name, *series.y), rows=series.rows)
