"""Video facts and the poster frame of a review DM."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.media.errors import MediaError
from bot.media.video import poster_png, probe
from tests.media.builders import mp4_bytes, png_bytes


def _colour(png: bytes) -> tuple[int, int, int]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.getpixel((image.width // 2, image.height // 2))


def test_probe_gives_length_and_size(mp4):
    duration, width, height = probe(mp4)
    assert (width, height) == (160, 120)
    assert duration == pytest.approx(2.0, abs=0.15)


def test_the_poster_is_a_png_of_the_video_size(mp4):
    image = Image.open(io.BytesIO(poster_png(mp4)))
    assert (image.format, image.size) == ("PNG", (160, 120))


def test_the_default_poster_is_from_early_on_and_a_time_can_be_chosen(mp4):
    # The video is red for its first second and blue after.
    red, blue = _colour(poster_png(mp4)), _colour(poster_png(mp4, at_s=1.5))
    assert red[0] > 150 and red[2] < 100
    assert blue[2] > 150 and blue[0] < 100


def test_a_large_poster_is_shrunk_to_fit():
    image = Image.open(io.BytesIO(poster_png(mp4_bytes(0.5, 640, 360), max_side=320)))
    assert image.size == (320, 180)


def test_a_picture_is_not_a_video():
    with pytest.raises(MediaError, match="not an MP4/MOV/WebM/MKV video: .* a PNG image"):
        poster_png(png_bytes())


def test_a_phone_video_is_shown_upright():
    # Stored as landscape frames (red left, blue right) with a 90 degree counter-clockwise
    # display rotation, as phones record portrait video; FFmpeg's players show the left
    # edge at the bottom.
    data = mp4_bytes(1.0, 160, 120, rotation=90, split=True)
    assert probe(data)[1:] == (120, 160)
    image = Image.open(io.BytesIO(poster_png(data))).convert("RGB")
    assert image.size == (120, 160)
    top, bottom = image.getpixel((60, 10)), image.getpixel((60, 150))
    assert top[2] > 150 and top[0] < 100
    assert bottom[0] > 150 and bottom[2] < 100
