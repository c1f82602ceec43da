"""`quorum serve`: run the bot against a real Slack workspace."""

from __future__ import annotations

import logging
import os
import socket

import typer

from bot.cli.context import open_context
from bot.cli.output import console, fail
from bot.runtime.settings import Settings, get_settings


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def serve(
    port: int = typer.Option(3000, help="HTTP port for Slack's requests."),
    host: str = typer.Option("0.0.0.0", help="Interface to listen on (127.0.0.1: this host only)."),
    workers: int = typer.Option(
        1,
        min=1,
        help="Web processes sharing the port (HTTP mode, PostgreSQL). With more than one, "
        "the background loops run once, in the process that supervises them.",
    ),
    background: bool = typer.Option(
        True,
        "--background/--no-background",
        help="Run the background loops (dispatch, delivery, scheduler, LLM assist) here; "
        "--no-background serves Slack's requests only, for when `quorum worker` runs them.",
    ),
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
    if workers > 1 and settings.slack_app_token:
        raise fail(
            "--workers is for HTTP mode; Socket Mode runs in one process "
            "(unset SLACK_APP_TOKEN to serve HTTP)."
        )
    if workers > 1 and settings.database_url.startswith("sqlite"):
        raise fail(
            "--workers needs PostgreSQL: SQLite serves one process. Set DATABASE_URL "
            "to a PostgreSQL database, or run `quorum serve` without --workers."
        )
    configure_logging()
    if workers > 1:
        _serve_processes(settings, host=host, port=port, workers=workers, background=background)
        return
    runtime = Runtime(open_context(settings))
    if background:
        runtime.start_background()
    where = "background loops in this process" if background else "no background loops"
    try:
        if settings.slack_app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value())
            handler.connect()  # in the background, so SIGTERM reaches runtime.stop() below
            console.print(f"Quorum is running in Socket Mode ({where}).", soft_wrap=True)
            try:
                runtime.wait_for_signal()
            finally:
                handler.close()
        else:
            http = runtime.start_http(port=port, host=host)
            console.print(
                f"Quorum is listening on {http.url}/slack/events (health: /healthz; {where}).",
                soft_wrap=True,
            )
            runtime.wait_for_signal()
    finally:
        runtime.stop()


def _serve_processes(
    settings: Settings, *, host: str, port: int, workers: int, background: bool
) -> None:
    """`workers` web processes on one listening socket, supervised from here; the
    background loops, unless --no-background, run once, here, as in `quorum worker`."""
    from bot.runtime.app import Runtime
    from bot.runtime.server import bind_socket
    from bot.runtime.supervisor import WebProcesses, wait_for_signal

    ctx = open_context(settings)  # migrates the schema once, before the web processes start
    sock = bind_socket(host, port, settings.quorum_http_backlog)
    runtime = Runtime(ctx) if background else None
    web: WebProcesses | None = None
    try:
        if runtime is not None:
            runtime.start_background()
        web = WebProcesses(_web_process, sock, workers).start()
        where = "background loops in this process" if background else "no background loops"
        console.print(
            f"Quorum is listening on http://{host}:{sock.getsockname()[1]}/slack/events "
            f"with {workers} web processes (health: /healthz; {where}).",
            soft_wrap=True,
        )
        wait_for_signal(tick=web.check)
    finally:
        if web is not None:
            web.stop()  # web processes first: clicks already acknowledged finish recording
        if runtime is not None:
            runtime.stop()
        sock.close()
        ctx.engine.dispose()


def _web_process(sock: socket.socket) -> None:
    """One web process of `quorum serve --workers N`: HTTP on the shared socket, no
    background loops; stops on SIGTERM, or when the supervising process is gone."""
    from bot.runtime.app import Runtime
    from bot.runtime.supervisor import wait_for_signal

    configure_logging()
    parent = os.getppid()
    runtime = Runtime(open_context(get_settings()))
    try:
        runtime.start_http(sock=sock)
        wait_for_signal(tick=lambda: os.getppid() == parent)
    finally:
        runtime.stop()
