"""Video: its length and size, and a poster frame for a review DM (PyAV decodes)."""

from __future__ import annotations

import io

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from bot.media.avio import duration_s, open_container
from bot.media.errors import MediaError
from bot.media.limits import MAX_POSTER_DECODE_FRAMES

# Where the poster is taken when the caller names no time: openings are often black.
_POSTER_AT = 0.10


def probe(data: bytes) -> tuple[float, int, int]:
    """(duration in seconds, width, height as displayed) of the first video stream;
    MediaError when there is none, its length is unknown, or no frame decodes."""
    with open_container(data, "video") as container:
        stream = _video_stream(container)
        duration = _known_duration(container, stream)
        frame = _first_frame(container, stream)
        width, height = frame.width, frame.height
        if abs(frame.rotation) in (90, 270):
            width, height = height, width
        return duration, width, height


def poster_png(data: bytes, at_s: float | None = None, max_side: int = 1280) -> bytes:
    """A PNG of the frame at `at_s` seconds (default: 10% into the video), upright and no
    larger than `max_side`. Falls back to the first frame when seeking fails."""
    with open_container(data, "video") as container:
        stream = _video_stream(container)
        duration = _known_duration(container, stream)
        target = duration * _POSTER_AT if at_s is None else min(max(at_s, 0.0), duration)
        frame = _frame_near(container, stream, target)
        image = _upright(frame)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _video_stream(container: InputContainer) -> VideoStream:
    if not container.streams.video:
        raise MediaError("the file has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise MediaError("video cannot be decoded: its codec is unknown or the file is damaged")
    return stream


def _known_duration(container: InputContainer, stream: VideoStream) -> float:
    duration = duration_s(container, stream)
    if duration is None:
        raise MediaError("video length is unknown (no duration in the file)")
    return duration


def _first_frame(container: InputContainer, stream: VideoStream) -> VideoFrame:
    for frame in container.decode(stream):
        return frame
    raise MediaError("video has no decodable frame")


def _frame_near(container: InputContainer, stream: VideoStream, at_s: float) -> VideoFrame:
    """The first frame at or after `at_s`: seek to the keyframe before it, then decode
    forward (at most MAX_POSTER_DECODE_FRAMES frames; the last one decoded if it runs
    out). The first frame when the container cannot seek."""
    if at_s <= 0 or stream.time_base is None:
        return _first_frame(container, stream)
    try:
        container.seek(int(at_s / stream.time_base), stream=stream, backward=True)
    except (av.FFmpegError, OSError, ValueError):
        # A container that cannot seek still has an opening frame, a fine poster.
        container.seek(0)
        return _first_frame(container, stream)
    last: VideoFrame | None = None
    for count, frame in enumerate(container.decode(stream)):
        last = frame
        if frame.time is not None and frame.time >= at_s or count >= MAX_POSTER_DECODE_FRAMES:
            return frame
    if last is None:
        container.seek(0)
        return _first_frame(container, stream)
    return last


def _upright(frame: VideoFrame) -> Image.Image:
    """The frame as an RGB image turned the way the camera meant (phones record portrait
    video as landscape frames plus a rotation in the container)."""
    image = frame.to_image()
    # `rotation` is counter-clockwise, as PIL's rotate.
    if frame.rotation % 360:
        image = image.rotate(frame.rotation, expand=True)
    return image
