"""`quorum worker`: the background loops only, for web processes run with --no-background."""

from __future__ import annotations

from bot.cli.context import open_context
from bot.cli.output import console, fail
from bot.cli.serve import configure_logging
from bot.runtime.settings import get_settings


def worker() -> None:
    """Run the background loops (dispatch, delivery, scheduler, LLM assist), no HTTP."""
    from bot.runtime.app import Runtime

    settings = get_settings()
    missing = settings.missing_for_worker()
    if missing:
        raise fail(
            f"{missing[0]} is not set; `quorum worker` sends Slack messages "
            "(README: 'Connect a real Slack workspace')."
        )
    configure_logging()
    runtime = Runtime(open_context(settings))
    try:
        runtime.start_background()
        scheduler = "scheduler" if runtime.scheduler is not None else "scheduler off"
        console.print(
            f"Quorum worker is running: dispatch, delivery, {scheduler}, LLM assist (no HTTP).",
            soft_wrap=True,
        )
        runtime.wait_for_signal()
    finally:
        runtime.stop()
