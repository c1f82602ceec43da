"""The `quorum` command line."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.context import QuorumContext
from bot.settings import Settings, get_settings
from storage.db import make_engine, session_scope, upgrade_schema

app = typer.Typer(help="Quorum: expert annotation of AI data inside Slack.", no_args_is_help=True)
project_app = typer.Typer(help="Create and update projects from YAML files.", no_args_is_help=True)
app.add_typer(project_app, name="project")
console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def open_context(settings: Settings | None = None) -> QuorumContext:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return QuorumContext(engine=engine, settings=settings)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )


@project_app.command("apply")
def project_apply(file: Path = typer.Argument(..., help="The project's YAML file.")) -> None:
    """Create or update a project from its YAML (each change is kept as a new version)."""
    from bot.projects import ProjectConfigError, load_project_file
    from bot.workflow.projects import apply_project

    try:
        config = load_project_file(file)
    except ProjectConfigError as exc:
        raise fail(str(exc)) from None
    ctx = open_context()
    try:
        with session_scope(ctx.engine) as session:
            result = apply_project(session, config, actor=os.environ.get("USER", "cli"))
    except ValueError as exc:
        raise fail(f"{file}: {exc}") from None
    if result.created:
        console.print(f"Created project [bold]{config.name}[/bold] ({config.kind}), version 1.")
    elif result.changed:
        console.print(f"Updated project [bold]{config.name}[/bold] to version {result.version}.")
    else:
        console.print(
            f"Project [bold]{config.name}[/bold] is unchanged (version {result.version})."
        )


@app.command("import")
def import_items(
    file: Path = typer.Argument(..., help="Items as JSONL (one object per line) or CSV."),
    project: str = typer.Option(..., "--project", "-p", help="The project to import into."),
) -> None:
    """Import items, all or nothing: any bad line and nothing is stored."""
    from bot.intake.importer import ImportRejected, import_records, validate_file
    from bot.workflow.projects import UnknownProjectError, project_config, require_project

    if not file.exists():
        raise fail(f"{file}: no such file")
    ctx = open_context()
    try:
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
                    progress=lambda n: bar.advance(task, n),
                )
    except (ImportRejected, UnknownProjectError) as exc:
        raise fail(str(exc)) from None
    console.print(
        f"Imported {report.created} new item(s) into [bold]{project}[/bold]; "
        f"{report.unchanged} already present and unchanged."
    )


@app.command("serve")
def serve(port: int = typer.Option(3000, help="HTTP port for Slack's requests.")) -> None:
    """Run the bot: HTTP mode, or Socket Mode when SLACK_APP_TOKEN is set."""
    from bot.app import Runtime

    settings = get_settings()
    missing = settings.missing_for_serve()
    if missing:
        raise fail(
            f"{missing[0]} is not set; `quorum serve` needs a Slack workspace "
            "(README: 'Connect a real Slack workspace'). Run `quorum demo` to try Quorum offline."
        )
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runtime = Runtime(open_context(settings))
    runtime.start_background()
    try:
        if settings.slack_app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            console.print("Quorum is running in Socket Mode.")
            SocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value()).start()
        else:
            http = runtime.start_http(port=port, host="0.0.0.0")
            console.print(f"Quorum is listening on {http.url}/slack/events (health: /healthz).")
            runtime.wait_for_signal()
    finally:
        runtime.stop()


@app.command("demo")
def demo(
    accuracy: float = typer.Option(0.85, help="How often a simulated reviewer answers right."),
    seed: int = typer.Option(7, help="Random seed for the simulated reviewers."),
    workdir: Path = typer.Option(
        Path("quorum-demo"), help="Where the demo's database and export go."
    ),
) -> None:
    """The whole loop offline: example projects, a local Slack emulator, simulated reviewers."""
    from bot.demo import run_demo

    run_demo(workdir=workdir, accuracy=accuracy, seed=seed, console=console)


@app.command("export")
def export(
    project: str = typer.Option(..., "--project", "-p"),
    format: str = typer.Option("labels", "--format", "-f", help="labels"),  # noqa: A002
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file (default: stdout)."),
) -> None:
    """Export signed-off labels for training and evaluation."""
    from bot.exports.labels import export_labels
    from bot.workflow.projects import UnknownProjectError

    ctx = open_context()
    handle = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        count = export_labels(ctx.engine, project=project, out=handle)
    except UnknownProjectError as exc:
        raise fail(str(exc)) from None
    finally:
        if out:
            handle.close()
    if out:
        console.print(f"Wrote {count} label(s) to {out}.")


@app.command("status")
def status(project: str | None = typer.Option(None, "--project", "-p")) -> None:
    """Items by state, per project."""
    from bot.reports import project_status_table

    ctx = open_context()
    console.print(project_status_table(ctx.engine, project))


if __name__ == "__main__":
    app()
