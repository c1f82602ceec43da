"""The copy of an image a review DM shows: small and upright, in a mode Slack displays."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bot.media.images import display_image
from tests.media.builders import jpeg_bytes, png_bytes


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_large_image_is_shrunk_and_keeps_its_aspect():
    shown = _open(display_image(png_bytes(4000, 1000), max_side=1600))
    assert shown.format == "PNG"
    assert shown.size == (1600, 400)


def test_a_small_png_or_jpeg_is_passed_through_unchanged():
    png, jpeg = png_bytes(300, 200), jpeg_bytes(300, 200)
    assert display_image(png) == png
    assert display_image(jpeg) == jpeg


def test_exif_orientation_is_applied():
    # Orientation 6: the camera was turned; the stored left half belongs at the top.
    shown = _open(display_image(jpeg_bytes(64, 48, orientation=6)))
    assert shown.size == (48, 64)
    red_top, white_bottom = shown.getpixel((24, 4)), shown.getpixel((24, 60))
    assert red_top[0] > 200 and red_top[1] < 60
    assert min(white_bottom) > 200


def test_cmyk_becomes_rgb_with_the_same_colour():
    out = io.BytesIO()
    Image.new("CMYK", (40, 20), (0, 255, 255, 0)).save(out, format="JPEG")
    shown = _open(display_image(out.getvalue()))
    assert shown.mode == "RGB"
    assert shown.getpixel((10, 10))[0] > 200 and shown.getpixel((10, 10))[2] < 60


def test_a_palette_gif_keeps_its_transparency():
    image = Image.new("P", (30, 30), 0)
    image.putpalette([255, 0, 0, 0, 255, 0])
    image.paste(1, (10, 10, 20, 20))
    out = io.BytesIO()
    image.save(out, format="GIF", transparency=0)
    shown = _open(display_image(out.getvalue()))
    assert shown.format == "PNG" and shown.mode == "RGBA"
    assert shown.getpixel((2, 2))[3] == 0
    assert shown.getpixel((15, 15)) == (0, 255, 0, 255)


def test_a_16_bit_x_ray_is_stretched_not_burnt_white():
    # Values up to 60000: a plain 8-bit conversion would clip nearly all of it to white.
    ramp = (np.linspace(0, 1, 400)[None, :] * np.ones((100, 1)) * 60000).astype(np.uint16)
    out = io.BytesIO()
    Image.fromarray(ramp).save(out, format="PNG")
    shown = _open(display_image(out.getvalue(), max_side=200))
    assert shown.size == (200, 50)
    assert shown.mode == "L"
    dark, middle, light = (shown.getpixel((x, 25)) for x in (0, 100, 199))
    assert dark < 10 and 100 < middle < 160 and light > 245
