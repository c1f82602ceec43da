"""The app factory: Bolt app + handlers, the delivery worker, the scheduler and the
background loops, and their orderly shutdown."""

from __future__ import annotations

import logging
import socket
import threading
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.delivery.media import MediaFiles
from bot.delivery.pacing import Pacer
from bot.delivery.scheduler import QuorumScheduler
from bot.delivery.shown import flush_shown
from bot.delivery.worker import DeliveryWorker
from bot.media.store import MediaStore
from bot.runtime.context import QuorumContext, Workspace
from bot.runtime.server import HttpLimits, HttpServer, ListenerExecutor
from bot.runtime.settings import Settings
from bot.slack.outbound import SlackOutbound, make_web_client
from bot.webhooks.sender import WebhookSender
from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.llm_assist import LLMAssistWorker
from handlers import register_listeners

log = logging.getLogger(__name__)


def _token(settings: Settings) -> str | None:
    return settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None


def build_app(ctx: QuorumContext, *, listener_executor: Executor | None = None) -> App:
    settings = ctx.settings
    token = _token(settings)
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    app = App(  # the token travels in the client (which points at SLACK_API_URL)
        signing_secret=secret,
        client=make_web_client(token, settings.slack_api_url),
        request_verification_enabled=True,
        process_before_response=settings.quorum_process_before_response,
        listener_executor=listener_executor,
    )
    register_listeners(app, ctx)
    return app


def make_delivery_client(settings: Settings) -> WebClient:
    """The delivery worker's own client: no automatic retries (the worker decides, and a
    blind retry of chat.postMessage after a dropped connection could post twice), and a
    timeout well inside the claim lease so no other process takes over a live send."""
    timeout = max(1.0, min(15.0, settings.quorum_delivery_lease_s / 3))
    return WebClient(
        token=_token(settings),
        base_url=settings.slack_api_url,
        timeout=timeout,  # type: ignore[arg-type]  # slack_sdk types it int; urllib takes a float
        retry_handlers=[],
    )


def workspace_of(auth: Any) -> Workspace:
    """The workspace an auth.test answer names."""
    return Workspace(
        team_id=str(auth["team_id"]),
        enterprise_id=auth.get("enterprise_id") or None,
        enterprise_install=bool(auth.get("is_enterprise_install")),
    )


class Runtime:
    """Everything `quorum serve` runs: the HTTP endpoint (`start_http`) and the background
    loops (`start_background`: queued-item dispatch, Slack delivery, webhook delivery, LLM
    assist, the scheduler), together or apart (`quorum serve --no-background`, `quorum
    worker`). Any number of processes may run against one PostgreSQL; see
    docs/delivery.md and docs/webhooks.md."""

    def __init__(self, ctx: QuorumContext, *, dispatch_interval_s: float = 1.0) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self._listeners = ListenerExecutor(settings.quorum_listener_threads)
        self.app = build_app(ctx, listener_executor=self._listeners)
        self.outbound = SlackOutbound(self.app.client)
        delivery_outbound = SlackOutbound(make_delivery_client(settings))
        store = MediaStore.open(settings.media_store_url())
        self.delivery = DeliveryWorker(
            ctx.engine,
            delivery_outbound,
            clock=ctx.clock,
            interval_s=settings.quorum_delivery_interval_s,
            threads=settings.quorum_delivery_threads,
            lease_s=settings.quorum_delivery_lease_s,
            pacer=Pacer(settings.quorum_pacing_scale),
            rng=ctx.rng,
            kill_after_send=settings.quorum_fault_kill_after_send,
            media=MediaFiles(ctx.engine, delivery_outbound, store, ctx.clock),
        )
        self.scheduler = QuorumScheduler(ctx) if settings.quorum_scheduler_enabled else None
        self.dispatch_interval_s = dispatch_interval_s
        self._stop = threading.Event()
        self._stopped = False
        self._dispatcher: threading.Thread | None = None
        self.llm_assist = LLMAssistWorker(ctx)  # pre-labels and escalation summaries
        self.webhooks = WebhookSender.from_settings(ctx.engine, settings, clock=ctx.clock)
        self.http: HttpServer | None = None

    def start_background(self) -> None:
        self.delivery.start()
        self.webhooks.start()
        self.llm_assist.start()
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, daemon=True, name="dispatch"
        )
        self._dispatcher.start()
        if self.scheduler is not None:
            self.scheduler.start()

    def _dispatch_loop(self) -> None:
        from bot.delivery.outbox import wake_delivery

        while not self._stop.is_set():
            try:
                # Small batches: short transactions, and DMs start going out while the
                # rest of a large import is still being dispatched (by any process).
                if dispatch_queued(
                    self.ctx.engine,
                    clock=self.ctx.clock,
                    rng=self.ctx.rng,
                    batch=20,
                    limit=500,
                    stop=self._stop.is_set,  # a SIGTERM stops it between items
                ).total:
                    wake_delivery()
            except Exception:
                log.exception("dispatching queued items failed")
            self._stop.wait(self.dispatch_interval_s)

    def bind_workspace(self) -> Workspace:
        """Learn the bot's workspace (auth.test) before serving: requests from any other
        are refused. Raises slack_sdk's SlackApiError (or a connection error) when Slack
        does not answer or the token is bad."""
        if self.ctx.workspace is None:
            self.ctx.workspace = workspace_of(self.app.client.auth_test())
            log.info(
                "serving workspace %s%s",
                self.ctx.workspace.team_id,
                f" (org {self.ctx.workspace.enterprise_id})"
                if self.ctx.workspace.enterprise_id
                else "",
            )
        return self.ctx.workspace

    def start_http(
        self, *, port: int = 3000, host: str = "127.0.0.1", sock: socket.socket | None = None
    ) -> HttpServer:
        """Serve Slack's requests on `host:port`, or on a listening socket shared with
        other web processes (`quorum serve --workers N`)."""
        secret = self.ctx.settings.slack_signing_secret
        if secret is None or not secret.get_secret_value():
            raise RuntimeError("HTTP mode needs SLACK_SIGNING_SECRET")
        self.bind_workspace()
        from bot.api.app import build_api  # FastAPI is loaded only by processes serving HTTP

        self.http = HttpServer(
            self.app,
            api=build_api(self.ctx),
            signing_secret=secret.get_secret_value(),
            host=host,
            port=port,
            limits=HttpLimits.from_settings(self.ctx.settings),
            sock=sock,
        ).start()
        return self.http

    def stop(self) -> None:
        """Graceful shutdown, in the order that leaves nothing half done:
        no new scheduled jobs (a running one finishes), no new requests (clicks already
        acknowledged finish recording), no new dispatch, then the delivery worker
        finishes the send in flight and hands its unstarted claims back to the queue."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        if self.http:
            self.http.stop()
        waiter = threading.Thread(target=self._listeners.shutdown, daemon=True)
        waiter.start()  # acknowledged clicks finish recording (bounded: never hang a stop)
        waiter.join(30)
        try:  # DMs those clicks showed: not sent again by whichever worker comes next
            flush_shown(self.ctx.engine, self.ctx.clock.now())
        except Exception:
            log.exception("recording DMs shown through response_url failed at stop")
        self.llm_assist.stop()
        if self._dispatcher:
            self._dispatcher.join(30)
        self.delivery.stop()
        self.webhooks.stop()
        log.info("stopped cleanly")
