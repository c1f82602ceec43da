"""The table of `quorum simulate`: one row per set of rules."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from bot.workflow.decision.simulate import Report


def _figure(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


SHORT = {"agreement": "agreement", "min_confidence": "min conf", "overlap": "overlap"}


def simulation_table(project: str, reports: Sequence[Report]) -> Table:
    table = Table(
        title=f"quorum simulate: {project}, {reports[0].items:,} items",
        caption="auto: signed off without a lead · acc, acc all: accuracy against gold, of the "
        "auto-signed and of all signed-off labels (a lead's decision counted right) · "
        "ans: answers per item · ECE: expected calibration error of the auto-signed "
        "labels' confidence",
    )
    keys = list(reports[0].config)
    for key in keys:
        table.add_column(SHORT.get(key, key), justify="right", no_wrap=True)
    for name in ("auto", "acc", "acc all", "ans", "leads", "ECE"):
        table.add_column(name, justify="right", no_wrap=True)
    for report in reports:
        rules = ["none" if report.config[k] is None else f"{report.config[k]:g}" for k in keys]
        table.add_row(
            *rules,
            f"{report.auto_signed_share:.1%}",
            _figure(report.auto_signed_accuracy),
            _figure(report.signed_accuracy),
            f"{report.answers_per_item:.2f}",
            f"{report.lead_share:.1%}",
            _figure(report.ece),
        )
    return table
