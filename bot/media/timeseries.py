"""Time series: read from a CSV or inline in the item, checked, summarised, and drawn as
one chart panel per series with the model's window shaded."""

from __future__ import annotations

import csv
import io
import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from bot.media.errors import MediaError
from bot.media.limits import MAX_SERIES_POINTS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Blank cells and these spellings are gaps in a series (sensors drop out); anything
# else that is not a number is an error.
_MISSING = {"", "nan", "na", "n/a", "null", "none", "-"}
_WINDOW_COLOUR = "#f6ad55"
_LINE_COLOUR = "#2b6cb0"
# A window narrower than this share of the data is shown zoomed, with context around it.
_ZOOM_BELOW = 0.05
_ZOOM_CONTEXT = 2.0  # window widths of context on each side of a zoomed window


@dataclass(frozen=True, eq=False)
class Series:
    """Named series sharing one x axis; `window` is the span the model points at."""

    x: np.ndarray
    y: dict[str, np.ndarray]
    x_name: str = "x"
    window: tuple[float, float] | None = None
    unit: str | dict[str, str] | None = None

    def unit_of(self, name: str) -> str | None:
        """The unit of one series: the shared unit, or its own from a per-series map."""
        if isinstance(self.unit, dict):
            return self.unit.get(name)
        return self.unit

    @property
    def rows(self) -> int:
        return int(self.x.size)


def load(spec: dict, data: bytes | None) -> Series:
    """The series an item's `timeseries` spec names: CSV columns (`x`, `y`) of `data`
    when the spec has a `src`, else the inline `x` list and `series` mapping (its x axis
    named by an optional `x_label`, else "x")."""
    if not isinstance(spec, dict):
        raise MediaError("`timeseries` must be an object")
    window = _window(spec.get("window"))
    unit = spec.get("unit")
    if not (
        unit is None
        or isinstance(unit, str)
        or (isinstance(unit, dict) and all(isinstance(u, str) for u in unit.values()))
    ):
        raise MediaError('`unit` must be text, such as "mV", or one per series: {"hr": "bpm"}')
    if "src" in spec:
        if data is None:
            raise MediaError("the time series' CSV file is missing")
        x_name, x, y = _from_csv(spec, data)
    else:
        x_name, x, y = _inline(spec)
    if window is not None and (window[1] < x[0] or window[0] > x[-1]):
        raise MediaError(
            f"`window` [{window[0]:g}, {window[1]:g}] lies outside the data "
            f"({x_name} runs from {x[0]:g} to {x[-1]:g})"
        )
    return Series(x=x, y=y, x_name=x_name, window=window, unit=unit or None)


def summary(series: Series) -> dict[str, dict[str, Any]]:
    """Per series: n (numbers, gaps left out), min, max, mean; and, when there is a
    window, window_n, window_mean and window_max (None when no number falls in it)."""
    result: dict[str, dict[str, Any]] = {}
    inside = None
    if series.window is not None:
        inside = (series.x >= series.window[0]) & (series.x <= series.window[1])
    for name, values in series.y.items():
        finite = np.isfinite(values)
        numbers = values[finite]
        entry: dict[str, Any] = {
            "n": int(numbers.size),
            "min": float(numbers.min()),
            "max": float(numbers.max()),
            "mean": float(numbers.mean()),
        }
        if inside is not None:
            in_window = values[inside & finite]
            entry["window_n"] = int(in_window.size)
            entry["window_mean"] = float(in_window.mean()) if in_window.size else None
            entry["window_max"] = float(in_window.max()) if in_window.size else None
        result[name] = entry
    return result


def _plain(text: str) -> str:
    """Text from the data as matplotlib draws it literally: `$…$` would be parsed as
    math (and a malformed formula raises)."""
    return text.replace("$", r"\$")


def chart_png(series: Series, max_panels: int = 4, max_points: int = 2000) -> bytes:
    """The chart of `chart_figure` as PNG bytes."""
    figure = chart_figure(series, max_panels=max_panels, max_points=max_points)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def chart_figure(series: Series, max_panels: int = 4, max_points: int = 2000) -> Figure:
    """One panel per series (the first `max_panels`; a note names the rest), y labelled
    with the unit, the window shaded and labelled. A window narrower than 5% of the data
    is shown zoomed with two window-widths of context each side, and the title says so.
    Long series are min-max downsampled to `max_points` for drawing: peaks stay."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(series.y)
    shown, hidden = names[: max(1, max_panels)], names[max(1, max_panels) :]
    low, high = _view(series)
    visible = (series.x >= low) & (series.x <= high)
    x = series.x[visible]

    figure = Figure(figsize=(8, 1.8 * len(shown) + 1.1), dpi=150)
    FigureCanvasAgg(figure)
    axes_list = figure.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0]
    for axes, name in zip(axes_list, shown, strict=True):
        keep = _minmax_indices(series.y[name][visible], max_points)
        axes.plot(x[keep], series.y[name][visible][keep], color=_LINE_COLOUR, linewidth=0.9)
        unit = series.unit_of(name)
        axes.set_ylabel(_plain(f"{name} ({unit})" if unit else name), fontsize=10)
        axes.grid(alpha=0.3, linewidth=0.5)
        axes.tick_params(labelsize=9)
        if series.window is not None:
            axes.axvspan(*series.window, color=_WINDOW_COLOUR, alpha=0.35, linewidth=0, zorder=0)
            for edge in series.window:
                axes.axvline(edge, color="#c05621", linewidth=0.8, linestyle="--", zorder=1)
    axes_list[-1].set_xlabel(_plain(series.x_name), fontsize=10)
    axes_list[-1].set_xlim(low, high)
    if series.window is not None:
        start, end = series.window
        axes_list[0].text(
            (max(start, low) + min(end, high)) / 2,
            1.02,
            f"model window {start:g}–{end:g}",
            transform=axes_list[0].get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=9,
            color="#9c4221",
        )
    title = _title(series, low, high)
    if title:
        figure.suptitle(_plain(title), fontsize=10, x=0.01, ha="left")
    if hidden:
        listed = ", ".join(hidden[:6]) + (", ..." if len(hidden) > 6 else "")
        figure.text(
            0.01,
            0.005,
            _plain(f"{len(hidden)} more series not shown: {listed}"),
            fontsize=9,
            color="#555555",
            va="bottom",
        )
    figure.tight_layout(rect=(0, 0.04 if hidden else 0, 1, 1))
    return figure


def _view(series: Series) -> tuple[float, float]:
    """The x range drawn: all the data, or the window with context when it is small."""
    first, last = float(series.x[0]), float(series.x[-1])
    if series.window is None or last <= first:
        return first, last if last > first else first + 1.0
    start, end = series.window
    width = end - start
    if width >= (last - first) * _ZOOM_BELOW:
        return first, last
    return max(first, start - _ZOOM_CONTEXT * width), min(last, end + _ZOOM_CONTEXT * width)


def _title(series: Series, low: float, high: float) -> str:
    first, last = float(series.x[0]), float(series.x[-1])
    if low > first or high < last:
        return f"Around the model window: {series.x_name} {low:g}–{high:g} of {first:g}–{last:g}"
    return ""


def _minmax_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices that keep the lowest and highest value of each of max_points/2 buckets,
    in order: what a line chart of that many points needs to show every peak."""
    n = values.size
    buckets = max(1, max_points // 2)
    if n <= max_points:
        return np.arange(n)
    size = math.ceil(n / buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    blocks = padded.reshape(buckets, size)
    gaps = np.isnan(blocks)
    lows = np.where(gaps, np.inf, blocks).argmin(axis=1)
    highs = np.where(gaps, -np.inf, blocks).argmax(axis=1)
    offsets = np.arange(buckets) * size
    pairs = np.stack((np.minimum(lows, highs), np.maximum(lows, highs)), axis=1)
    indices = (pairs + offsets[:, None]).reshape(-1)
    return np.unique(np.clip(indices, 0, n - 1))


def _window(raw: object) -> tuple[float, float] | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, (list, tuple))
        or len(raw) != 2
        or not all(_is_number(v) and math.isfinite(v) for v in raw)
    ):
        raise MediaError("`window` must be two numbers [start, end], such as [12.0, 14.5]")
    start, end = float(raw[0]), float(raw[1])
    if end <= start:
        raise MediaError(f"`window` ends ({end:g}) before it starts ({start:g})")
    return start, end


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _y_names(spec: dict) -> list[str]:
    raw = spec.get("y")
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise MediaError('`y` must name the CSV column(s) to show, such as ["lead_ii"]')
    return list(dict.fromkeys(names))


def _from_csv(spec: dict, data: bytes) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    x_name = spec.get("x")
    if not isinstance(x_name, str) or not x_name:
        raise MediaError('`x` must name the CSV column of the x axis, such as "t"')
    y_names = _y_names(spec)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MediaError(f"CSV is not UTF-8 text: {exc}") from exc
    if x_name in y_names:
        raise MediaError(f"`y` names `{x_name}`, the column of the x axis")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        columns = _read_columns(reader, x_name, y_names)
    except csv.Error as exc:
        raise MediaError(f"CSV cannot be read at line {reader.line_num}: {exc}") from exc
    x = np.frombuffer(columns[x_name], dtype=np.float64)
    y = {name: np.frombuffer(columns[name], dtype=np.float64) for name in y_names}
    _check_points(x_name, x, y, "CSV data rows")
    return x_name, x, y


def _read_columns(reader: Any, x_name: str, y_names: list[str]) -> dict[str, array[float]]:
    """The named columns as packed doubles (8 bytes a value, not a Python float each)."""
    header = [name.strip() for name in next(reader, [])]
    if not any(header):
        raise MediaError("CSV is empty: no header row")
    index = {}
    for name in (x_name, *y_names):
        if name not in header:
            raise MediaError(f"CSV has no column `{name}` (columns: {_listing(header)})")
        if header.count(name) > 1:
            raise MediaError(f"CSV has {header.count(name)} columns named `{name}`")
        index[name] = header.index(name)
    # Some exporters leave trailing empty cells out: a row needs only the columns used.
    needed = max(index.values()) + 1
    columns = {name: array("d") for name in index}
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) < needed:
            raise MediaError(
                f"CSV line {line} has {len(row)} values; the header has {len(header)} columns"
            )
        columns[x_name].append(_cell(row[index[x_name]], x_name, line, gaps=False))
        for name in y_names:
            columns[name].append(_cell(row[index[name]], name, line, gaps=True))
        if len(columns[x_name]) > MAX_SERIES_POINTS:
            raise MediaError(f"CSV has more than {MAX_SERIES_POINTS:,} rows")
    return columns


def _inline(spec: dict) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    raw_x, raw_series = spec.get("x"), spec.get("series")
    if not isinstance(raw_x, list):
        raise MediaError("inline `x` must be a list of numbers (or give a CSV as `src`)")
    if not isinstance(raw_series, dict) or not raw_series:
        raise MediaError("inline `series` must map each series name to a list of numbers")
    for values in (raw_x, *raw_series.values()):
        if isinstance(values, list) and len(values) > MAX_SERIES_POINTS:
            raise MediaError(f"a series has more than {MAX_SERIES_POINTS:,} points")
    x = _numbers(raw_x, "x", gaps=False)
    y = {}
    for name, values in raw_series.items():
        if not isinstance(values, list):
            raise MediaError(f"series `{name}` must be a list of numbers")
        if len(values) != x.size:
            raise MediaError(f"series `{name}` has {len(values)} values; `x` has {x.size}")
        y[str(name)] = _numbers(values, str(name), gaps=True)
    label = spec.get("x_label")
    x_name = label if isinstance(label, str) and label.strip() else "x"
    _check_points(x_name, x, y, "points")
    return x_name, x, y


def _numbers(values: Sequence[object], name: str, *, gaps: bool) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if value is None and gaps:
            out[i] = np.nan
        elif _is_number(value) and math.isfinite(value):
            out[i] = float(value)
        else:
            raise MediaError(f"`{name}` value {i + 1} is not a number: {value!r:.40}")
    return out


def _cell(raw: str, column: str, line: int, *, gaps: bool) -> float:
    cell = raw.strip()
    if gaps and cell.lower() in _MISSING:
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise MediaError(f"CSV line {line}, column `{column}`: `{cell:.40}` is not a number")
    return value


def _check_points(x_name: str, x: np.ndarray, y: dict[str, np.ndarray], what: str) -> None:
    if x.size < 2:
        raise MediaError(f"a time series needs at least 2 {what}; this one has {x.size}")
    backwards = np.flatnonzero(np.diff(x) < 0)
    if backwards.size:
        at = int(backwards[0]) + 1
        raise MediaError(
            f"`{x_name}` must not decrease: point {at + 1} ({x[at]:g}) comes after {x[at - 1]:g}"
        )
    for name, values in y.items():
        if np.count_nonzero(np.isfinite(values)) < 1:
            raise MediaError(f"series `{name}` has no numbers, only gaps")


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab: whichever the header line uses most (comma on a tie)."""
    header = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=header.count)


def _listing(names: Iterable[str], limit: int = 12) -> str:
    names = [n for n in names if n]
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
