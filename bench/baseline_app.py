"""The baseline server: a bare Bolt app with one action listener that only acks, served
exactly as `quorum serve` serves Quorum's app at this checkout.

    PYTHONPATH=<checkout> python bench/baseline_app.py --port 3999

Run as a script (not `-m bench.…`) so that `bot` is imported from the checkout on
PYTHONPATH, whichever checkout that is. The app is built like
`bot.runtime.app.build_app` builds Quorum's (same slack_bolt, signing secret, request
verification, `process_before_response`, a client from `bot.slack.outbound` pointing at
SLACK_API_URL), and served by
calling `Runtime.start_http` itself on a stand-in that has only `app`, `http` and
`ctx.settings`: the same server code path whatever `bot/runtime/server.py` is (wsgiref at
01f69fb, uvicorn + Starlette in the change after it). Bolt's listener executor is the
one `Runtime` builds at that checkout (`ThreadPoolExecutor(8)` before,
`ListenerExecutor(QUORUM_LISTENER_THREADS)` after). If `start_http` needs more of the
Runtime than that, it falls back to `bot.runtime.server.HttpServer` and says so on stdout.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor


def listener_executor(settings):  # type: ignore[no-untyped-def]
    """Bolt's listener threads as `Runtime.__init__` makes them at this checkout."""
    try:
        from bot.runtime.server import ListenerExecutor  # the uvicorn server's executor
    except ImportError:
        return ThreadPoolExecutor(max_workers=8, thread_name_prefix="bolt-listener"), (
            "ThreadPoolExecutor(8)"
        )
    threads = getattr(settings, "quorum_listener_threads", 8)
    return ListenerExecutor(threads), f"ListenerExecutor({threads})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    from slack_bolt import App

    from bot.runtime.app import Runtime
    from bot.runtime.settings import Settings

    try:
        from bot.slack.outbound import make_web_client

        client = make_web_client(os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_API_URL"])
    except ImportError:  # an older or newer layout: a plain client, same token and URL
        from slack_sdk import WebClient

        client = WebClient(
            token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
        )

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    listeners, executor_kind = listener_executor(settings)
    app = App(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=client,
        request_verification_enabled=True,
        process_before_response=settings.quorum_process_before_response,
        listener_executor=listeners,
    )

    @app.action(re.compile(".*"))
    def only_ack(ack) -> None:  # type: ignore[no-untyped-def]
        ack()

    # Only what start_http reads: the app and the settings (signing secret, HTTP limits);
    # a bare app binds to no workspace.
    stand_in = types.SimpleNamespace(
        app=app,
        http=None,
        ctx=types.SimpleNamespace(settings=settings),
        bind_workspace=lambda: None,
    )
    try:  # the bare app serves Slack's path only: no REST API (it would need a database)
        import bot.api.app

        bot.api.app.build_api = lambda _ctx: None  # type: ignore[assignment,return-value]
    except ImportError:  # a checkout from before the API
        pass
    try:
        http = Runtime.start_http(stand_in, port=args.port, host="127.0.0.1")  # type: ignore[arg-type]
        path = "Runtime.start_http"
    except AttributeError as exc:
        from bot.runtime.server import HttpServer

        http = HttpServer(app, host="127.0.0.1", port=args.port).start()
        path = f"bot.runtime.server.HttpServer (Runtime.start_http needs more: {exc})"
    path += f"; listener executor {executor_kind}"
    print(f"baseline serving via {path} on port {args.port}", flush=True)

    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    done.wait()
    stop = getattr(http, "stop", None)
    if callable(stop):
        stop()
    listeners.shutdown(wait=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
