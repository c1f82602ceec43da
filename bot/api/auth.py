"""Who is calling: the caller's rate limit taken, then the bearer token checked, its
project and scope matched against the request. Refusals, in this order: 429 (over the
rate of the token presented, or of the client's address when none was; decided on the
event loop, before the request takes an API thread), 401 (no token, an unknown or a
revoked one), 404 (a project the token is not for, the same answer as for a project that
does not exist, so names do not leak), 403 (a read token that writes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from bot.api.errors import ApiError
from bot.api.ratelimit import RateLimiter
from bot.api.tokens import WRITE, token_digest
from bot.api.usage import UsageRecorder
from bot.runtime.context import QuorumContext
from storage import api_queries

CHALLENGE = {"WWW-Authenticate": "Bearer"}
REFUSED_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
ANONYMOUS = "anonymous"  # the bucket of requests without a token and without an address


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
        self.usage = UsageRecorder(ctx.engine)

    def admit(self, token: str | None, client: str | None) -> None:
        """Take one request from the caller's bucket, or ApiError 429. Cheap enough for the
        event loop: a digest, no database. Keyed by the token's digest whether or not the
        token is valid (a garbage token is limited too), or by the address without one."""
        key = f"token:{token_digest(token)}" if token else f"client:{client or ANONYMOUS}"
        wait = self.limiter.take(key)
        if wait is not None:
            whose = "token's" if token else "client's"
            raise ApiError(
                429,
                f"over this {whose} rate limit; retry in {wait} s",
                field="Authorization",
                headers={"Retry-After": str(wait)},
            )

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
        if project is not None and project != owner.name:
            raise ApiError(404, f"no project named {project!r}", field="project")
        if write and row.scope != WRITE:
            raise ApiError(
                403,
                "this token may only read; pushing items needs a write token "
                "(`quorum token create --scope write`)",
                field="Authorization",
            )
        self.usage.note(row.id, self.ctx.clock.now())
        return Caller(
            token_id=row.id,
            scope=row.scope,
            project_id=owner.id,
            project=owner.name,
        )
