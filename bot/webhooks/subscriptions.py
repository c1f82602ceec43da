"""Adding, listing and removing a project's webhooks, and reading their attempt log: the
services behind `quorum webhook …`. The signing secret is made here and returned once,
to be printed once; nothing else shows it."""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.webhooks.events import parse_event_types
from bot.webhooks.targets import Resolver, check_target
from bot.workflow.project_versions import require_project
from storage import webhook_queries
from storage.models import Webhook
from storage.webhook_queries import AttemptEntry, WebhookSummary

SECRET_PREFIX = "whsec_"


class UnknownWebhook(LookupError):
    """No live webhook has this id; the message says so."""


@dataclass(frozen=True)
class NewWebhook:
    id: int
    project: str
    url: str
    events: list[str]
    secret: str  # shown once, by the command that added it


def new_secret() -> str:
    """`whsec_` and 32 URL-safe random characters (192 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(24)


def add_webhook(
    session: Session,
    *,
    project: str,
    url: str,
    events: str | list[str] | None,
    allow_private: bool,
    now: datetime,
    resolver: Resolver = socket.getaddrinfo,
    actor: str = "cli",
) -> NewWebhook:
    """A new webhook of the project for `events` (every type when None). Raises
    UnknownProjectError, UnknownEventTypes or TargetRefused, each naming the problem."""
    target = require_project(session, project)
    types = parse_event_types(events)
    checked = check_target(url, allow_private=allow_private, resolver=resolver)
    assert target.id is not None  # read from the table
    secret = new_secret()
    webhook = webhook_queries.add_webhook(
        session, project_id=target.id, url=checked, events=types, secret=secret, now=now
    )
    assert webhook.id is not None  # flushed
    record_event(
        session,
        "webhook_added",
        actor=actor,
        project_id=target.id,
        at=now,
        data={"webhook_id": webhook.id, "url": shown_url(checked), "events": types},
    )
    return NewWebhook(id=webhook.id, project=target.name, url=checked, events=types, secret=secret)


def list_webhooks(session: Session, *, project: str | None = None) -> list[WebhookSummary]:
    project_id = require_project(session, project).id if project else None
    return webhook_queries.webhook_summaries(session, project_id=project_id)


def remove_webhook(session: Session, webhook_id: int, *, now: datetime, actor: str = "cli") -> int:
    """Remove the webhook: nothing more is sent to it. Returns how many of its pending
    deliveries were dropped."""
    dropped = webhook_queries.remove_webhook(session, webhook_id, now=now)
    webhook = session.get(Webhook, webhook_id)
    if dropped is None or webhook is None:
        raise UnknownWebhook(
            f"No webhook {webhook_id} (or it was removed already): "
            "`quorum webhook list` shows the ids."
        )
    record_event(
        session,
        "webhook_removed",
        actor=actor,
        project_id=webhook.project_id,
        at=now,
        data={"webhook_id": webhook_id, "url": shown_url(webhook.url), "dropped": dropped},
    )
    return dropped


def attempt_log(
    session: Session, *, project: str | None = None, limit: int = 50
) -> list[AttemptEntry]:
    project_id = require_project(session, project).id if project else None
    return webhook_queries.attempt_log(session, project_id=project_id, limit=limit)


def shown_url(url: str) -> str:
    """The URL as it may be printed: a password in it (https://user:pass@host) masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
