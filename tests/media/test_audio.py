"""Audio facts and the waveform image of a review DM."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.media.audio import probe, waveform_png
from bot.media.errors import MediaError
from tests.media.builders import wav_bytes


def test_probe_gives_length_rate_and_channels(wav, mp3):
    assert probe(wav) == (pytest.approx(2.0), 8000, 2)
    duration, rate, channels = probe(mp3)
    assert (rate, channels) == (44100, 1) and duration == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("fixture", ["wav", "mp3"])
def test_the_waveform_is_a_png_of_the_size_asked(fixture, request):
    image = Image.open(io.BytesIO(waveform_png(request.getfixturevalue(fixture), 900, 240)))
    assert (image.format, image.size) == ("PNG", (900, 240))


def test_the_waveform_shows_the_sound_growing_louder():
    # The tone fades in: its drawn band must be taller at the end than at the start.
    image = np.asarray(Image.open(io.BytesIO(waveform_png(wav_bytes(4.0), 800, 300))).convert("L"))
    ink = image < 150
    plot = ink[40:250]  # between the title and the time axis

    def band(x: int) -> int:
        return int(plot[:, x].sum())

    assert band(700) > 3 * max(band(150), 1)


def test_bytes_that_are_not_audio_are_refused():
    with pytest.raises(MediaError, match="audio cannot be opened"):
        waveform_png(b"RIFF\x00\x00\x00\x00WAVEjunk")
