"""`quorum worker`: the background loops only, for web processes run with --no-background."""

from __future__ import annotations

from bot.cli.context import open_context
from bot.cli.logs import configure_logging
from bot.cli.output import console, fail
from bot.cli.serve import start_runtime
from bot.runtime.settings import get_settings
from bot.runtime.supervisor import Signals


def worker() -> None:
    """Run the background loops (dispatch, delivery, scheduler, LLM assist), no HTTP."""
    settings = get_settings()
    missing = settings.missing_for_worker()
    if missing:
        raise fail(
            f"{missing[0]} is not set; `quorum worker` sends Slack messages "
            "(README: 'Connect a real Slack workspace')."
        )
    settings.require_own_secrets("QUORUM_AUDIT_KEY", command="quorum worker")
    signals = Signals()  # a SIGTERM while starting still stops the worker cleanly
    runtime = start_runtime(open_context(settings))
    configure_logging(settings)
    try:
        runtime.start_background()
        scheduler = "scheduler" if runtime.scheduler is not None else "scheduler off"
        console.print(
            f"Quorum worker is running: dispatch, delivery, {scheduler}, LLM assist (no HTTP).",
            soft_wrap=True,
        )
        signals.wait()
    finally:
        runtime.stop()
