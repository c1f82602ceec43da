"""Figures the commands write as PNG: the reliability diagram of `quorum calibrate
--plot` and agreement and throughput per day of `quorum status --plot`."""

from __future__ import annotations

from pathlib import Path

from bot.quality.calibration import Bucket
from bot.workflow.quality_report import ProjectQuality


def plot_reliability(
    table: list[Bucket],
    path: str,
    *,
    title: str = "Reliability diagram",
    threshold: float | None = None,
    proposed: float | None = None,
    confidence_label: str = "Model confidence",
    accuracy_label: str = "Accuracy (human label agrees)",
) -> None:
    """Write a reliability diagram (accuracy per bucket against the diagonal, item counts
    below) as PNG. Uses the Agg canvas directly: no pyplot state, no display needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 6.5), dpi=120)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = table[0].high - table[0].low if table else 0.1
    centres = [(b.low + b.high) / 2 for b in table]
    filled = [b for b in table if b.accuracy is not None]
    top.bar(
        [(b.low + b.high) / 2 for b in filled],
        [b.accuracy for b in filled],
        width=width * 0.9,
        color="#4c78a8",
        edgecolor="white",
        label="accuracy",
    )
    top.plot([0, 1], [0, 1], linestyle="--", color="#888888", label="perfect calibration")
    for value, name, colour in (
        (threshold, "current", "#e45756"),
        (proposed, "proposed", "#54a24b"),
    ):
        if value is not None:
            for axis in (top, bottom):
                axis.axvline(value, color=colour, linewidth=1.2)
            top.text(
                value,
                0.5,
                f"{name} {value:.2f}",
                color=colour,
                fontsize=8,
                rotation=90,
                ha="right",
                va="center",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
            )
    top.set_ylim(0, 1.08)
    top.set_ylabel(accuracy_label)
    top.set_title(title)
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(centres, [b.items for b in table], width=width * 0.9, color="#9d9d9d")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel(confidence_label)
    bottom.set_ylabel("Items")
    figure.tight_layout()
    figure.savefig(path, format="png")


def plot_quality(quality: ProjectQuality, path: Path) -> Path:
    """Agreement and throughput per day, as a PNG (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    days = [p.day for p in quality.daily]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, constrained_layout=True)
    fig.suptitle(f"{quality.project}: agreement and throughput per day")
    agreed = [(p.day, p.mean_agreement) for p in quality.daily if p.mean_agreement is not None]
    if agreed:
        top.plot(
            [d for d, _ in agreed],
            [a for _, a in agreed],
            marker="o",
            color="tab:blue",
            label="mean agreement of items signed off",
        )
    top.set_ylim(0, 1.05)
    top.set_ylabel("agreement")
    top.grid(alpha=0.3)
    top.legend(loc="lower left")
    if not agreed:
        top.text(0.5, 0.5, "no signed-off items yet", ha="center", transform=top.transAxes)
    width = 0.4
    offsets = [mdates.date2num(d) for d in days]
    bottom.bar(
        [x - width / 2 for x in offsets],
        [p.answers for p in quality.daily],
        width,
        label="answers",
        color="tab:green",
    )
    bottom.bar(
        [x + width / 2 for x in offsets],
        [p.signed_off for p in quality.daily],
        width,
        label="items signed off",
        color="tab:orange",
    )
    bottom.set_ylabel("per day")
    bottom.grid(alpha=0.3, axis="y")
    bottom.legend(loc="upper left")
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    bottom.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=10))
    fig.autofmt_xdate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
