"""HTTP mode: Slack's requests at POST /slack/events, a health check at GET /healthz and
the REST API under /api (bot/api), served by uvicorn (one asyncio event loop per process)
with a Starlette app.

A request to /slack/events goes through, in this order, on the event loop (no thread):

1. a Content-Length over the limit: 413 at once, nothing read;
2. the body, read as it arrives, with the same limit (413 as soon as it is passed, for
   bodies without a length) and a deadline: a client that sends less than it announced,
   or drips it, gets 408 and its connection is closed when the deadline passes;
3. Slack's signature (`v0=` HMAC-SHA256 of `v0:{timestamp}:{raw body}`, the timestamp
   within five minutes) checked on the raw bytes: bad, missing or a timestamp that is not
   a number, 401, and nothing has parsed the body;
4. the envelope (bot.slack.inbound.read_request): parsed as Bolt will parse it and
   checked for the shape Bolt and the listeners read; anything that is not a request
   Slack sends (not JSON or a form, a `null` payload, `"actions": []`, a non-string
   `event_id`, ...) gets 400, so Bolt never parses what it cannot handle;

and only then in a bounded thread pool (`QUORUM_HTTP_THREADS` at once; the rest wait on
the event loop holding no thread): Bolt's synchronous `App.dispatch`, given the body as
parsed in step 4, which verifies the signature again, acks and hands the listener to
Bolt's listener threads (`ListenerExecutor`). One kind of request (its type and the
action, view, command or event it names) holds at most all but an eighth of those
threads and of the listener threads, so requests of one kind that hang never starve
the others; a request that waits longer than `QUEUE_WAIT_S` for a thread of its kind
gets 429. Anything else is 404 (405 for a known path with another method). Every
refusal is one log line naming the reason, never the body. Access logs are off: request
lines say nothing Bolt does not, and bodies hold user text.

The API's requests get the same two first steps (with their own size limit,
QUORUM_API_MAX_BODY_BYTES, and the same deadline, refusals in the API's error shape),
then go to the FastAPI app, which runs its blocking work in threads of its own
(bot/api/runtime.py): API traffic never takes the threads above.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread
import uvicorn
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.errors import code_for, error_response
from bot.runtime.settings import Settings
from bot.slack.inbound import Malformed, read_request

log = logging.getLogger(__name__)

# The kind of the request being handled on this thread (bot.slack.inbound names it), for
# the listener threads' per-kind quota.
REQUEST_KIND: ContextVar[str] = ContextVar("quorum_request_kind", default="other")
# Slack gives up on an ack after 3 s: a request still waiting for a thread after this is
# answered 429 rather than held.
# Past Slack's 3 s a click is shown as failed but its answer is still recorded when it
# runs; a 429 would lose it. So only a kind that holds its whole share this long (a flood
# of one kind) is told to come back.
QUEUE_WAIT_S = 10.0
# A listener running longer than this is logged (once) as over its time budget.
LISTENER_BUDGET_S = 10.0


def kind_share(threads: int) -> int:
    """The threads one kind of request may hold at once: all but an eighth, kept for the
    other kinds. Most of the traffic is one kind (answers), which must not be halved."""
    return max(1, threads - max(1, threads // 8))


P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class HttpLimits:
    """What one serving process allows (the settings of the same names, per process)."""

    max_body_bytes: int = 1024 * 1024  # QUORUM_HTTP_MAX_BODY_BYTES
    body_timeout_s: float = 10.0  # QUORUM_HTTP_BODY_TIMEOUT_S
    threads: int = 16  # QUORUM_HTTP_THREADS: requests in Bolt at once
    backlog: int = 2048  # QUORUM_HTTP_BACKLOG
    limit_concurrency: int = 1000  # QUORUM_HTTP_LIMIT_CONCURRENCY: then 503
    keep_alive_s: int = 5  # idle keep-alive connections are closed after this
    graceful_shutdown_s: int = 30  # requests still running at stop get this long
    api_max_body_bytes: int = 10 * 1024 * 1024  # QUORUM_API_MAX_BODY_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            api_max_body_bytes=settings.quorum_api_max_body_bytes,
            max_body_bytes=settings.quorum_http_max_body_bytes,
            body_timeout_s=settings.quorum_http_body_timeout_s,
            threads=settings.quorum_http_threads,
            backlog=settings.quorum_http_backlog,
            limit_concurrency=settings.quorum_http_limit_concurrency,
        )


# -- the ASGI app ------------------------------------------------------------------------


class BodyRefused(Exception):
    """A body refused before it was read whole (the connection cannot be reused)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> Response:
        return PlainTextResponse(
            self.reason, status_code=self.status, headers={"connection": "close"}
        )


async def read_body(request: Request, limits: HttpLimits, *, max_bytes: int | None = None) -> bytes:
    """The raw body, at most `max_bytes` (else `max_body_bytes`), complete within
    `body_timeout_s`; BodyRefused otherwise."""
    limit = limits.max_body_bytes if max_bytes is None else max_bytes
    announced = request.headers.get("content-length")
    if announced is not None:
        if not announced.isdigit():
            raise BodyRefused(400, "bad content-length")
        if int(announced) > limit:
            raise BodyRefused(413, "request body too large")
    body = bytearray()
    try:
        with anyio.fail_after(limits.body_timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise BodyRefused(413, "request body too large")
    except TimeoutError:
        raise BodyRefused(408, "request body not received in time") from None
    except ClientDisconnect:
        raise BodyRefused(400, "client disconnected") from None
    return bytes(body)


def signed_by_slack(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    try:
        return verifier.is_valid_request(body, dict(headers))
    except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
        return False


# read_body's reasons, as the API words them: (the field at fault, the message).
_API_REFUSALS = {
    "bad content-length": ("Content-Length", "the Content-Length header is not a number"),
    "request body not received in time": (
        "body",
        "the body was not received in full within the read deadline",
    ),
    "request body too large": (
        "body",
        "the body is over the size limit of {limit:,} bytes (QUORUM_API_MAX_BODY_BYTES)",
    ),
}


def read_api_body(api: ASGIApp, limits: HttpLimits) -> ASGIApp:
    """The API behind the body checks of /slack/events: read whole (at most
    `api_max_body_bytes`, within the deadline) on the event loop before any route runs,
    then handed to the API as if it arrived at once. Refusals in the API's error shape."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await api(scope, receive, send)
            return
        try:
            body = await read_body(
                Request(scope, receive), limits, max_bytes=limits.api_max_body_bytes
            )
        except BodyRefused as refused:
            log.info("refused an API request: %s", refused.reason)
            field, message = _API_REFUSALS.get(refused.reason, ("body", refused.reason))
            message = message.format(limit=limits.api_max_body_bytes)
            response = error_response(
                refused.status,
                code_for(refused.status),
                message,
                [{"field": field, "message": message}],
                headers={"connection": "close"},
            )
            await response(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then what the server says next (a disconnect)

        await api(scope, replay, send)

    return app


def make_asgi_app(
    app: App,
    *,
    signing_secret: str,
    limits: HttpLimits | None = None,
    health: Callable[[], Any] | None = None,
    api: ASGIApp | None = None,
) -> ASGIApp:
    """Slack's endpoint and the health check; with `api` (bot.api.app.build_api), the
    REST API under /api."""
    limits = limits or HttpLimits()
    verifier = SignatureVerifier(signing_secret)
    report = health or (lambda: {"ok": True})
    # Made on the server's own event loop, at the first request.
    limiters: dict[str, anyio.CapacityLimiter] = {}

    def limiter(name: str, size: int) -> anyio.CapacityLimiter:
        if name not in limiters:
            limiters[name] = anyio.CapacityLimiter(size)
        return limiters[name]

    async def slack_events(request: Request) -> Response:
        try:
            body = await read_body(request, limits)
        except BodyRefused as refused:
            log.info("refused a request: %s", refused.reason)
            return refused.response()
        if not signed_by_slack(verifier, body, request.headers):
            log.info("refused a request without a valid Slack signature")
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            inbound = read_request(body, request.headers.get("content-type"))
        except Malformed as malformed:
            log.info("refused a malformed request: %s", malformed.reason)
            return JSONResponse({"error": "malformed request"}, status_code=400)
        headers: dict[str, str | Sequence[str]] = {
            name: request.headers.getlist(name) for name in request.headers
        }
        query = request.url.query
        kind = inbound.kind

        def dispatch() -> Response:  # run in a pool thread, never on the loop
            REQUEST_KIND.set(kind)
            bolt_request = parsed_bolt_request(body, inbound.body, query, headers)
            return to_starlette_response(app.dispatch(bolt_request))

        own = limiter(f"kind:{kind}", kind_share(limits.threads))
        try:
            with anyio.fail_after(QUEUE_WAIT_S):
                await own.acquire()
        except TimeoutError:
            log.warning("refused a request: every thread for %s is busy", kind)
            return _busy()
        try:
            return await anyio.to_thread.run_sync(dispatch, limiter=limiter("all", limits.threads))
        finally:
            own.release()

    async def healthz(_request: Request) -> Response:
        return JSONResponse(report())

    slack = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    return slack if api is None else under_api(read_api_body(api, limits), slack)


API_ROOT = "/api"


def under_api(api: ASGIApp, rest: ASGIApp) -> ASGIApp:
    """Every path under /api to the API, as a Starlette Mount would hand it over (with
    /api as its root path), the rest to `rest`. Not a Mount: its pattern stops at a line
    break, and /api/x%0A would get Starlette's plain-text 404 instead of the API's."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == API_ROOT or path.startswith(API_ROOT + "/")):
            root = scope.get("root_path", "")
            scope = {
                **scope,
                "root_path": root + API_ROOT,
                "app_root_path": scope.get("app_root_path", root),
            }
            await api(scope, receive, send)
        else:
            await rest(scope, receive, send)

    return app


def _busy() -> Response:
    return JSONResponse({"error": "busy"}, status_code=429, headers={"retry-after": "1"})


# -- Bolt's listener threads --------------------------------------------------------------


class ListenerExecutor(Executor):
    """Bolt's listener threads, at most `max_workers`. Bolt (acking first) submits each
    listener here and holds the HTTP response until it calls ack(); a listener queued
    behind others' work would ack late, past Slack's 3 seconds, under a burst. So when
    every thread is busy the listener runs at once in the thread that submitted it (its
    own request's): its ack waits only for itself, and the threads stay bounded.

    One kind of request (REQUEST_KIND, set by the HTTP server) holds at most kind_share() of the
    threads; past that its listeners run in their own request's thread, which the server
    also bounds per kind, so requests of one kind that hang leave the other threads to
    everything else. A listener over `budget_s` is logged once, naming its kind."""

    def __init__(self, max_workers: int, *, budget_s: float = LISTENER_BUDGET_S) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bolt-listener")
        self._free = threading.BoundedSemaphore(max_workers)
        self._share = kind_share(max_workers)
        self._budget_s = budget_s
        self._lock = threading.Lock()
        self._per_kind: dict[str, int] = {}
        self._running: dict[int, tuple[str, float]] = {}  # token -> (kind, started)
        self._overdue: set[int] = set()
        self._next = 0
        self._closed = False

    def _enter(self, kind: str, *, pooled: bool) -> int | None:
        """A token for a listener about to run, or None when its kind has its share."""
        with self._lock:
            self._report_overdue()
            if pooled and self._per_kind.get(kind, 0) >= self._share:
                return None
            self._next += 1
            if pooled:
                self._per_kind[kind] = self._per_kind.get(kind, 0) + 1
            self._running[self._next] = (kind if pooled else "", time.monotonic())
            return self._next

    def _leave(self, token: int) -> None:
        with self._lock:
            kind, _ = self._running.pop(token)
            self._overdue.discard(token)
            if kind:
                self._per_kind[kind] -= 1

    def _report_overdue(self) -> None:
        now = time.monotonic()
        for token, (kind, started) in self._running.items():
            if token not in self._overdue and now - started > self._budget_s:
                self._overdue.add(token)
                log.warning(
                    "a listener for %s has run %.0f s, over its %.0f s budget",
                    kind or "a request run in its own thread",
                    now - started,
                    self._budget_s,
                )

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        kind = REQUEST_KIND.get()
        token = None if self._closed else self._enter(kind, pooled=True)
        if token is not None and self._free.acquire(blocking=False):
            try:
                future = self._pool.submit(fn, *args, **kwargs)
            except RuntimeError:  # shut down meanwhile
                self._free.release()
                self._leave(token)
            else:

                def done(_done: Future[T], token: int = token) -> None:
                    self._free.release()
                    self._leave(token)

                future.add_done_callback(done)
                return future
        elif token is not None:
            self._leave(token)
        here: Future[T] = Future()
        own = self._enter(kind, pooled=False)
        try:
            here.set_result(fn(*args, **kwargs))
        except Exception as exc:  # Bolt's own wrapper reports listener errors
            here.set_exception(exc)
        finally:
            if own is not None:
                self._leave(own)
        return here

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def parsed_bolt_request(
    raw: bytes,
    parsed: dict[str, Any],
    query: str,
    headers: dict[str, str | Sequence[str]],
) -> BoltRequest:
    """An HTTP-mode BoltRequest carrying the body read_request already parsed: decoding a
    form-encoded interaction payload is a good part of a click's CPU, and Bolt would do it
    again. Bolt's constructor takes a parsed body only in Socket Mode; the raw body (its
    signature check reads it) and the mode are set afterwards."""
    request = BoltRequest(body=parsed, query=query, headers=headers, mode="socket_mode")
    request.raw_body = raw.decode("utf-8")
    request.mode = "http"
    return request


# -- the server ---------------------------------------------------------------------------


def bind_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket; bound here so that port 0 is known at once and several web
    processes can share one (each accepts from it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=backlog)
    # asyncio sets TCP_NODELAY only on sockets made with proto IPPROTO_TCP, which this is
    # not; accepted connections inherit it from the listener. Without it a response's
    # headers and body (two writes) wait out the client's delayed ACK: +40 ms a request
    # on a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class HttpServer:
    """uvicorn serving `make_asgi_app` on its own thread: `start()`, `stop()`, `.url`,
    `.port`. Signals stay with the caller (uvicorn installs none off the main thread)."""

    def __init__(
        self,
        app: App,
        *,
        signing_secret: str,
        host: str = "127.0.0.1",
        port: int = 3000,
        limits: HttpLimits | None = None,
        health: Callable[[], Any] | None = None,
        sock: socket.socket | None = None,
        api: ASGIApp | None = None,
    ) -> None:
        self.limits = limits or HttpLimits()
        self.sock = sock or bind_socket(host, port, self.limits.backlog)
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{self.port}"
        asgi = make_asgi_app(
            app, signing_secret=signing_secret, limits=self.limits, health=health, api=api
        )
        self.server = uvicorn.Server(
            uvicorn.Config(
                asgi,
                http="h11",
                lifespan="off",
                access_log=False,
                log_config=None,  # keep the process's logging; uvicorn's own at warning
                log_level="warning",
                server_header=False,
                proxy_headers=False,
                backlog=self.limits.backlog,
                limit_concurrency=self.limits.limit_concurrency,
                timeout_keep_alive=self.limits.keep_alive_s,
                timeout_graceful_shutdown=self.limits.graceful_shutdown_s,
            )
        )
        self._thread: threading.Thread | None = None

    def start(self, *, timeout_s: float = 10.0) -> HttpServer:
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name="http"
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server did not start on port {self.port}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """No new connections; requests in progress finish (up to the graceful timeout)."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.limits.graceful_shutdown_s + 5)
            self._thread = None
        self.sock.close()
