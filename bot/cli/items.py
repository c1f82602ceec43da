"""`quorum import`: items into a project, all or nothing."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.context import open_context
from bot.cli.output import console, fail, progress_bar
from storage.db import session_scope


def import_items(
    file: Path = typer.Argument(..., help="Items as JSONL (one object per line) or CSV."),
    project: str = typer.Option(..., "--project", "-p", help="The project to import into."),
    update_changed: bool = typer.Option(
        False,
        "--update-changed",
        help="Replace known ids whose content changed, if nobody has reviewed them yet.",
    ),
) -> None:
    """Import items, all or nothing: any bad line and nothing is stored."""
    from bot.intake.importer import import_records, validate_file
    from bot.workflow.project_versions import project_config, require_project

    if not file.is_file():
        problem = "is a folder" if file.is_dir() else "does not exist"
        raise fail(f"{file} {problem}: give the path of a JSONL or CSV file of items.")
    ctx = open_context()
    with session_scope(ctx.engine) as session:
        target = require_project(session, project)
        config = project_config(session, target)
        records = validate_file(file, config)
        with progress_bar() as bar:
            task = bar.add_task(f"Importing {file.name}", total=len(records))
            report = import_records(
                session,
                target,
                records,
                source=str(file),
                now=ctx.clock.now(),
                update_changed=update_changed,
                progress=lambda n: bar.advance(task, n),
            )
    updated = f"; {report.updated} updated" if report.updated else ""
    console.print(
        f"Imported {report.created} new item(s) into [bold]{project}[/bold]; "
        f"{report.unchanged} already present and unchanged{updated}."
    )
