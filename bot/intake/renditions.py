"""What the import makes of each medium for reviewers to look at, beside the original:
PNG renditions Slack shows as images (named as the content types refer to them, see
bot/content/media.py) and the facts a message or a prompt shows next to them. Made once
at import, so sending a DM costs an upload, never a render."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from bot.audit.chain import canonical_json
from bot.content.media import DISPLAY, ORIGINAL, page_rendition
from bot.media import audio, documents, images, timeseries, video
from bot.media.checks import MediaFacts

PAGES_RENDERED = 12  # document pages rendered: the DM shows the first, a modal all of them
TEXT_LAYER_CHARS = 20_000  # of a document's text kept for LLM pre-labels


@dataclass
class Renditions:
    images: dict[str, bytes] = field(default_factory=dict)  # rendition name -> PNG/JPEG
    facts: dict[str, Any] = field(default_factory=dict)  # written into the item's medium
    shown: list[str] = field(default_factory=list)  # renditions not made: the original

    @property
    def names(self) -> list[str]:
        """The renditions messages show: those made, or the original itself."""
        return self.shown + [name for name in self.images if name not in self.shown]


def renditions(
    media_type: str, data: bytes, spec: dict, facts: MediaFacts, sha256: str
) -> Renditions:
    """What reviewers see of a medium (`spec`: the item's fields for it), in the order a
    message shows it; stored beside the original, under these names."""
    made = Renditions()
    if media_type == "image":
        shown = images.display_image(data)
        if shown is data:  # small and upright already: shown as stored, not stored twice
            made.shown.append(ORIGINAL)
        else:
            made.images[DISPLAY] = shown
        made.facts.update(width=facts.width, height=facts.height)
    elif media_type == "document":
        pages = documents.render_pages(data, 0, PAGES_RENDERED)
        made.images.update({page_rendition(n): png for n, png in enumerate(pages, 1)})
        made.facts.update(pages=facts.pages)
        if facts.has_text:
            made.facts["text_layer"] = documents.text_layer(data, TEXT_LAYER_CHARS)
    elif media_type == "timeseries":
        series = timeseries.load(spec, data or None)
        # Named by what it draws: two items may chart other columns of one CSV.
        drawn = hashlib.sha256(f"{sha256}:{canonical_json(spec)}".encode()).hexdigest()
        made.images[f"chart-{drawn[:16]}"] = timeseries.chart_png(series)
        made.facts.update(rows=facts.rows, summary=timeseries.summary(series))
    elif media_type == "audio":
        made.images[DISPLAY] = audio.waveform_png(data)
        made.facts.update(duration_s=round(facts.duration_s or 0.0, 3))
    elif media_type == "video":
        made.images[DISPLAY] = video.poster_png(data)
        made.facts.update(
            duration_s=round(facts.duration_s or 0.0, 3), width=facts.width, height=facts.height
        )
    return made
