"""An image (a scan, a photo, a screenshot), with an optional text beside it (a caption,
a model's description, a report): what is labelled is the image."""

from __future__ import annotations

from bot.content.media import MediaContent, MediaSource, SampleRecord


class ImageRecord(SampleRecord):
    image: MediaSource


class Image(MediaContent):
    name = "image"
    key = "image"
    record = ImageRecord
    noun = "an image"


IMAGE = Image()
