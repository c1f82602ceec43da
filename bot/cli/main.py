"""The `quorum` command line."""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.runtime.context import QuorumContext
from bot.runtime.settings import Settings, get_settings
from storage.db import make_engine, session_scope, upgrade_schema

app = typer.Typer(help="Quorum: expert annotation of AI data inside Slack.", no_args_is_help=True)
project_app = typer.Typer(help="Create and update projects from YAML files.", no_args_is_help=True)
app.add_typer(project_app, name="project")
audit_app = typer.Typer(help="Verify and pin the tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
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
    from bot.config.project import ProjectConfigError, load_project_file
    from bot.workflow.project_versions import apply_project

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
    update_changed: bool = typer.Option(
        False,
        "--update-changed",
        help="Replace known ids whose content changed, if nobody has reviewed them yet.",
    ),
) -> None:
    """Import items, all or nothing: any bad line and nothing is stored."""
    from bot.intake.importer import ImportRejected, import_records, validate_file
    from bot.workflow.project_versions import UnknownProjectError, project_config, require_project

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
                    now=ctx.clock.now(),
                    update_changed=update_changed,
                    progress=lambda n: bar.advance(task, n),
                )
    except (ImportRejected, UnknownProjectError) as exc:
        raise fail(str(exc)) from None
    updated = f"; {report.updated} updated" if report.updated else ""
    console.print(
        f"Imported {report.created} new item(s) into [bold]{project}[/bold]; "
        f"{report.unchanged} already present and unchanged{updated}."
    )


@app.command("serve")
def serve(
    port: int = typer.Option(3000, help="HTTP port for Slack's requests."),
    host: str = typer.Option("0.0.0.0", help="Interface to listen on (127.0.0.1: this host only)."),
) -> None:
    """Run the bot: HTTP mode, or Socket Mode when SLACK_APP_TOKEN is set."""
    from bot.runtime.app import Runtime

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

            handler = SocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value())
            handler.connect()  # in the background, so SIGTERM reaches runtime.stop() below
            console.print("Quorum is running in Socket Mode.")
            try:
                runtime.wait_for_signal()
            finally:
                handler.close()
        else:
            http = runtime.start_http(port=port, host=host)
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
    llm_stub: bool = typer.Option(
        False, "--llm-stub", help="Pre-label items with a local OpenAI-compatible stub."
    ),
) -> None:
    """The whole loop offline: example projects, a local Slack emulator, simulated reviewers."""
    from bot.sandbox.demo import run_demo

    run_demo(workdir=workdir, accuracy=accuracy, seed=seed, console=console, llm_stub=llm_stub)


@app.command("calibrate")
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
    from bot.quality.calibration import plot_reliability
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


@app.command("export")
def export(
    project: str = typer.Option(..., "--project", "-p"),
    format: str = typer.Option(  # noqa: A002
        "labels", "--format", "-f", help="labels | ratings | dpo | sft"
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output file (default: stdout)."),
    parquet: bool = typer.Option(False, "--parquet", help="Write Parquet to --out, not JSONL."),
    hf_dataset: Path | None = typer.Option(
        None, "--hf-dataset", help="Write a Hugging Face dataset folder (save_to_disk) here."
    ),
    ties_out: Path | None = typer.Option(
        None, "--ties-out", help="dpo: write ties and both-bad pairs here (JSONL)."
    ),
    status: list[str] = typer.Option([], "--status", help="signed_off or auto_accepted."),
    method: list[str] = typer.Option([], "--method", help="consensus, lead, auto or gold."),
    date_from: str | None = typer.Option(None, "--from", help="Signed off on/after (ISO date)."),
    date_to: str | None = typer.Option(
        None, "--to", help="Signed off up to (ISO date, inclusive)."
    ),
    min_agreement: float | None = typer.Option(None, "--min-agreement", help="e.g. 0.67"),
    since: bool = typer.Option(
        False, "--since", help="Only labels signed off after the last export of this format."
    ),
    pseudonymise: bool = typer.Option(
        False, "--pseudonymise", help="Replace reviewer and lead ids with stable salted hashes."
    ),
) -> None:
    """Export signed-off labels for training and evaluation, streamed, with provenance."""
    from bot.exports.outputs import open_outputs, parse_when
    from bot.exports.run import ExportRequest, run_export
    from bot.exports.writers import ExportError
    from bot.workflow.project_versions import UnknownProjectError

    try:
        request = ExportRequest(
            project=project,
            format=format,
            statuses=tuple(status),
            methods=tuple(method),
            signed_from=parse_when(date_from, "--from"),
            signed_before=parse_when(date_to, "--to", end_of_day=True),
            min_agreement=min_agreement,
            since_last_run=since,
            pseudonymise=pseudonymise,
        )
        fmt = request.check()
        ctx = open_context()
        outputs = open_outputs(
            fmt, out=out, parquet=parquet, hf_dataset=hf_dataset, ties_out=ties_out
        )
        with outputs as (sink, ties, where), progress_bar() as bar:
            task = bar.add_task(f"Exporting {format}", total=None)
            result = run_export(
                ctx.engine,
                request,
                sink=sink,
                ties=ties,
                now=ctx.clock.now(),
                salt=ctx.settings.quorum_export_salt,
                output=where,
                actor=os.environ.get("USER", "cli"),
                on_total=lambda n: bar.update(task, total=n),
                on_progress=lambda n: bar.advance(task, n),
            )
    except (ExportError, UnknownProjectError) as exc:
        raise fail(str(exc)) from None
    summary = f"Exported {result.rows:,} {format} row(s) from {result.labels:,} label(s)"
    summary += f" to {where}" if where else ""
    if result.set_aside:
        kept = f"written to {ties_out}" if ties_out else "left out"
        summary += f"; {result.set_aside:,} tie/both-bad pair(s) {kept}"
    if result.skipped:
        summary += f"; {result.skipped:,} label(s) did not fit the format"
    errors.print(summary + ".", highlight=False, soft_wrap=True)


def _project_id(engine, name: str | None) -> int | None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    from bot.workflow.project_versions import UnknownProjectError, require_project

    if name is None:
        return None
    with Session(engine) as session:
        try:
            return require_project(session, name).id
        except UnknownProjectError as exc:
            raise fail(str(exc)) from None


@audit_app.command("verify")
def audit_verify(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
) -> None:
    """Walk every event chain and checkpoint; exit 1 at the first sign of tampering."""
    from bot.audit.verify import render_report, verify_trail

    ctx = open_context()
    project_id = _project_id(ctx.engine, project)
    report = verify_trail(ctx.engine, key=ctx.settings.quorum_audit_key, project_id=project_id)
    console.print(render_report(report))
    if not report.intact:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
) -> None:
    """Sign the current head of every chain, so deleting a whole history is caught later."""
    from bot.audit.chain import write_checkpoint
    from storage import queries

    ctx = open_context()
    project_id = _project_id(ctx.engine, project)
    with session_scope(ctx.engine) as session:
        targets = [p for p in queries.list_projects(session) if project_id in (None, p.id)]
        for target in targets:
            checkpoint = write_checkpoint(
                session, target.id, ctx.clock.now(), ctx.settings.quorum_audit_key
            )
            console.print(
                f"Checkpoint {checkpoint.id} for [bold]{target.name}[/bold]: "
                f"{len(checkpoint.heads):,} chain head(s), hash {checkpoint.hash[:16]}…"
            )
    if not targets:
        console.print("No project yet: nothing to checkpoint.")


@app.command("provenance")
def provenance(
    item_id: str = typer.Argument(..., help="The item's id, as imported."),
    project: str | None = typer.Option(None, "--project", "-p", help="The item's project."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a timeline."),
) -> None:
    """One item's whole history: who decided what, when, under which rules."""
    from bot.audit.provenance import AmbiguousItemError, UnknownItemError, item_history
    from bot.cli.render.provenance import render_history

    ctx = open_context()
    try:
        history = item_history(ctx.engine, item_id, project=project)
    except (UnknownItemError, AmbiguousItemError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        import json

        sys.stdout.write(json.dumps(history, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        console.print(render_history(history))


@app.command("status")
def status(
    project: str | None = typer.Option(None, "--project", "-p"),
    plot: Path | None = typer.Option(
        None, "--plot", help="With --project: write agreement and throughput per day (PNG)."
    ),
) -> None:
    """Items by state, per project; with --project also reviewer quality and agreement."""
    from bot.cli.render.reports import project_status_table

    if plot is not None and project is None:
        raise fail("--plot needs --project NAME: the figure is of one project")
    ctx = open_context()
    console.print(project_status_table(ctx.engine, project))
    if project is not None:
        _print_project_quality(ctx, project, plot)
    from bot.delivery.status_report import delivery_status_table

    console.print(delivery_status_table(ctx.engine, ctx.clock.now()))


def _print_project_quality(ctx: QuorumContext, project: str, plot: Path | None) -> None:
    from bot.quality.status_report import (
        agreement_table,
        load_project_quality,
        plot_quality,
        reviewer_table,
    )
    from bot.workflow.project_versions import UnknownProjectError

    try:
        quality = load_project_quality(ctx.engine, project)
    except UnknownProjectError as exc:
        raise fail(str(exc)) from None
    console.print(reviewer_table(quality))
    console.print(agreement_table(quality))
    if plot is not None:
        plot_quality(quality, plot)
        console.print(f"Wrote agreement and throughput per day to {plot}.")


if __name__ == "__main__":
    app()
