"""Opening audio and video bytes with PyAV (FFmpeg): errors become MediaError, and the
duration is read from the stream or, failing that, the container."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import av
from av.container import InputContainer
from av.stream import Stream

from bot.media.errors import MediaError, library_message
from bot.media.sniff import require_mime

# The demuxer for each accepted format. Naming it stops FFmpeg probing for one, which
# would let text such as an HLS playlist or a concat list make it open other files.
_DEMUXERS = {
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/mp4": "mov",
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/webm": "matroska",
    "video/x-matroska": "matroska",
}


@contextmanager
def open_container(data: bytes, what: str) -> Iterator[InputContainer]:
    """The bytes as an FFmpeg input, when they are a format `what` ("audio", "video")
    accepts. Errors raised while the container is in use become MediaError too."""
    demuxer = _DEMUXERS[require_mime(what, data)]
    try:
        container = av.open(io.BytesIO(data), mode="r", format=demuxer)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"{what} cannot be opened: {library_message(exc)}") from exc
    try:
        yield container
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{what} cannot be decoded: {library_message(exc)}") from exc
    finally:
        container.close()


def duration_s(container: InputContainer, stream: Stream) -> float | None:
    """Seconds the stream lasts, None when neither stream nor container knows."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None
