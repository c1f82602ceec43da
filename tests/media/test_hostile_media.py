"""Damaged files of every kind: checking or rendering one either works or raises
MediaError; no decoder's own exception gets through to the importer."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

import pytest

from bot.media import audio, documents, images, timeseries, video
from bot.media.checks import check
from bot.media.errors import MediaError
from tests.media.builders import (
    encoded_audio,
    jpeg_bytes,
    mp4_bytes,
    pdf_bytes,
    png_bytes,
    wav_bytes,
)

CSV_SPEC = {"src": "ecg/9.csv", "x": "t", "y": ["lead_ii"]}

RENDER: dict[str, Callable[[bytes], object]] = {
    "image": images.display_image,
    "document": lambda data: documents.render_pages(data, 0, 2, width=300),
    "audio": lambda data: audio.waveform_png(data, 300, 100),
    "video": video.poster_png,
    "timeseries": lambda data: timeseries.chart_png(timeseries.load(CSV_SPEC, data)),
}


def _damaged(data: bytes, rng: random.Random) -> bytes:
    """Bytes flipped, runs cut out, or the tail lost: what a bad download does."""
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not damaged:
            break
        at = rng.randrange(len(damaged))
        roll = rng.random()
        if roll < 0.6:
            damaged[at] = rng.randrange(256)
        elif roll < 0.85:
            del damaged[at : at + rng.randint(1, 64)]
        else:
            del damaged[at:]
    return bytes(damaged)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's "Corrupt EXIF data"
@pytest.mark.parametrize(
    ("media_type", "make"),
    [
        ("image", lambda: png_bytes(40, 30, colour=(10, 200, 90))),
        ("image", lambda: jpeg_bytes(80, 60, orientation=3)),
        ("document", lambda: pdf_bytes(["Clause one", "Clause two"])),
        ("audio", lambda: wav_bytes(0.3)),
        ("audio", lambda: encoded_audio("mp3", "libmp3lame", 0.3)),
        ("audio", lambda: encoded_audio("ogg", "libopus", 0.3, rate=48000)),
        ("audio", lambda: encoded_audio("ipod", "aac", 0.3)),
        ("video", lambda: mp4_bytes(0.5)),
        ("timeseries", lambda: b"t,lead_ii\n0,0.1\n1,0.4\n2,0.2\n3,0.3\n"),
    ],
)
def test_damaged_media_give_media_errors_only(media_type, make):
    original = make()
    rng = random.Random(f"{media_type}-{len(original)}")
    for _ in range(40):
        data = _damaged(original, rng)
        with contextlib.suppress(MediaError):
            check(media_type, data, CSV_SPEC)
        with contextlib.suppress(MediaError):
            RENDER[media_type](data)
