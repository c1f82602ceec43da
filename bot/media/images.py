"""Images: decode them fully (truncation and decompression bombs refused) and make a
copy Slack can show (PNG or JPEG, upright, no side over `max_side`)."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.media.errors import MediaError, library_message
from bot.media.limits import MAX_IMAGE_PIXELS

# The decoders a review image may use: what `sniff` accepts, nothing of Pillow's long
# tail of formats (each one more parser facing untrusted bytes).
_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
_EXIF_ORIENTATION = 0x0112


def decoded_size(data: bytes) -> tuple[int, int]:
    """(width, height) after decoding every pixel; MediaError when the image is
    truncated, corrupt, or larger than MAX_IMAGE_PIXELS."""
    image = open_image(data)
    return image.size


def open_image(data: bytes) -> Image.Image:
    """The image decoded (its first frame when animated); MediaError as `decoded_size`."""
    image = _opened(data)
    _load(image)
    return image


def _opened(data: bytes) -> Image.Image:
    """The image with its header read and its size checked, not yet decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
    # Pillow raises past twice its own limit and only warns between (an exception when
    # warnings are errors); the cap below, lower than Pillow's, refuses all of those.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(
            f"image is too large (a decompression bomb?): {library_message(exc)}"
        ) from exc
    except UnidentifiedImageError as exc:
        raise MediaError("image cannot be opened: its header is corrupt or cut short") from exc
    except (OSError, ValueError) as exc:
        raise MediaError(f"image cannot be opened: {library_message(exc)}") from exc
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise MediaError(
            f"image is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the cap is {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
        )
    return image


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        kind = image.format or "image"
        message = library_message(exc)
        if "truncated" in message.lower() or isinstance(exc, EOFError):
            raise MediaError(f"truncated {kind}: {message}") from exc
        raise MediaError(f"{kind} cannot be decoded: {message}") from exc


JPEG_QUALITY = 85


def display_image(data: bytes, max_side: int = 1600) -> bytes:
    """Bytes for an image block: the original when it is a PNG or JPEG already upright
    and no side over `max_side`, else a copy, upright (EXIF orientation applied), shrunk
    to fit `max_side` with its aspect ratio kept, in a mode browsers show: a JPEG for a
    photograph without transparency (PNG is ten times the bytes and the encoding time
    for one), a PNG for the rest."""
    image = _opened(data)
    small = max(image.size) <= max_side
    if image.format == "JPEG" and not small:
        # Decode at 1/2, 1/4 or 1/8 scale when that still leaves max_side: a 24 Mpx photo
        # costs a fraction of the work and memory.
        image.draft(image.mode, (max_side, max_side))
    _load(image)  # before EXIF: a PNG's eXIf chunk may follow its pixels
    orientation = _orientation(image)
    if (
        image.format in ("PNG", "JPEG")
        and small
        and image.mode not in ("CMYK", "YCbCr", "LAB")
        and orientation == 1
    ):
        return data
    upright = image
    if orientation != 1:
        try:
            upright = ImageOps.exif_transpose(image) or image
        except (OSError, ValueError, SyntaxError, struct.error):
            upright = image  # damaged EXIF: shown as stored
    photo = image.format == "JPEG"
    shown = _displayable(upright)
    shown.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if photo and shown.mode in ("RGB", "L"):
        shown.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        shown.save(out, format="PNG")
    return out.getvalue()


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1: as stored); 1 when the EXIF block is damaged."""
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError, struct.error):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _displayable(image: Image.Image) -> Image.Image:
    """The image as L, LA, RGB or RGBA: palettes expanded (keeping transparency), CMYK
    converted, and 16-bit or float greyscale (common for X-rays) stretched to 8 bits."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode.startswith(("I", "F")):
        return _stretched(image)
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


def _stretched(image: Image.Image) -> Image.Image:
    """Greyscale of more than 8 bits mapped onto 0..255 from its own darkest to lightest
    pixel (Pillow's own conversion clips everything above 255 to white)."""
    values = np.asarray(image, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = high - low or 1.0
    scaled = np.clip((np.nan_to_num(values, nan=low) - low) / span * 255.0, 0, 255)
    return Image.fromarray(scaled.astype(np.uint8), mode="L")
