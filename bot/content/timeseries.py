"""A time series (sensor traces, an ECG, metrics) with the model's window: reviewers see a
chart with the window shaded and a line of summary numbers per series."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from bot.content.base import Record
from bot.content.media import MAX_ALT_CHARS, MAX_SRC_CHARS, MediaContent, SampleRecord
from bot.slack.wording import say

MAX_SERIES = 16


class TimeSeriesSource(Record):
    """CSV columns (`src`, `x`, `y`) or inline values (`x` as a list, `series`)."""

    src: str | None = Field(default=None, min_length=1, max_length=MAX_SRC_CHARS)
    x: str | list[float] | None = None
    y: list[str] | None = Field(default=None, min_length=1, max_length=MAX_SERIES)
    series: dict[str, list[float | None]] | None = None
    x_label: str | None = Field(default=None, max_length=100)
    window: tuple[float, float] | None = None
    unit: str | dict[str, str] | None = None
    alt: str | None = Field(default=None, max_length=MAX_ALT_CHARS)

    @model_validator(mode="after")
    def _one_source(self) -> TimeSeriesSource:
        if self.src is not None:
            if not isinstance(self.x, str) or not self.y or self.series is not None:
                raise ValueError("a CSV series needs `x` (a column name) and `y` (column names)")
        elif not isinstance(self.x, list) or not self.series:
            raise ValueError(
                "give `src` with `x` and `y` columns, or inline `x` values and `series`"
            )
        if self.window is not None and self.window[0] > self.window[1]:
            raise ValueError("`window` must be [start, end] with start <= end")
        return self


class TimeSeriesRecord(SampleRecord):
    timeseries: TimeSeriesSource


class TimeSeries(MediaContent):
    name = "timeseries"
    key = "timeseries"
    record = TimeSeriesRecord
    noun = "a time series"

    def alt_for(self, alt: str, rendition: str) -> str:
        return f"Chart of {alt}"

    def caption(self, medium: dict) -> str | None:
        summary: dict[str, dict[str, Any]] = medium.get("summary") or {}
        unit = medium.get("unit")
        lines = [
            say(
                "series_summary",
                name=name,
                stats=stats,
                unit=(unit.get(name) if isinstance(unit, dict) else unit) or "",
                window=medium.get("window"),
            )
            for name, stats in list(summary.items())[:MAX_SERIES]
        ]
        return "\n".join(lines) or None

    def prompt_text(self, medium: dict) -> str:
        return self.caption(medium) or ""


TIMESERIES = TimeSeries()
