"""Who is calling: the bearer token checked, its rate limit taken, its project and scope
matched against the request. Refusals, in this order: 401 (no token, an unknown or a
revoked one), 429 (over the token's rate), 404 (a project the token is not for, the same
answer as for a project that does not exist, so names do not leak), 403 (a read token
that writes)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot.api.errors import ApiError
from bot.api.ratelimit import RateLimiter
from bot.api.tokens import WRITE, token_digest
from bot.runtime.context import QuorumContext
from storage import api_queries
from storage.db import session_scope

log = logging.getLogger(__name__)

# `last_used_at` is written at most this often per token (per process, and across
# processes by the UPDATE's own condition): not one write per request.
TOUCH_EVERY_S = 60.0
CHALLENGE = {"WWW-Authenticate": "Bearer"}
REFUSED_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True)
class Caller:
    token_id: int
    scope: str
    project_id: int
    project: str

    @property
    def actor(self) -> str:
        """Who the audit trail says acted: the token, by the id `quorum token list` shows."""
        return f"api-token:{self.token_id}"


class Authenticator:
    def __init__(self, ctx: QuorumContext, limiter: RateLimiter) -> None:
        self.ctx = ctx
        self.limiter = limiter
        self._touched: dict[int, float] = {}
        self._lock = threading.Lock()

    def caller(
        self, token: str | None, *, project: str | None = None, write: bool = False
    ) -> Caller:
        """The caller of a request for `project` (None: any), or ApiError."""
        if not token:
            raise ApiError(
                401,
                "send a token: Authorization: Bearer <token> (`quorum token create`)",
                field="Authorization",
                headers=CHALLENGE,
            )
        with Session(self.ctx.engine) as session:
            found = api_queries.token_by_hash(session, token_digest(token))
        if found is None or found[0].revoked_at is not None:
            raise ApiError(
                401, "unknown or revoked token", field="Authorization", headers=REFUSED_TOKEN
            )
        row, owner = found
        assert row.id is not None and owner.id is not None  # read from their tables
        wait = self.limiter.take(row.id)
        if wait is not None:
            raise ApiError(
                429,
                f"over this token's rate limit; retry in {wait} s",
                field="Authorization",
                headers={"Retry-After": str(wait)},
            )
        if project is not None and project != owner.name:
            raise ApiError(404, f"no project named {project!r}", field="project")
        if write and row.scope != WRITE:
            raise ApiError(
                403,
                "this token may only read; pushing items needs a write token "
                "(`quorum token create --scope write`)",
                field="Authorization",
            )
        self._touch(row.id)
        return Caller(
            token_id=row.id,
            scope=row.scope,
            project_id=owner.id,
            project=owner.name,
        )

    def _touch(self, token_id: int) -> None:
        moment = time.monotonic()
        with self._lock:
            if moment - self._touched.get(token_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
                return
            self._touched[token_id] = moment
        now = self.ctx.clock.now()
        try:
            with session_scope(self.ctx.engine) as session:
                api_queries.touch_token(
                    session, token_id, now=now, before=now - timedelta(seconds=TOUCH_EVERY_S)
                )
        except OperationalError:  # a busy database: the next minute's request records it
            log.warning("could not record the use of API token %s", token_id)
