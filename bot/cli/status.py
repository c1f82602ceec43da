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
    if project is not None:
        _require_project(ctx, project)  # before any table: the error is all that is printed
    console.print(project_status_table(ctx.engine, project))
    _print_dispatch_problems(ctx, project)
    if project is not None:
        _print_project_quality(ctx, project, plot)
    console.print(delivery_status_table(ctx.engine, ctx.clock.now()))


def _require_project(ctx: QuorumContext, project: str) -> None:
    from sqlmodel import Session

    from bot.workflow.project_versions import require_project

    with Session(ctx.engine) as session:
        require_project(session, project)


def _print_dispatch_problems(ctx: QuorumContext, project: str | None) -> None:
    """Items that could not be sent, with why, and projects that cannot staff items."""
    from rich.markup import escape
    from rich.table import Table

    from bot.workflow.intake.problems import dispatch_problems

    problems = dispatch_problems(ctx.engine, project)
    for name, why in problems.understaffed:
        console.print(f"[yellow]Project {name} cannot staff its items:[/yellow] {escape(why)}")
    if problems.waiting:
        waiting = Table(title="Items waiting for qualified reviewers (topped up as people qualify)")
        for column in ("project", "reason", "items", "e.g."):
            waiting.add_column(
                column, overflow="fold", justify="right" if column == "items" else "left"
            )
        for row in problems.waiting:
            waiting.add_row(row.project, escape(row.reason), f"{row.items:,}", escape(row.example))
        console.print(waiting)
    if not problems.failed_total:
        return
    table = Table(title=f"Failed items ({problems.failed_total}): not sent, waiting for a fix")
    for column in ("project", "item", "reason"):
        table.add_column(column, overflow="fold")
    for failed in problems.failed:
        table.add_row(failed.project, escape(failed.external_id), escape(failed.reason))
    console.print(table)
    console.print("Fix the project file and `quorum project apply` it: failed items are retried.")


def _print_project_quality(ctx: QuorumContext, project: str, plot: Path | None) -> None:
    from bot.cli.render.plots import plot_quality
    from bot.cli.render.quality import agreement_table, requirement_table, reviewer_table
    from bot.workflow.project_versions import UnknownProjectError
    from bot.workflow.quality_report import load_project_quality

    try:
        quality = load_project_quality(ctx.engine, project)
    except UnknownProjectError as exc:
        raise fail(str(exc)) from None
    console.print(reviewer_table(quality))
    if quality.by_requirement:
        console.print(requirement_table(quality))
    console.print(agreement_table(quality))
    if plot is not None:
        plot_quality(quality, plot)
        console.print(f"Wrote agreement and throughput per day to {plot}.")
