"""`quorum import`: items into a project, all or nothing."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.context import open_context
from bot.cli.output import console, fail, progress_bar
from storage.db import session_scope


def import_items(
    file: Path | None = typer.Argument(
        None, help="Items as JSONL (one object per line), CSV or Parquet (a row each)."
    ),
    project: str = typer.Option(..., "--project", "-p", help="The project to import into."),
    hf_dataset: Path | None = typer.Option(
        None, "--hf-dataset", help="Items from a `datasets` folder (save_to_disk), a row each."
    ),
    update_changed: bool = typer.Option(
        False,
        "--update-changed",
        help="Replace known ids whose content changed, if nobody has reviewed them yet.",
    ),
) -> None:
    """Import items, all or nothing: any bad line and nothing is stored."""
    from bot.intake.importer import import_records, validate_file
    from bot.intake.reading import is_hf_dataset
    from bot.workflow.project_versions import project_config, require_project

    if (file is None) == (hf_dataset is None):
        raise fail("give a file of items, or --hf-dataset DIR (one of them)")
    if hf_dataset is not None:
        if not is_hf_dataset(hf_dataset):
            raise fail(
                f"{hf_dataset} is not a `datasets` folder (no state.json): save one with "
                "Dataset.save_to_disk, or export it to Parquet and import that"
            )
        file = hf_dataset
    elif file is not None and not file.is_file() and not is_hf_dataset(file):
        problem = "is a folder" if file.is_dir() else "does not exist"
        raise fail(f"{file} {problem}: give the path of a JSONL, CSV or Parquet file of items.")
    assert file is not None
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
