"""The `quorum` command line: the typer app, with each command group bound from its module."""

from __future__ import annotations

import typer

from bot.cli import audit, calibrate, demo, export, items, project, serve, status, worker

app = typer.Typer(help="Quorum: expert annotation of AI data inside Slack.", no_args_is_help=True)
app.command("import")(items.import_items)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("demo")(demo.demo)
app.command("calibrate")(calibrate.calibrate)
app.command("export")(export.export)
app.command("provenance")(audit.provenance)
app.command("status")(status.status)
app.add_typer(project.app, name="project")
app.add_typer(audit.app, name="audit")


if __name__ == "__main__":
    app()
