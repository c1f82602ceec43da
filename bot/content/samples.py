"""The content types of an item that shows one medium, for the kinds that judge one
sample (label, rating): in the order an item's fields are looked at."""

from __future__ import annotations

from bot.content.audio import AUDIO
from bot.content.document import DOCUMENT
from bot.content.image import IMAGE
from bot.content.media import MediaContent
from bot.content.timeseries import TIMESERIES
from bot.content.video import VIDEO

MEDIA_SAMPLES: tuple[MediaContent, ...] = (IMAGE, DOCUMENT, AUDIO, VIDEO, TIMESERIES)
