"""SQLModel tables: the whole persistent state of Quorum.

Constraints do the guarding where a race could otherwise slip through: one response per
assignment, one label per item, one assignment per (item, reviewer), one event per
(chain, position), one outbox row per idempotency key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped
from sqlmodel import Field, SQLModel, col


def utcnow() -> datetime:
    return datetime.now(UTC)


def pk(column: int | None) -> Mapped[int]:
    """An integer primary key as a select column (`select(pk(Item.id), ...)`).

    The models type `id` as `int | None` because an object has no id until it is
    inserted; a key read back from the table is never NULL, so its rows hold `int`."""
    return cast("Mapped[int]", col(column))


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _json(**kwargs: Any) -> Any:
    nullable = kwargs.pop("nullable", True)
    return Field(sa_column=Column(JSON, nullable=nullable), **kwargs)


class ItemStatus:
    QUEUED = "queued"
    ASSIGNED = "assigned"
    ANSWERED = "answered"
    ESCALATED = "escalated"
    SIGNED_OFF = "signed_off"
    AUTO_ACCEPTED = "auto_accepted"
    # Could not be dispatched (e.g. Slack would refuse its message): `Item.failure` says
    # why; it waits for a person (a new project version puts it back in the queue).
    FAILED = "failed"
    OPEN = (QUEUED, ASSIGNED, ANSWERED)
    # Every state, in the order of an item's life (for tables of counts).
    ALL = (QUEUED, ASSIGNED, ANSWERED, ESCALATED, SIGNED_OFF, AUTO_ACCEPTED, FAILED)


class LabelMethod:
    """How a label was reached (`Label.method`)."""

    CONSENSUS = "consensus"  # the reviewers agreed (and a senior accepted it, if reviewed)
    LEAD = "lead"  # a lead decided an escalation
    REVIEW = "review"  # a senior reviewer fixed the consensus in a review stage
    AUTO = "auto"  # a confident prediction, auto-accepted
    GOLD = "gold"  # the item's known answer
    ALL = (CONSENSUS, LEAD, REVIEW, AUTO, GOLD)


class AssignmentStatus:
    PENDING = "pending"
    ANSWERED = "answered"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    REASSIGNED = "reassigned"


# Why a reviewer flagged an item (Response.flags[].reason): a note for the leads, not an
# answer. The flag modal offers these, in this order.
FLAG_REASONS = ("unsafe", "unclear", "personal_data", "other")


class OutboxStatus:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # permanent error: needs a person or a reassignment
    CANCELLED = "cancelled"  # no longer wanted (its assignment moved on before it went out)


class Project(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=63)
    kind: str = Field(max_length=16)
    current_version: int = 1
    # Why the project cannot staff its items right now (nobody available, fewer
    # reviewers than its overlap), or None: kept so the problem is reported once.
    staffing_problem: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class ProjectVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    version: int
    config: dict = _json(nullable=False)
    config_hash: str = Field(max_length=64)
    created_by: str | None = None
    created_at: datetime = _when(default_factory=utcnow)


class Reviewer(SQLModel, table=True):
    """A Slack user known to Quorum: pause state and time zone for pacing and work hours."""

    user_id: str = Field(primary_key=True, max_length=32)
    paused: bool = False
    tz: str | None = None
    tz_offset_s: int | None = None
    tz_checked_at: datetime | None = _when(default=None)  # last users.info lookup
    # The bot's DM channel with them (conversations.open), shared by every process so
    # that each person's DM is opened once, not once per process or per queued message.
    dm_channel: str | None = Field(default=None, max_length=32)
    updated_at: datetime = _when(default_factory=utcnow)


class Item(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("project_id", "external_id"),
        Index("ix_item_project_status", "project_id", "status"),
        # The few items waiting for qualified reviewers, found by every dispatch pass.
        Index(
            "ix_item_understaffed",
            "project_id",
            "id",
            postgresql_where=text("understaffed IS NOT NULL"),
            sqlite_where=text("understaffed IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    external_id: str = Field(max_length=255)
    content: dict = _json(nullable=False)
    content_hash: str = Field(max_length=64)
    meta: dict | None = _json()
    gold: Any | None = _json()
    # The stored media the content names (bot/content/media.py export_reference), kept
    # apart so exports and feeds read them without the content; None for text items.
    media: list | None = _json()
    status: str = Field(default=ItemStatus.QUEUED, max_length=16)
    confidence: float | None = None
    route_reason: str | None = None
    failure: str | None = Field(default=None, sa_column=Column(Text))  # status `failed`: why
    # Languages and skills everyone taking part must have, as imported (bot/config/people.py).
    requires: dict | None = _json()
    # Why the item has fewer reviewers than it needs (nobody qualified is free), for
    # people; None while it is fully staffed. Dispatch tops it up as people qualify.
    understaffed: str | None = Field(default=None, sa_column=Column(Text))
    # Reviewers asked for this item when an adaptive overlap asked for more than its `min`.
    overlap: int | None = None
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class Assignment(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("item_id", "reviewer_id"),
        Index("ix_assignment_reviewer_status", "reviewer_id", "status"),
        Index("ix_assignment_status_due", "status", "due_at"),  # the expiry sweep
    )
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    reviewer_id: str = Field(max_length=32)
    status: str = Field(default=AssignmentStatus.PENDING, max_length=16)
    presentation: dict | None = _json()  # e.g. which response was shown as A
    channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    due_at: datetime | None = _when(default=None)
    reminders_sent: int = 0
    last_reminded_at: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=utcnow)
    answered_at: datetime | None = _when(default=None)


class Response(SQLModel, table=True):
    # A reviewer's counts (App Home, /quorum stats): today, this week, ever.
    __table_args__ = (Index("ix_response_reviewer_created", "reviewer_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", unique=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    reviewer_id: str = Field(max_length=32)
    value: Any = _json(nullable=False)
    rationale: str | None = Field(default=None, sa_column=Column(Text))
    flags: list | None = _json()
    latency_ms: int | None = None
    interaction_id: str | None = Field(default=None, max_length=64)
    revision: int = 1
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class Draft(SQLModel, table=True):
    """Partial answers (a rating with some criteria still missing)."""

    assignment_id: int = Field(foreign_key="assignment.id", primary_key=True)
    value: dict = _json(nullable=False)
    updated_at: datetime = _when(default_factory=utcnow)


class PreLabelRecord(SQLModel, table=True):
    __tablename__ = "prelabel"
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    model: str = Field(max_length=128)
    prompt_name: str = Field(max_length=128)
    prompt_hash: str = Field(max_length=64)
    value: Any | None = _json()
    confidence: float | None = None
    rationale: str | None = Field(default=None, sa_column=Column(Text))
    raw_output: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _when(default_factory=utcnow)


class Escalation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", unique=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    status: str = Field(default="open", max_length=16)
    # "sign_off": the leads' (in their channel); "review": one senior reviewer's check of
    # what the reviewers agreed on (in their DM), `assignee` naming them.
    stage: str = Field(default="sign_off", max_length=32)
    assignee: str | None = Field(default=None, max_length=32)
    reason: str | None = None
    summary: str | None = Field(default=None, sa_column=Column(Text))
    channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    reminders_sent: int = 0
    last_reminded_at: datetime | None = _when(default=None)
    resolved_by: str | None = Field(default=None, max_length=32)
    resolved_value: Any | None = _json()
    resolution_rationale: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _when(default_factory=utcnow)
    resolved_at: datetime | None = _when(default=None)


class Label(SQLModel, table=True):
    __table_args__ = (
        Index("ix_label_project_signed", "project_id", "signed_off_at"),
        Index("ix_label_feed", "project_id", "txid", "id"),  # the API's labels feed
    )
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", unique=True)
    project_id: int = Field(foreign_key="project.id")
    value: Any = _json(nullable=False)
    method: str = Field(max_length=16)  # consensus | lead | auto | gold
    agreement: float | None = None
    confidence: float | None = None
    config_version: int
    signed_off_by: str | None = Field(default=None, max_length=32)
    signed_off_at: datetime = _when(default_factory=utcnow)
    # PostgreSQL: the id of the transaction that signed it off (pg_current_xact_id). The
    # labels feed orders by (txid, id) and serves only rows of transactions older than
    # every one still running, so a label committed late never lands behind a cursor
    # already handed out. SQLite commits one writer at a time: NULL, and id order is
    # commit order.
    txid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Event(SQLModel, table=True):
    """Append-only, hash-chained audit log. One chain per item (or per project for
    project-level events) so concurrent writers never contend on one global head."""

    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_event_project_id", "project_id", "id"),
        Index("ix_event_project_kind", "project_id", "kind", "id"),  # recent flags
    )
    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=64)
    seq: int
    project_id: int | None = Field(default=None, foreign_key="project.id")
    item_id: int | None = Field(default=None, foreign_key="item.id", index=True)
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=64)
    data: dict = _json(nullable=False)
    created_at: datetime = _when(default_factory=utcnow)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Checkpoint(SQLModel, table=True):
    """A signed snapshot of every chain head of a project: deleting a whole chain after
    it, or rewriting one, no longer matches."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    heads: dict = _json(nullable=False)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    signature: str = Field(max_length=64)
    created_at: datetime = _when(default_factory=utcnow)


class OutboxMessage(SQLModel, table=True):
    """A Slack call the workflow wants, written in the same transaction as its cause."""

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=128)
    operation: str = Field(max_length=32)  # post_dm | post_message | update_message | ...
    payload: dict = _json(nullable=False)
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _when(default_factory=utcnow)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = _when(default=None)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    result: dict | None = _json()
    item_id: int | None = Field(default=None, foreign_key="item.id", index=True)
    # Indexed like every foreign key: SQLite checks the children of an assignment or an
    # escalation whose key is written, and without these that is a scan of the outbox.
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id", index=True)
    escalation_id: int | None = Field(default=None, foreign_key="escalation.id", index=True)
    created_at: datetime = _when(default_factory=utcnow)
    sent_at: datetime | None = _when(default=None)
    # A send slot already reserved under the pacing limits (bot/delivery/pacing.py).
    pace_slot_at: datetime | None = _when(default=None)
    # 0 interactive (a person is waiting), 1 bulk: claimed lane first (bot/delivery/outbox.py).
    lane: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class SlackDelivery(SQLModel, table=True):
    """Slack event ids already handled: retries of the same event change nothing."""

    __tablename__ = "slack_delivery"
    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = _when(default_factory=utcnow)


class ExportRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    format: str = Field(max_length=16)
    filters: dict = _json(nullable=False)
    rows: int = 0
    path: str | None = None
    created_at: datetime = _when(default_factory=utcnow)


class PaceBucket(SQLModel, table=True):
    """Shared pacing state of one Slack rate limit (a method, or a method in one channel),
    so every bot process draws from the same budget (GCRA: `tat` is the theoretical
    arrival time of the next call; `paused_until` is set by a 429's Retry-After)."""

    __tablename__ = "pace_bucket"
    key: str = Field(primary_key=True, max_length=96)
    tat: datetime = _when(default_factory=utcnow)
    paused_until: datetime | None = _when(default=None)
    # The share of the published rate this method is paced at: cut by each 429 the pacing
    # did not foresee (Slack's real ceiling is lower than we believed), regained slowly.
    rate_factor: float = 1.0
    # The same schedule for calls actually made: a paid slot that comes due late (the
    # sender was busy) still waits for this, so late slots never go out in one burst.
    sent_tat: datetime = _when(default_factory=utcnow)


class SchedulerLock(SQLModel, table=True):
    """One row per scheduled job and tick: the process that inserts it runs the job."""

    __tablename__ = "scheduler_lock"
    job: str = Field(primary_key=True, max_length=64)
    tick: str = Field(primary_key=True, max_length=32)
    owner: str = Field(max_length=64)
    created_at: datetime = _when(default_factory=utcnow)


class ReviewerGroup(SQLModel, table=True):
    """A Slack user group's members as last read (usergroups.users.list), shared by every
    process; refreshed on a schedule. `error` is the last lookup's Slack error, if any."""

    __tablename__ = "reviewer_group"
    group_id: str = Field(primary_key=True, max_length=32)
    members: list = _json(nullable=False)
    error: str | None = Field(default=None, max_length=64)
    refreshed_at: datetime = _when(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A bearer token of the REST API, for one project. Only its SHA-256 is stored; the
    token itself is printed once, by `quorum token create`."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=100)
    scope: str = Field(max_length=8)  # read | write
    token_hash: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=16)  # the token's first characters, to tell tokens apart
    created_at: datetime = _when(default_factory=utcnow)
    last_used_at: datetime | None = _when(default=None)
    revoked_at: datetime | None = _when(default=None)


class ApiIdempotency(SQLModel, table=True):
    """The first answer to a POST sent with an Idempotency-Key, replayed to its retries."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("token_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(foreign_key="api_token.id")
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)  # the same key with another body is refused
    status_code: int
    body: dict = _json(nullable=False)
    created_at: datetime = _when(default_factory=utcnow)


class Webhook(SQLModel, table=True):
    """A URL that receives a project's events, signed with `secret` (HMAC needs it in
    clear; it is never logged, exported or listed)."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    events: list = _json(nullable=False)
    secret: str = Field(max_length=128)
    created_at: datetime = _when(default_factory=utcnow)
    removed_at: datetime | None = _when(default=None)


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook, written in the transaction that caused it (the outbox
    of webhooks): sent in order per webhook, retried with backoff until a 2xx or until
    it gives up (`status` failed)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "webhook_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id")
    event_id: str = Field(max_length=64)  # Quorum-Webhook-Id: the same on every retry
    event_type: str = Field(max_length=32)
    body: dict = _json(nullable=False)  # the event as sent: id, type, created_at, project, data
    # label.signed_off: the label whose export row is the event's data, built when the
    # delivery is first sent (not in the sign-off's transaction) and kept in `body`.
    label_id: int | None = Field(default=None, foreign_key="label.id", index=True)
    status: str = Field(default="pending", max_length=16)  # pending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime = _when(default_factory=utcnow)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = _when(default=None)
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _when(default_factory=utcnow)
    delivered_at: datetime | None = _when(default=None)


class WebhookAttempt(SQLModel, table=True):
    """One POST of a delivery and how it ended (`quorum webhook log`)."""

    __tablename__ = "webhook_attempt"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    attempted_at: datetime = _when(default_factory=utcnow)
    status: int | None = None  # the HTTP status; None when no answer came
    error: str | None = Field(default=None, sa_column=Column(Text))
    duration_ms: int | None = None


class SlackFile(SQLModel, table=True):
    """A medium (or a rendition of it: a display PNG, a PDF page, a chart) as uploaded to
    Slack: one upload per content and rendition, reused for every reviewer. The row is
    taken (`claimed_until`) before the upload so that two senders do not both upload it;
    `ready_at` is set once files.info shows Slack has processed the file."""

    __tablename__ = "slack_file"
    sha256: str = Field(primary_key=True, max_length=64)
    rendition: str = Field(primary_key=True, max_length=32)  # "display", "page-1", ...
    file_id: str | None = Field(default=None, max_length=32)
    claimed_until: datetime | None = _when(default=None)
    uploaded_at: datetime | None = _when(default=None)
    ready_at: datetime | None = _when(default=None)
