"""Media files for the media tests, made from nothing: images with Pillow, PDFs by hand
(so they can carry a text layer), WAV with the stdlib, MP3 and MP4 with PyAV."""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib

import av
import numpy as np
from PIL import Image


def png_bytes(
    width: int = 64, height: int = 48, mode: str = "RGB", colour: object = "teal"
) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, format="PNG")  # type: ignore[arg-type]
    return out.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    # A red left half: after rotating, where the red ends up shows the turn was applied.
    image.paste((220, 0, 0), (0, 0, width // 2, height))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims width x height: a decompression bomb
    as Pillow sees it, without the memory to build one."""
    data = bytearray(png_bytes(8, 8))
    ihdr = 8  # signature, then the IHDR chunk: length(4) type(4) data(13) crc(4)
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 21]))
    data[ihdr + 21 : ihdr + 25] = struct.pack(">I", crc)
    return bytes(data)


def pdf_bytes(pages: list[str | None], size: tuple[int, int] = (612, 792)) -> bytes:
    """A PDF of one page per entry: the text drawn large (a text layer) or, for None, a
    grey box only (a page like a scan without OCR)."""
    width, height = size
    count = len(pages)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(count))
        + f"] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        if text is None:
            stream = b"0.6 g 72 400 300 200 re f"
        else:
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            stream = f"BT /F1 28 Tf 72 {height - 120} Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def wav_bytes(
    seconds: float = 1.0, rate: int = 8000, channels: int = 1, hz: float = 440.0
) -> bytes:
    """A sine tone whose loudness rises from silence to full over the clip."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    tone = np.sin(2 * math.pi * hz * t) * np.linspace(0.0, 0.9, n)
    samples = np.repeat((tone * 32767).astype("<i2")[:, None], channels, axis=1)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return out.getvalue()


def encoded_audio(fmt: str, codec: str, seconds: float = 1.0, rate: int = 44100) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        n = int(seconds * rate)
        tone = (np.sin(2 * math.pi * 330 * np.arange(n) / rate) * 0.5).astype(np.float32)
        step = 1152
        for start in range(0, n, step):
            block = tone[start : start + step]
            frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def mp4_bytes(
    seconds: float = 2.0,
    width: int = 160,
    height: int = 120,
    fps: int = 10,
    rotation: int | None = None,
    split: bool = False,
) -> bytes:
    """An H.264 MP4 whose colour tells the time: red for the first half, blue after. With
    `split`, every frame is red on its left half and blue on its right instead, and
    `rotation` (counter-clockwise degrees) is the display rotation a phone would record."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = fps  # a keyframe each second: seeking has work
        if rotation is not None:
            stream.set_display_rotation(rotation)
        frames = int(seconds * fps)
        for i in range(frames):
            colour = (220, 30, 30) if i < frames // 2 else (30, 30, 220)
            picture = np.empty((height, width, 3), dtype=np.uint8)
            picture[:] = colour
            if split:
                picture[:, : width // 2] = (220, 30, 30)
                picture[:, width // 2 :] = (30, 30, 220)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()
