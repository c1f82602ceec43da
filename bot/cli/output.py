"""Where the commands write: the console for results, stderr for errors and progress."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.runtime.errors import UserError

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2, *, fix: str | None = None) -> UserError:
    """The error to raise (`raise fail("...")`); bot/cli/main.py prints it and exits
    with `code`."""
    error = UserError(message, fix)
    error.exit_code = code
    return error


def progress_bar() -> Progress:
    """A progress bar on stderr, so stdout stays clean for what a command exports."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )
