"""`quorum audit verify | checkpoint` and `quorum provenance`: the tamper-evident audit
trail, checked and pinned, and one item's history read from it."""

from __future__ import annotations

import sys

import typer
from sqlalchemy import Engine

from bot.cli.context import open_context
from bot.cli.output import console
from bot.runtime.settings import get_settings
from storage.db import session_scope

app = typer.Typer(help="Verify and pin the tamper-evident audit trail.", no_args_is_help=True)


def _project_id(engine: Engine, name: str | None) -> int | None:
    from sqlmodel import Session

    from bot.workflow.project_versions import require_project

    if name is None:
        return None
    with Session(engine) as session:
        return require_project(session, name).id


@app.command("verify")
def audit_verify(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
) -> None:
    """Walk every event chain and checkpoint; exit 1 at the first sign of tampering."""
    from bot.audit.verify import verify_trail
    from bot.cli.render.audit import render_verify_report

    ctx = open_context()
    project_id = _project_id(ctx.engine, project)
    report = verify_trail(ctx.engine, key=ctx.settings.quorum_audit_key, project_id=project_id)
    console.print(render_verify_report(report))
    if not report.intact:
        raise typer.Exit(1)


@app.command("checkpoint")
def audit_checkpoint(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
) -> None:
    """Sign the current head of every chain, so deleting a whole history is caught later."""
    from bot.audit.chain import write_checkpoint
    from storage import queries

    settings = get_settings()  # refused before the database is touched
    settings.require_own_secrets("QUORUM_AUDIT_KEY", command="quorum audit checkpoint")
    ctx = open_context(settings)
    project_id = _project_id(ctx.engine, project)
    with session_scope(ctx.engine) as session:
        targets = [p for p in queries.list_projects(session) if project_id in (None, p.id)]
        for target in targets:
            assert target.id is not None  # a row read from the table has its key
            checkpoint = write_checkpoint(
                session, target.id, ctx.clock.now(), ctx.settings.quorum_audit_key
            )
            console.print(
                f"Checkpoint {checkpoint.id} for [bold]{target.name}[/bold]: "
                f"{len(checkpoint.heads):,} chain head(s), hash {checkpoint.hash[:16]}…"
            )
    if not targets:
        console.print("No project yet: nothing to checkpoint.")


def provenance(
    item_id: str = typer.Argument(..., help="The item's id, as imported."),
    project: str | None = typer.Option(None, "--project", "-p", help="The item's project."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a timeline."),
) -> None:
    """One item's whole history: who decided what, when, under which rules."""
    from bot.audit.provenance import item_history
    from bot.cli.render.provenance import render_history

    ctx = open_context()
    history = item_history(ctx.engine, item_id, project=project)
    if as_json:
        import json

        sys.stdout.write(json.dumps(history, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        console.print(render_history(history))
