"""A video clip: reviewers see a poster frame and its length."""

from __future__ import annotations

from bot.content.media import MediaContent, MediaSource, SampleRecord, duration
from bot.slack.wording import say


class VideoRecord(SampleRecord):
    video: MediaSource


class Video(MediaContent):
    name = "video"
    key = "video"
    record = VideoRecord
    noun = "a video"
    shares_original = True

    def alt_for(self, alt: str, rendition: str) -> str:
        return f"Poster frame of {alt}"

    def caption(self, medium: dict) -> str | None:
        return say("video_caption", duration=duration(medium.get("duration_s")))


VIDEO = Video()
