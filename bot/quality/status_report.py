"""`quorum status --project NAME`: reviewer quality and agreement as rich tables, and
agreement and throughput over time as a matplotlib figure."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session

from bot.quality.reviewer_stats import ProjectQuality, project_quality
from bot.workflow.project_versions import require_project


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} s" if value < 90 else f"{value / 60:.1f} min"


def reviewer_table(quality: ProjectQuality) -> Table:
    table = Table(title=f"Reviewers of {quality.project}")
    table.add_column("reviewer", style="bold")
    for column in (
        "answered",
        "median time",
        "gold accuracy",
        "agrees with final",
        "overturned by lead",
        "Dawid-Skene reliability",
    ):
        table.add_column(column, justify="right")
    for stats in quality.reviewers:
        gold = (
            f"{_share(stats.gold_accuracy)} ({stats.gold_correct}/{stats.gold_answered})"
            if stats.gold_answered
            else "–"
        )
        final = (
            f"{_share(stats.agreement_with_final)} ({stats.final_agreed}/{stats.final_compared})"
            if stats.final_compared
            else "–"
        )
        overturned = (
            f"{stats.overturned} of {stats.lead_decided} ({_share(stats.overturn_rate)})"
            if stats.lead_decided
            else "–"
        )
        table.add_row(
            stats.reviewer,
            str(stats.answered),
            _seconds(stats.median_seconds),
            gold,
            final,
            overturned,
            _number(stats.reliability),
        )
    if not quality.reviewers:
        table.caption = "No answers yet."
    return table


def agreement_table(quality: ProjectQuality) -> Table:
    table = Table(title=f"Agreement in {quality.project} ({quality.kind})", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_row("items / answers", f"{quality.items} / {quality.answers}")
    methods = ", ".join(f"{m} {n}" for m, n in sorted(quality.labels_by_method.items()))
    table.add_row("signed off by method", methods or "–")
    table.add_row("mean item agreement", _number(quality.mean_item_agreement))
    for name, value in quality.alpha.items():
        table.add_row(f"Krippendorff's alpha, {name}", _number(value, 3))
    for facet, value in quality.fleiss_kappa.items():
        label = "Fleiss' kappa" if len(quality.fleiss_kappa) == 1 else f"Fleiss' kappa ({facet})"
        table.add_row(label, _number(value, 3))
    if not quality.alpha and not quality.fleiss_kappa:
        table.add_row("alpha / kappa", "n/a (needs items with two or more answers)")
    bias = quality.position_bias
    if bias is not None:
        table.add_row(
            "chose the response shown first",
            f"{bias.rate:.0%} of {bias.n} (95% CI {bias.ci_low:.0%}–{bias.ci_high:.0%}, "
            f"p = {bias.p_value:.3f})",
        )
    return table


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


def load_project_quality(engine: Engine, name: str) -> ProjectQuality:
    """The quality report of one project; UnknownProjectError names the known ones."""
    with Session(engine) as session:
        return project_quality(session, require_project(session, name))
