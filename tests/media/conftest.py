"""Fixtures of encoded media, made once per session (encoding takes a moment)."""

from __future__ import annotations

import pytest

from tests.media.builders import encoded_audio, mp4_bytes, wav_bytes


@pytest.fixture(scope="session")
def wav() -> bytes:
    return wav_bytes(seconds=2.0, rate=8000, channels=2)


@pytest.fixture(scope="session")
def mp3() -> bytes:
    return encoded_audio("mp3", "libmp3lame")


@pytest.fixture(scope="session")
def mp4() -> bytes:
    return mp4_bytes()
