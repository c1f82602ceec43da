"""The app factory: Bolt app + handlers, the delivery worker and the background loops."""

from __future__ import annotations

import logging
import signal
import threading

from slack_bolt import App

from bot.context import QuorumContext
from bot.delivery.worker import DeliveryWorker
from bot.server import HttpServer
from bot.slack.outbound import SlackOutbound, make_web_client
from bot.workflow.dispatch import dispatch_queued
from handlers import register_listeners

log = logging.getLogger(__name__)


def build_app(ctx: QuorumContext) -> App:
    settings = ctx.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    app = App(
        token=token,
        signing_secret=secret,
        client=make_web_client(token, settings.slack_api_url),
        request_verification_enabled=True,
        process_before_response=settings.quorum_process_before_response,
    )
    register_listeners(app, ctx)
    return app


class Runtime:
    """Everything `quorum serve` runs: the HTTP endpoint, delivery, and queued-item dispatch."""

    def __init__(self, ctx: QuorumContext, *, dispatch_interval_s: float = 1.0) -> None:
        self.ctx = ctx
        self.app = build_app(ctx)
        self.outbound = SlackOutbound(self.app.client)
        self.delivery = DeliveryWorker(
            ctx.engine,
            self.outbound,
            clock=ctx.clock,
            interval_s=ctx.settings.quorum_delivery_interval_s,
        )
        self.dispatch_interval_s = dispatch_interval_s
        self._stop = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self.http: HttpServer | None = None

    def start_background(self) -> None:
        self.delivery.start()
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, daemon=True, name="dispatch"
        )
        self._dispatcher.start()

    def _dispatch_loop(self) -> None:
        from bot.delivery.outbox import wake_delivery

        while not self._stop.is_set():
            try:
                if dispatch_queued(
                    self.ctx.engine, clock=self.ctx.clock, rng=self.ctx.rng, limit=500
                ).total:
                    wake_delivery()
            except Exception:
                log.exception("dispatching queued items failed")
            self._stop.wait(self.dispatch_interval_s)

    def start_http(self, *, port: int = 3000, host: str = "127.0.0.1") -> HttpServer:
        self.http = HttpServer(self.app, host=host, port=port).start()
        return self.http

    def wait_for_signal(self) -> None:
        """Block until SIGTERM or Ctrl-C; the caller then stops cleanly."""
        done = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: done.set())
        done.wait()

    def stop(self) -> None:
        self._stop.set()
        if self.http:
            self.http.stop()
        self.delivery.stop()
        if self._dispatcher:
            self._dispatcher.join(5)
