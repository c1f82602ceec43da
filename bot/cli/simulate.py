"""`quorum simulate`: replay recorded answers through a project's sign-off rules."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bot.cli.output import console, fail


def simulate(
    project: Path = typer.Option(..., "--project", "-p", help="The project file (YAML)."),
    answers: Path = typer.Option(
        ..., "--answers", "-a", help="CSV, TSV or JSONL: item, reviewer, value[, gold, time]."
    ),
    grid: list[str] = typer.Option(
        [],
        "--grid",
        help="Rules to compare, e.g. --grid agreement=0.5,0.67 --grid min_confidence=none,0.99.",
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the report as JSON."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write the reliability diagram of the first rules (PNG)."
    ),
) -> None:
    """What the project's rules would have done with these answers: share auto-signed,
    its accuracy against gold, answers per item, leads' load and calibration."""
    from bot.cli.render.simulation import simulation_table
    from bot.config.project import ProjectConfigError, load_project_file
    from bot.workflow.decision.simulate import AnswersFileError, read_answers
    from bot.workflow.decision.simulate import simulate as run

    try:
        config = load_project_file(project)
        reports = run(config, read_answers(answers), grid)
    except (ProjectConfigError, AnswersFileError) as exc:
        raise fail(str(exc)) from None
    console.print(simulation_table(config.name, reports))
    if out is not None:
        body = reports[0].as_json() if not grid else [r.as_json() for r in reports]
        out.write_text(json.dumps(body, indent=2) + "\n")
        console.print(f"Report written to {out}")
    if plot is not None:
        from bot.cli.render.plots import plot_reliability
        from bot.quality.calibration import Bucket

        first = reports[0]
        table = [
            Bucket(b["low"], b["high"], b["count"], b["count"], b["mean_confidence"], b["accuracy"])
            for b in first.reliability
        ]
        plot_reliability(
            table,
            str(plot),
            title=f"{config.name}: signed-off labels, ECE {first.ece:.3f}"
            if first.ece is not None
            else config.name,
            confidence_label="Reported confidence of the signed-off label",
            accuracy_label="Accuracy against gold",
        )
        console.print(f"Reliability diagram written to {plot}")
