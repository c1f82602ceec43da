"""`quorum project apply`: create or update a project from its YAML."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from bot.cli.context import open_context
from bot.cli.output import console, fail
from storage.db import session_scope

app = typer.Typer(help="Create and update projects from YAML files.", no_args_is_help=True)


@app.command("apply")
def project_apply(file: Path = typer.Argument(..., help="The project's YAML file.")) -> None:
    """Create or update a project from its YAML (each change is kept as a new version)."""
    from bot.config.project import ProjectConfigError, load_project_file
    from bot.workflow.project_versions import ProjectRefused, apply_project
    from bot.workflow.review.release import release_removed_reviewers

    try:
        config = load_project_file(file)
    except ProjectConfigError as exc:
        raise fail(str(exc)) from None
    ctx = open_context()
    actor = os.environ.get("USER", "cli")
    try:
        with session_scope(ctx.engine) as session:
            result = apply_project(session, config, actor=actor)
            moved = release_removed_reviewers(
                session, result, actor=actor, now=ctx.clock.now(), rng=ctx.rng
            )
    except ProjectRefused as exc:
        raise fail(f"{file}: {exc}") from None
    if result.created:
        console.print(f"Created project [bold]{config.name}[/bold] ({config.kind}), version 1.")
    elif result.changed:
        console.print(f"Updated project [bold]{config.name}[/bold] to version {result.version}.")
        if result.removed_reviewers:
            console.print(
                f"Removed from the reviewers: {', '.join(result.removed_reviewers)}; "
                f"{moved} pending item(s) moved to others."
            )
        if result.requeued:
            console.print(f"{result.requeued} failed item(s) are queued again.")
    else:
        console.print(
            f"Project [bold]{config.name}[/bold] is unchanged (version {result.version})."
        )
