"""Audio: its length and format, and a waveform image for a review DM (PyAV decodes;
the samples are reduced as they arrive, so memory does not grow with the file)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer

from bot.media.avio import duration_s, open_container
from bot.media.errors import MediaError
from bot.media.limits import MAX_AUDIO_SECONDS

# Envelope chunks per pixel column: enough that an off duration estimate still leaves
# every column a few chunks.
_CHUNKS_PER_COLUMN = 4
_MINUTE_STEPS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def probe(data: bytes) -> tuple[float, int, int]:
    """(duration in seconds, sample rate, channels) of the first audio stream; MediaError
    when there is none, its length is unknown, or its first frame does not decode."""
    with open_container(data, "audio") as container:
        stream = _audio_stream(container)
        duration = _known_duration(container, stream)
        # One frame proves the codec is there and the data is not garbage after a header.
        for _ in container.decode(stream):
            break
        else:
            raise MediaError("audio has no decodable sound")
        return duration, stream.codec_context.sample_rate, stream.codec_context.channels


def waveform_png(data: bytes, width: int = 1200, height: int = 300) -> bytes:
    """A PNG of the sound's envelope (downmixed to mono; the lowest and highest sample of
    each pixel column), `width` x `height` pixels, time along the bottom in seconds."""
    mins, maxs, duration = _envelope(data, width)
    return _plot(mins, maxs, duration, width, height)


def _audio_stream(container: InputContainer) -> AudioStream:
    if not container.streams.audio:
        raise MediaError("the file has no audio stream")
    stream = container.streams.audio[0]
    if stream.codec_context is None or not stream.codec_context.sample_rate:
        raise MediaError("audio cannot be decoded: its codec is unknown or the file is damaged")
    return stream


def _known_duration(container: InputContainer, stream: AudioStream) -> float:
    duration = duration_s(container, stream)
    if duration is None:
        raise MediaError("audio length is unknown (no duration in the file)")
    if duration > MAX_AUDIO_SECONDS:
        raise MediaError(
            f"audio lasts {duration / 3600:.1f} h; the cap is {MAX_AUDIO_SECONDS / 3600:.0f} h"
        )
    return duration


def _envelope(data: bytes, width: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-column min and max of the mono signal, and the decoded length in seconds."""
    with open_container(data, "audio") as container:
        stream = _audio_stream(container)
        estimate = _known_duration(container, stream)
        rate = stream.codec_context.sample_rate
        chunk = max(1, math.floor(estimate * rate / (width * _CHUNKS_PER_COLUMN)))
        chunk_mins: list[np.ndarray] = []
        chunk_maxs: list[np.ndarray] = []
        pending: list[np.ndarray] = []  # decoded samples not yet reduced, under one chunk
        waiting = 0
        total = 0
        for samples in _mono_samples(container, stream, rate):
            total += samples.size
            pending.append(samples)
            waiting += samples.size
            if waiting >= chunk:
                rest = _reduce_chunks(np.concatenate(pending), chunk, chunk_mins, chunk_maxs)
                pending, waiting = [rest], rest.size
        if waiting:
            rest = np.concatenate(pending)
            chunk_mins.append(rest.min(keepdims=True))
            chunk_maxs.append(rest.max(keepdims=True))
    if not total:
        raise MediaError("audio has no decodable sound")
    mins = np.concatenate(chunk_mins)
    maxs = np.concatenate(chunk_maxs)
    columns = min(width, mins.size)
    edges = np.linspace(0, mins.size, columns + 1).astype(int)[:-1]
    return np.minimum.reduceat(mins, edges), np.maximum.reduceat(maxs, edges), total / rate


def _mono_samples(
    container: InputContainer, stream: AudioStream, rate: int
) -> Iterator[np.ndarray]:
    """The decoded sound as mono float32 blocks at `rate`, in order (the resampler
    downmixes). A stream whose layout or rate changes midway (chained Ogg, spliced MP3)
    gets a new resampler for the new part."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    setup: tuple[str, str, int] | None = None
    for frame in container.decode(stream):
        current = (frame.format.name, frame.layout.name, frame.sample_rate)
        if setup is not None and current != setup:
            for mono in resampler.resample(None):
                yield mono.to_ndarray().reshape(-1)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        setup = current
        for mono in resampler.resample(frame):
            yield mono.to_ndarray().reshape(-1)
    for mono in resampler.resample(None):
        yield mono.to_ndarray().reshape(-1)


def _reduce_chunks(
    samples: np.ndarray, chunk: int, mins: list[np.ndarray], maxs: list[np.ndarray]
) -> np.ndarray:
    """Appends min and max of each whole chunk; returns the samples left over."""
    whole = samples.size // chunk * chunk
    if whole:
        blocks = samples[:whole].reshape(-1, chunk)
        mins.append(blocks.min(axis=1))
        maxs.append(blocks.max(axis=1))
    return samples[whole:]


def _plot(mins: np.ndarray, maxs: np.ndarray, duration: float, width: int, height: int) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    times = np.linspace(0.0, duration, mins.size)
    axes.fill_between(times, mins, maxs, color="#2b6cb0", linewidth=0.6, edgecolor="#2b6cb0")
    peak = float(max(abs(mins.min()), abs(maxs.max()), 1e-6))
    axes.set_xlim(0.0, duration)
    axes.set_ylim(-peak * 1.05, peak * 1.05)
    axes.axhline(0.0, color="#999999", linewidth=0.5)
    axes.set_yticks([])
    axes.spines[["top", "right", "left"]].set_visible(False)
    if duration >= 120:
        # Whole minutes or their usual fractions between ticks, never "0:50, 1:40".
        step = next((s for s in _MINUTE_STEPS if duration / s <= 10), _MINUTE_STEPS[-1])
        axes.xaxis.set_major_locator(MultipleLocator(step))
        axes.xaxis.set_major_formatter(
            FuncFormatter(lambda s, _: f"{int(s // 60)}:{int(s % 60):02d}")
        )
        axes.set_xlabel("time (min:s)", fontsize=12)
    else:
        axes.set_xlabel("time (s)", fontsize=12)
    axes.tick_params(axis="x", labelsize=11)
    # The drawing is scaled to its own peak, so the title says how loud that peak is.
    loudness = f"peak {20 * math.log10(peak):.0f} dBFS" if peak > 1e-5 else "silent"
    axes.set_title(f"Waveform, {_length_text(duration)}, {loudness}", fontsize=12, loc="left")
    figure.tight_layout(pad=0.4)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=dpi)
    return out.getvalue()


def _length_text(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"
