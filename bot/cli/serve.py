"""`quorum serve`: run the bot against a real Slack workspace."""

from __future__ import annotations

import logging

import typer

from bot.cli.context import open_context
from bot.cli.output import console, fail
from bot.runtime.settings import get_settings


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
