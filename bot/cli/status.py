"""`quorum status`: items by state per project, delivery to Slack, and with --project the
reviewers' quality and agreement."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.context import open_context
from bot.cli.output import console, fail
from bot.runtime.context import QuorumContext


def status(
    project: str | None = typer.Option(None, "--project", "-p"),
    plot: Path | None = typer.Option(
        None, "--plot", help="With --project: write agreement and throughput per day (PNG)."
    ),
) -> None:
    """Items by state, per project; with --project also reviewer quality and agreement."""
    from bot.cli.render.delivery import delivery_status_table
    from bot.cli.render.reports import project_status_table

    if plot is not None and project is None:
        raise fail("--plot needs --project NAME: the figure is of one project")
    ctx = open_context()
    console.print(project_status_table(ctx.engine, project))
    if project is not None:
        _print_project_quality(ctx, project, plot)
    console.print(delivery_status_table(ctx.engine, ctx.clock.now()))


def _print_project_quality(ctx: QuorumContext, project: str, plot: Path | None) -> None:
    from bot.cli.render.plots import plot_quality
    from bot.cli.render.quality import agreement_table, reviewer_table
    from bot.workflow.project_versions import UnknownProjectError
    from bot.workflow.quality_report import load_project_quality

    try:
        quality = load_project_quality(ctx.engine, project)
    except UnknownProjectError as exc:
        raise fail(str(exc)) from None
    console.print(reviewer_table(quality))
    console.print(agreement_table(quality))
    if plot is not None:
        plot_quality(quality, plot)
        console.print(f"Wrote agreement and throughput per day to {plot}.")
