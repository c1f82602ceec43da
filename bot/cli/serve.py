"""`quorum serve`: run the bot against a real Slack workspace."""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack
from typing import TYPE_CHECKING

import typer

from bot.cli.context import open_context
from bot.cli.failures import listening_on, slack_call
from bot.cli.logs import configure_logging, quiet_bolt_client_warning
from bot.cli.output import console, fail
from bot.runtime.context import QuorumContext
from bot.runtime.settings import Settings, get_settings
from bot.runtime.supervisor import Signals

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.runtime.app import Runtime


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
    settings.require_own_secrets("QUORUM_AUDIT_KEY", command="quorum serve")
    if workers > 1:
        _serve_processes(settings, host=host, port=port, workers=workers, background=background)
        return
    where = "background loops in this process" if background else "no background loops"
    # Everything that can be refused (database, port, tokens) is tried before anything
    # starts, and before logging is set up, so a refusal is its one message alone.
    with ExitStack() as running:
        signals = Signals()  # a SIGTERM while starting still shuts down cleanly
        ctx = open_context(settings)
        running.callback(ctx.engine.dispose)
        sock = None
        if not settings.slack_app_token:
            sock = _bind(host, port, settings)
            running.callback(sock.close)
        runtime = start_runtime(ctx)
        running.callback(runtime.stop)
        if settings.slack_app_token:
            handler = _connect_socket_mode(runtime, settings)
            running.callback(handler.close)
        configure_logging(settings)
        if background:
            runtime.start_background()
        if sock is None:
            console.print(f"Quorum is running in Socket Mode ({where}).", soft_wrap=True)
        else:
            http = runtime.start_http(sock=sock, host=host)
            console.print(
                f"Quorum is listening on {http.url}/slack/events (health: /healthz; {where}).",
                soft_wrap=True,
            )
        signals.wait()


def start_runtime(ctx: QuorumContext) -> Runtime:
    """The bot's runtime, bound to the workspace of SLACK_BOT_TOKEN (auth.test: a bad
    token or an unreachable Slack is reported here, before anything starts)."""
    from bot.runtime.app import Runtime

    quiet_bolt_client_warning()
    with slack_call("auth.test", "SLACK_BOT_TOKEN", ctx.settings.slack_api_url):
        runtime = Runtime(ctx)
        runtime.bind_workspace()
    return runtime


def _check_bot_token(settings: Settings) -> None:
    from slack_sdk import WebClient

    assert settings.slack_bot_token is not None  # missing_for_serve() checked it
    client = WebClient(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    with slack_call("auth.test", "SLACK_BOT_TOKEN", settings.slack_api_url):
        client.auth_test()


def _bind(host: str, port: int, settings: Settings) -> socket.socket:
    from bot.runtime.server import bind_socket

    with listening_on(host, port):
        return bind_socket(host, port, settings.quorum_http_backlog)


def _connect_socket_mode(runtime: Runtime, settings: Settings) -> SocketModeHandler:
    """Socket Mode, connected in the background (so SIGTERM reaches runtime.stop()). The
    WebSocket URL is asked for here, so a refused SLACK_APP_TOKEN is reported as such."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.slack_app_token is not None  # Socket Mode is chosen by its presence
    app_token = settings.slack_app_token.get_secret_value()
    handler = SocketModeHandler(runtime.app, app_token)
    with slack_call("apps.connections.open", "SLACK_APP_TOKEN", settings.slack_api_url):
        opened = handler.client.web_client.apps_connections_open(app_token=app_token)
        handler.client.wss_uri = opened["url"]  # connect() uses it instead of asking again
        handler.connect()
    return handler


def _serve_processes(
    settings: Settings, *, host: str, port: int, workers: int, background: bool
) -> None:
    """`workers` web processes on one listening socket, supervised from here; the
    background loops, unless --no-background, run once, here, as in `quorum worker`."""
    from bot.runtime.supervisor import WebProcesses

    signals = Signals()
    ctx = open_context(settings)  # migrates the schema once, before the web processes start
    try:
        sock = _bind(host, port, settings)
    except BaseException:
        ctx.engine.dispose()
        raise
    try:
        runtime = start_runtime(ctx) if background else None
        if runtime is None:
            _check_bot_token(settings)  # the web processes would each fail on it
    except BaseException:
        sock.close()
        ctx.engine.dispose()
        raise
    configure_logging(settings)
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
        signals.wait(tick=web.check)
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

    signals = Signals()
    settings = get_settings()
    configure_logging(settings)
    parent = os.getppid()
    runtime = Runtime(open_context(settings))
    try:
        runtime.start_http(sock=sock)
        signals.wait(tick=lambda: os.getppid() == parent)
    finally:
        runtime.stop()
