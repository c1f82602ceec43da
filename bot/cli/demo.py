"""`quorum demo`: the whole review loop offline, against a local Slack emulator."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.logs import configure_logging
from bot.cli.output import console
from bot.runtime.settings import get_settings


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

    # Quiet unless asked (QUORUM_LOG_LEVEL): the demo's output is its progress and summary.
    configure_logging(get_settings(), default="WARNING")
    run_demo(workdir=workdir, accuracy=accuracy, seed=seed, console=console, llm_stub=llm_stub)
