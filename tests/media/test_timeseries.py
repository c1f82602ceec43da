"""Time series: loaded from a CSV or inline, refused with the line and column at fault,
summarised, and drawn one panel per series with the model's window shaded."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.media.errors import MediaError
from bot.media.timeseries import Series, chart_figure, chart_png, load, summary

SPEC = {"src": "ecg/9.csv", "x": "t", "y": ["lead_ii"], "window": [4.0, 6.0], "unit": "mV"}


def _csv(rows: int = 11, header: str = "t,lead_i,lead_ii") -> bytes:
    lines = [header] + [f"{i},{i * 0.1:.1f},{(i % 3) * 0.5}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _series(n: int = 1001, names: tuple[str, ...] = ("lead_ii",), window=(4.0, 6.0)) -> Series:
    x = np.linspace(0.0, 10.0, n)
    return Series(x=x, y={name: np.sin(x) for name in names}, x_name="t", window=window, unit="mV")


def test_a_csv_is_read_by_the_columns_the_spec_names():
    series = load(SPEC, _csv())
    assert series.x_name == "t" and list(series.y) == ["lead_ii"]
    assert series.x.tolist() == list(range(11))
    assert series.y["lead_ii"][:4].tolist() == [0.0, 0.5, 1.0, 0.0]
    assert (series.window, series.unit) == ((4.0, 6.0), "mV")


def test_semicolon_csvs_with_a_bom_are_read_too():
    data = "\ufefft;lead_ii\n0;1.5\n1;2.5\n".encode()
    assert load(SPEC | {"window": None}, data).y["lead_ii"].tolist() == [1.5, 2.5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"t,lead_i\n0,1\n1,2\n", "CSV has no column `lead_ii` (columns: t, lead_i)"),
        (b"t,lead_ii\n0,1\n1,abc\n", "CSV line 3, column `lead_ii`: `abc` is not a number"),
        (b"t,lead_ii\n0,1\n", "at least 2 CSV data rows; this one has 1"),
        (b"t,lead_ii\n0,1\n2,1\n1,1\n", "`t` must not decrease"),
        (b"t,lead_ii\n0,\n1,\n", "series `lead_ii` has no numbers"),
        (b"t,lead_ii\n0,1\n1\n", "CSV line 3 has 1 values; the header has 2 columns"),
        (b"", "CSV is empty"),
    ],
)
def test_a_bad_csv_is_refused_saying_where(data, message):
    with pytest.raises(MediaError) as refused:
        load(SPEC | {"window": None}, data)
    assert message in str(refused.value)


def test_blank_cells_are_gaps_not_errors():
    series = load(SPEC | {"window": None}, b"t,lead_ii\n0,1\n1,\n2,3\n")
    assert np.isnan(series.y["lead_ii"][1])
    assert summary(series)["lead_ii"]["n"] == 2


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ([14.5, 12.0], "ends (12) before it starts (14.5)"),
        ([1], "two numbers"),
        ([20.0, 30.0], "lies outside the data (t runs from 0 to 10)"),
    ],
)
def test_a_window_that_makes_no_sense_is_refused(window, message):
    with pytest.raises(MediaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(SPEC | {"window": window}, _csv())


def test_an_inline_series_needs_equal_lengths_of_numbers():
    spec = {"x": [0, 1, 2], "series": {"lead_ii": [0.1, None, 0.3]}, "window": [0, 1]}
    assert load(spec, None).rows == 3
    with pytest.raises(MediaError, match="series `lead_ii` has 2 values; `x` has 3"):
        load(spec | {"series": {"lead_ii": [0.1, 0.2]}}, None)
    with pytest.raises(MediaError, match="`lead_ii` value 2 is not a number: 'high'"):
        load(spec | {"series": {"lead_ii": [0.1, "high", 0.2]}}, None)
    with pytest.raises(MediaError, match="`x` value 1 is not a number"):
        load(spec | {"x": [True, 1, 2]}, None)


def test_each_series_may_have_its_own_unit():
    spec = {"x": [0, 1], "series": {"hr": [60, 61], "spo2": [97, 96]}, "x_label": "time (s)"}
    series = load(spec | {"unit": {"hr": "bpm", "spo2": "%"}}, None)
    figure = chart_figure(series)
    assert [axes.get_ylabel() for axes in figure.axes] == ["hr (bpm)", "spo2 (%)"]
    assert figure.axes[-1].get_xlabel() == "time (s)"


def test_summary_gives_whole_and_in_window_figures():
    x = np.arange(10.0)
    values = np.array([0, 1, 2, 3, 9, 5, 6, 7, 8, 4], dtype=float)
    series = Series(x=x, y={"v": values}, x_name="t", window=(3.0, 5.0))
    assert summary(series) == {
        "v": {
            "n": 10,
            "min": 0.0,
            "max": 9.0,
            "mean": 4.5,
            "window_n": 3,
            "window_mean": pytest.approx(17 / 3),
            "window_max": 9.0,
        }
    }
    assert "window_mean" not in summary(Series(x=x, y={"v": values}))["v"]


def test_one_panel_per_series_up_to_the_limit_and_a_note_of_the_rest():
    names = ("lead_i", "lead_ii", "lead_iii", "avr", "avl", "avf")
    figure = chart_figure(_series(names=names), max_panels=4)
    assert [axes.get_ylabel() for axes in figure.axes] == [
        "lead_i (mV)",
        "lead_ii (mV)",
        "lead_iii (mV)",
        "avr (mV)",
    ]
    notes = [text.get_text() for text in figure.texts]
    assert "2 more series not shown: avl, avf" in notes


def test_the_window_is_shaded_and_labelled():
    series = _series(window=(4.0, 6.0))
    figure = chart_figure(series)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    image = Image.open(io.BytesIO(png.getvalue())).convert("RGB")
    (axes,) = figure.axes
    to_pixels = axes.get_xaxis_transform()  # x in data, y as a share of the panel height

    def colour(x: float) -> tuple[int, int, int]:
        # Four fifths up the panel: clear of sin(x) at these x and of the grid lines.
        px, py = to_pixels.transform((x, 0.8))
        return image.getpixel((int(px), image.height - int(py)))

    inside, outside = colour(5.0), colour(9.0)
    assert outside == (255, 255, 255)
    assert inside != outside and inside[0] > inside[2] + 40  # an orange tint
    assert any("model window 4–6" in text.get_text() for text in axes.texts)


def test_a_small_window_is_shown_zoomed_with_context():
    figure = chart_figure(_series(window=(5.0, 5.2)))
    assert figure.axes[0].get_xlim() == pytest.approx((4.6, 5.6))
    assert "Around the model window" in figure.get_suptitle()


def test_long_series_are_drawn_with_few_points_but_every_peak():
    x = np.arange(1_000_000, dtype=float)
    y = np.random.default_rng(3).normal(0.0, 1.0, x.size)
    y[123_457] = 50.0  # one spike in a million points
    y[765_431] = -40.0
    figure = chart_figure(Series(x=x, y={"v": y}), max_points=2000)
    (line,) = figure.axes[0].lines
    drawn = line.get_ydata()
    assert len(drawn) <= 2000
    assert drawn.max() == 50.0 and drawn.min() == -40.0


def test_the_chart_is_a_png():
    image = Image.open(io.BytesIO(chart_png(_series(names=("a", "b")))))
    assert image.format == "PNG" and image.width == 1200


def test_names_from_the_data_are_drawn_as_they_are_not_as_math():
    series = load(
        {"x": [0, 1, 2, 3], "series": {"$\\oops$": [1.0, 2.0, 3.0, 4.0]}, "unit": "$"}, None
    )
    figure = chart_figure(series)
    figure.canvas.draw()  # a formula would be parsed here, and this one raises
    assert figure.axes[0].get_ylabel() == "\\$\\oops\\$ (\\$)"
