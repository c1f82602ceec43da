"""The benchmarks' progress display: one rich bar for the step under way, a line for each
finished step."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class Ui:
    """A rich progress bar for the current step and a line per finished step."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("starting", total=1)

    def progress(self, description: str, total: int) -> Callable[[int], None]:
        self.bar.reset(self.task, description=description, total=max(1, total), completed=0)

        def update(done: int) -> None:
            self.bar.update(self.task, completed=min(done, total))

        return update

    def log(self, text: str) -> None:
        self.console.print(text)
