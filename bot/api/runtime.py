"""What the API's routes share: the context, the authenticator with its rate limiter, and
the API's own threads.

The rate limit is taken on the event loop, before a request asks for a thread: a token
flooding the API is answered 429 at once and never queues ahead of other tokens.

Every route's blocking part (the database, validating items) runs in threads bounded by
an anyio CapacityLimiter of QUORUM_API_THREADS that nothing else uses: never in the
threads that carry Slack's requests (bot/runtime/server.py), nor in anyio's default
limiter, which FastAPI's sync endpoints would share. So however busy the API is, a
reviewer's click is acknowledged as quickly as without it."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import Response

from bot.api.auth import Authenticator
from bot.api.errors import INTERNAL_ERROR, UNAVAILABLE, ApiError, error_response
from bot.api.ratelimit import RateLimiter
from bot.runtime.context import QuorumContext

log = logging.getLogger(__name__)


def log_failure(what: str, exc: BaseException) -> None:
    """The failure's type and where it happened, never its message: a database error's
    message holds the statement's parameters (item content), and bodies and tokens stay
    out of the logs."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s failed with %s:\n%s", what, type(exc).__name__, frames)


class ApiRuntime:
    def __init__(self, ctx: QuorumContext) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.auth = Authenticator(
            ctx, RateLimiter(settings.quorum_api_rate, settings.quorum_api_burst)
        )
        self.threads = settings.quorum_api_threads
        # One limiter per event loop: uvicorn runs one, a test client may start several.
        self._limiters: WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
            WeakKeyDictionary()
        )

    def limiter(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        found = self._limiters.get(loop)
        if found is None:
            found = self._limiters[loop] = anyio.CapacityLimiter(self.threads)
        return found

    async def run(
        self, request: Request, token: str | None, work: Callable[[], Response]
    ) -> Response:
        """`work()` in one of the API's threads once the caller's rate limit allows it; an
        ApiError it raises is answered in the error shape, and so is anything unforeseen
        (logged, 500)."""
        try:
            self.auth.admit(token, request.client.host if request.client else None)
        except ApiError as exc:
            return exc.response()

        def guarded() -> Response:
            try:
                return work()
            except ApiError as exc:
                return exc.response()
            # The database is down or overloaded, or every pooled connection is in use
            # (QueuePool's TimeoutError): worth a retry, unlike a 500.
            except (OperationalError, DisconnectionError, PoolTimeout) as exc:
                log_failure("an API request's database work", exc)
                return error_response(
                    503,
                    UNAVAILABLE,
                    "the database is busy or unavailable; retry later",
                    headers={"Retry-After": "5"},
                )
            except Exception as exc:
                log_failure("an API request", exc)
                return error_response(500, INTERNAL_ERROR, "an unexpected failure (logged)")

        return await anyio.to_thread.run_sync(guarded, limiter=self.limiter())
