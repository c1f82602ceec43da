"""The `quorum` command line: the typer app, with each command group bound from its module,
and the one place where a failure a person can fix is printed (in a line or two, exit 2;
`quorum --debug …` adds the traceback)."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import typer
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import TyperException

from bot.cli import (
    audit,
    calibrate,
    demo,
    export,
    items,
    project,
    serve,
    simulate,
    status,
    tokens,
    webhooks,
    worker,
)
from bot.cli.failures import layer_error
from bot.cli.output import errors
from bot.runtime.errors import UserError

DEBUG = "quorum.debug"


class QuorumGroup(TyperGroup):
    """Runs every command; a UserError (or a layer's error for a person's mistake) is
    printed here, once, instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored click) Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):  # typer's own: usage errors, exits
            raise
        except Exception as exc:
            failure = layer_error(exc)
            if failure is None:
                raise  # not foreseen: a bug, whose traceback is the report
            report(failure, exc, debug=bool(ctx.meta.get(DEBUG)))
            raise typer.Exit(failure.exit_code) from None


def report(failure: UserError, exc: BaseException, *, debug: bool) -> None:
    """`error: <problem>` and, indented below, the fix; with --debug the traceback first."""
    if debug:
        sys.stderr.write("".join(traceback.format_exception(exc)))
        sys.stderr.flush()
    errors.print(Text("error: ", style="red") + Text(failure.problem), soft_wrap=True)
    if failure.fix:
        errors.print(Text(f"  {failure.fix}"), soft_wrap=True)


app = typer.Typer(
    cls=QuorumGroup,
    help="Quorum: expert annotation of AI data inside Slack.",
    no_args_is_help=True,
)


@app.callback()
def main(
    ctx: typer.Context,
    debug: bool = typer.Option(
        False,
        "--debug",
        envvar="QUORUM_DEBUG",
        help="On a failure, also print the full traceback.",
    ),
) -> None:
    """Quorum: expert annotation of AI data inside Slack."""
    ctx.meta[DEBUG] = debug


app.command("import")(items.import_items)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("demo")(demo.demo)
app.command("calibrate")(calibrate.calibrate)
app.command("simulate")(simulate.simulate)
app.command("export")(export.export)
app.command("provenance")(audit.provenance)
app.command("status")(status.status)
app.add_typer(project.app, name="project")
app.add_typer(tokens.app, name="token")
app.add_typer(webhooks.app, name="webhook")
app.add_typer(audit.app, name="audit")


if __name__ == "__main__":
    app()
