"""`quorum status --project NAME` on the terminal: reviewer quality and agreement as
tables."""

from __future__ import annotations

from rich.table import Table

from bot.workflow.quality_report import AnswerTally, ProjectQuality


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} s" if value < 90 else f"{value / 60:.1f} min"


# The columns `_tallied` fills, in its order.
TALLY_COLUMNS = ("gold accuracy", "agrees with final", "overturned by lead", "overruled in review")


def _tallied(stats: AnswerTally) -> tuple[str, str, str, str]:
    """Gold accuracy, agreement with final labels, lead overturns and review overrules,
    with their counts."""
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
    overruled = (
        f"{stats.review_overruled} of {stats.review_decided}" if stats.review_decided else "–"
    )
    return gold, final, overturned, overruled


def requirement_table(quality: ProjectQuality) -> Table:
    """The answers by what their items require (a language, a skill, or nothing)."""
    table = Table(title=f"Answers by requirement in {quality.project}")
    table.add_column("requires", style="bold")
    for column in ("items", "reviewers", "answers", *TALLY_COLUMNS):
        table.add_column(column, justify="right")
    for group in quality.by_requirement:
        table.add_row(
            group.requirement,
            f"{group.items:,}",
            f"{group.reviewers:,}",
            f"{group.answered:,}",
            *_tallied(group),
        )
    return table


def reviewer_table(quality: ProjectQuality) -> Table:
    table = Table(title=f"Reviewers of {quality.project}")
    table.add_column("reviewer", style="bold")
    for column in ("answered", "median time", *TALLY_COLUMNS, "Dawid-Skene reliability"):
        table.add_column(column, justify="right")
    for stats in quality.reviewers:
        table.add_row(
            stats.reviewer,
            str(stats.answered),
            _seconds(stats.median_seconds),
            *_tallied(stats),
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
