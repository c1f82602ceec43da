"""A recording (a support call, a dictation) with its transcript in `text`: reviewers see
its waveform and read the transcript (what a `correction` edits)."""

from __future__ import annotations

from bot.content.media import MediaContent, MediaSource, SampleRecord, duration
from bot.slack.wording import say


class AudioRecord(SampleRecord):
    audio: MediaSource


class Audio(MediaContent):
    name = "audio"
    key = "audio"
    record = AudioRecord
    noun = "a recording"
    shares_original = True

    def alt_for(self, alt: str, rendition: str) -> str:
        return f"Waveform of {alt}"

    def caption(self, medium: dict) -> str | None:
        return say("audio_caption", duration=duration(medium.get("duration_s")))


AUDIO = Audio()
