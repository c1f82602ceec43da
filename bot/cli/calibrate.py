"""`quorum calibrate`: how far the model's confidence can be trusted, and a threshold."""

from __future__ import annotations

import math
import os
from pathlib import Path

import typer

from bot.cli.context import open_context
from bot.cli.output import console, fail
from storage.db import session_scope


def calibrate(
    project: str = typer.Option(..., "--project", "-p", help="The project to calibrate."),
    target: float = typer.Option(
        0.95, min=0.5, max=0.999, help="Precision auto-accepted items must keep."
    ),
    level: float = typer.Option(
        0.95, min=0.5, max=0.999, help="Confidence level of the precision's lower bound."
    ),
    bins: int = typer.Option(10, min=2, max=50, help="Confidence buckets in the table."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a reliability diagram (PNG)."),
    apply: bool = typer.Option(
        False, "--apply", help="Store the proposed threshold as a new project config version."
    ),
) -> None:
    """How far the model can be trusted: calibration from human labels, and a threshold."""
    from bot.cli.render.calibration import calibration_renderable
    from bot.cli.render.plots import plot_reliability
    from bot.workflow.feedback import apply_threshold, calibration_report
    from bot.workflow.project_versions import UnknownProjectError

    ctx = open_context()
    try:
        with session_scope(ctx.engine) as session:
            report = calibration_report(session, project, target=target, level=level, bins=bins)
    except UnknownProjectError as exc:
        raise fail(str(exc)) from None
    console.print(calibration_renderable(report))
    proposed = report.proposal.threshold
    if plot is not None:
        plot_reliability(
            report.buckets,
            str(plot),
            title=f"{project}: model confidence vs human labels",
            threshold=report.current_threshold,
            proposed=proposed,
        )
        console.print(f"Wrote the reliability diagram to {plot}.")
    if not apply:
        return
    if proposed is None:
        raise fail("nothing to apply: no threshold reaches the target precision", code=1)
    # Rounded up, so the stored threshold never admits an item the estimate did not cover.
    threshold = math.ceil(proposed * 10_000) / 10_000
    with session_scope(ctx.engine) as session:
        result = apply_threshold(
            session, project, threshold, actor=f"calibrate:{os.environ.get('USER', 'cli')}"[:64]
        )
    if result.changed:
        console.print(
            f"Set routing.confidence_below = {threshold:.4g} for [bold]{project}[/bold] "
            f"(config version {result.version})."
        )
    else:
        console.print(f"The threshold is already {threshold:.4g}; nothing changed.")
