"""API tokens (`quorum token create | list | revoke`): made with `secrets`, shown once,
stored as their SHA-256 only. A token belongs to one project and has a scope: `read`
(status, labels, stats) or `write` (that, and pushing items). Making and revoking one are
events on the project's audit chain (naming the token by id, name, scope and prefix;
never the token or its hash)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.runtime.errors import UserError
from bot.workflow.project_versions import require_project
from storage import api_queries
from storage.models import ApiToken, Project

TOKEN_PREFIX = "qrm_"
READ, WRITE = "read", "write"
SCOPES = (READ, WRITE)
SHOWN_PREFIX = 8  # characters kept in clear (`prefix`), to tell tokens apart in a list
MAX_NAME = 100
CREATED_EVENT, REVOKED_EVENT = "api_token_created", "api_token_revoked"


def new_token() -> str:
    """`qrm_` and 43 urlsafe characters: 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A token as `quorum token list` shows it: never the token itself."""

    id: int
    project: str
    name: str
    scope: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken, project: str) -> TokenInfo:
        assert token.id is not None  # read from its table
        return cls(
            id=token.id,
            project=project,
            name=token.name,
            scope=token.scope,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


@dataclass(frozen=True)
class CreatedToken:
    info: TokenInfo
    token: str  # shown once, by the command that made it


def _audit(session: Session, kind: str, token: ApiToken, *, actor: str, now: datetime) -> None:
    record_event(
        session,
        kind,
        actor=actor,
        project_id=token.project_id,
        at=now,
        data={
            "token_id": token.id,
            "name": token.name,
            "scope": token.scope,
            "prefix": token.prefix,
        },
    )


def create_token(
    session: Session,
    *,
    project: str,
    scope: str = READ,
    name: str | None,
    now: datetime,
    actor: str = "cli",
) -> CreatedToken:
    """A new token of the project; `actor` is who the audit event says made it."""
    if scope not in SCOPES:
        raise UserError(f"--scope {scope!r}: choose read or write")
    name = (name or f"{scope} token").strip()
    if not name or len(name) > MAX_NAME:
        raise UserError(f"--name: give 1 to {MAX_NAME} characters")
    target = require_project(session, project)
    assert target.id is not None  # read from its table
    token = new_token()
    row = api_queries.add_token(
        session,
        project_id=target.id,
        name=name,
        scope=scope,
        token_hash=token_digest(token),
        prefix=token[:SHOWN_PREFIX],
        now=now,
    )
    _audit(session, CREATED_EVENT, row, actor=actor, now=now)
    return CreatedToken(TokenInfo.of(row, target.name), token)


def list_tokens(session: Session, *, project: str | None = None) -> list[TokenInfo]:
    project_id = require_project(session, project).id if project is not None else None
    return [TokenInfo.of(t, name) for t, name in api_queries.list_tokens(session, project_id)]


def revoke_token(
    session: Session, token_id: int, *, now: datetime, actor: str = "cli"
) -> tuple[TokenInfo, bool]:
    """Revoke at once (the next request with it gets 401); (the token, whether it was
    revoked by this call rather than before)."""
    token = api_queries.get_token(session, token_id)
    if token is None:
        raise UserError(f"no token with id {token_id}", "`quorum token list` shows the ids.")
    first = token.revoked_at is None
    if first:
        token.revoked_at = now
        session.add(token)
        session.flush()
        _audit(session, REVOKED_EVENT, token, actor=actor, now=now)
    project = session.get(Project, token.project_id)
    assert project is not None  # the token's foreign key
    return TokenInfo.of(token, project.name), first
