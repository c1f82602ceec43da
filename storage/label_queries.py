"""Reading signed-off labels and what led to them, page by page, for exports.

Exports read millions of rows, so these are Core selects returning plain named tuples
(no ORM objects, no identity map), paged by keyset on label id, and the related rows of
a page (responses, pre-labels, escalations) come in one query each.

Export rows skip SQLAlchemy's per-value type processing, which costs more than the
whole rest of an export: JSON columns are read as text (CAST … AS TEXT on both
backends) and decoded once with orjson, and times come back as ISO-8601 UTC strings
("2026-01-05T09:00:00.000000+00:00"), ready to write.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Select,
    String,
    Text,
    case,
    cast,
    func,
    or_,
    select,
    type_coerce,
)
from sqlmodel import Session, col

from storage import in_lists
from storage.models import (
    Assignment,
    Escalation,
    Event,
    ExportRun,
    Item,
    Label,
    PreLabelRecord,
    ProjectVersion,
    Response,
)


@dataclass(frozen=True)
class LabelFilter:
    """Which signed-off labels to read; empty tuples and None mean "any"."""

    statuses: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    signed_after: datetime | None = None  # exclusive (incremental exports)
    signed_from: datetime | None = None  # inclusive
    signed_before: datetime | None = None  # exclusive
    signed_until: datetime | None = None  # inclusive (the run's own time)
    min_agreement: float | None = None


def _json(column: Any) -> Any:
    return cast(column, Text).label(column.key)


def _time(column: Any) -> Any:
    """The stored value as the driver returns it: text on SQLite, a datetime on PostgreSQL."""
    return type_coerce(column, String).label(column.key)


def iso_time(value: str | datetime | None) -> str | None:
    """An ISO-8601 UTC string from a stored time, fast for SQLite's fixed text format."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":  # "YYYY-MM-DD HH:MM:SS.ffffff" (UTC)
            return f"{value[:10]}T{value[11:]}+00:00"
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _reader(
    name: str, columns: Sequence[Any], *, json_cols: Sequence[str], time_cols: Sequence[str]
) -> Callable[[Sequence[Any]], list[Any]]:
    """A named tuple type for these columns and a function turning raw rows into it."""
    names = [c.key for c in columns]
    make = namedtuple(name, names)._make  # type: ignore[attr-defined]  # fields known at run time only: mypy sees a plain tuple type
    json_at = [i for i, n in enumerate(names) if n in json_cols]
    time_at = [i for i, n in enumerate(names) if n in time_cols]

    loads = orjson.loads

    def read(rows: Sequence[Any]) -> list[Any]:
        out = []
        for row in rows:
            values = list(row)
            for i in json_at:
                if values[i] is not None:
                    values[i] = loads(values[i])
            for i in time_at:
                value = values[i]
                if value.__class__ is str and len(value) == 26:  # SQLite's stored UTC text
                    values[i] = f"{value[:10]}T{value[11:]}+00:00"
                else:
                    values[i] = iso_time(value)
            out.append(make(values))
        return out

    return read


def _rows(session: Session, query: Any, **params: Any) -> Sequence[Any]:
    """Run a Core select on the session's connection: the ORM result layer would double
    the cost of reading these plain rows."""
    return session.connection().execute(query, params).all()


def _of_items(session: Session, statement: Any, item_ids: Sequence[int]) -> Sequence[Any]:
    """Run one of the per-page statements below for these item ids."""
    dialect = session.connection().dialect.name
    return _rows(session, statement(dialect), item_ids=in_lists.bound(item_ids, dialect))


LABEL_COLUMNS = (
    col(Label.id),
    col(Label.item_id),
    _json(Label.value),
    col(Label.method),
    col(Label.agreement),
    col(Label.confidence),
    col(Label.config_version),
    col(Label.signed_off_by),
    _time(Label.signed_off_at),
    col(Item.external_id),
    col(Item.status),
    _json(Item.meta),
    col(Item.content_hash),
    _json(Item.media),
    type_coerce(Item.created_at, String).label("imported_at"),
)
# Rows of LABEL_COLUMNS as LabelRow (JSON decoded, times as ISO strings): the export's
# pages and the API's labels feed read them alike.
LABEL_TIMES = ("signed_off_at", "imported_at")
read_labels = _reader(
    "LabelRow", LABEL_COLUMNS, json_cols=("value", "meta", "media"), time_cols=LABEL_TIMES
)
LABEL_COLUMNS_WITH_CONTENT = LABEL_COLUMNS + (_json(Item.content),)
read_labels_with_content = _reader(
    "LabelRow",
    LABEL_COLUMNS_WITH_CONTENT,
    json_cols=("value", "meta", "media", "content"),
    time_cols=LABEL_TIMES,
)


def _filtered(query: Select, project_id: int, where: LabelFilter) -> Select:
    query = query.where(col(Label.project_id) == project_id)
    if where.statuses:
        query = query.where(col(Item.status).in_(where.statuses))
    if where.methods:
        query = query.where(col(Label.method).in_(where.methods))
    if where.signed_after is not None:
        query = query.where(col(Label.signed_off_at) > where.signed_after)
    if where.signed_from is not None:
        query = query.where(col(Label.signed_off_at) >= where.signed_from)
    if where.signed_before is not None:
        query = query.where(col(Label.signed_off_at) < where.signed_before)
    if where.signed_until is not None:
        query = query.where(col(Label.signed_off_at) <= where.signed_until)
    if where.min_agreement is not None:
        query = query.where(col(Label.agreement) >= where.min_agreement)
    return query


def count_labels(session: Session, project_id: int, where: LabelFilter) -> int:
    query = select(func.count()).select_from(Label).join(Item, col(Item.id) == Label.item_id)
    return session.execute(_filtered(query, project_id, where)).scalar_one()


def iter_label_pages(
    session: Session,
    project_id: int,
    where: LabelFilter = LabelFilter(),  # noqa: B008 (frozen, so a safe default)
    *,
    page: int = 1000,
    with_content: bool = False,
) -> Iterator[list[Any]]:
    """Pages of label rows (label columns + the item's external id, status, metadata,
    content hash, and its content when asked), in sign-off order.

    The keyset is (signed_off_at, id), the order of the (project_id, signed_off_at)
    index: each page is an index range scan. Paging by id alone made SQLite pick that
    index anyway and sort every remaining label for each page (quadratic).
    """
    columns = LABEL_COLUMNS_WITH_CONTENT if with_content else LABEL_COLUMNS
    read = read_labels_with_content if with_content else read_labels
    after: tuple[datetime, int] | None = None
    while True:
        query = _filtered(
            select(*columns).join(Item, col(Item.id) == Label.item_id), project_id, where
        )
        if after is not None:
            at, last_id = after
            query = query.where(
                col(Label.signed_off_at) >= at,
                or_(col(Label.signed_off_at) > at, col(Label.id) > last_id),
            )
        query = query.order_by(col(Label.signed_off_at), col(Label.id)).limit(page)
        rows = read(_rows(session, query))
        if not rows:
            return
        yield rows
        after = (datetime.fromisoformat(rows[-1].signed_off_at), rows[-1].id)


RESPONSE_COLUMNS = (
    col(Response.id),
    col(Response.assignment_id),
    col(Response.item_id),
    col(Response.reviewer_id),
    _json(Response.value),
    col(Response.rationale),
    col(Response.latency_ms),
    col(Response.revision),
    _time(Response.created_at),
    # Only a changed answer has a change time worth reading.
    type_coerce(case((col(Response.revision) > 1, Response.updated_at)), String).label(
        "changed_at"
    ),
    _json(Assignment.presentation),
    _json(Response.flags),
)
_read_responses = _reader(
    "ResponseRow",
    RESPONSE_COLUMNS,
    json_cols=("value", "presentation", "flags"),
    time_cols=("created_at", "changed_at"),
)

PRELABEL_COLUMNS = (
    col(PreLabelRecord.item_id),
    col(PreLabelRecord.model),
    col(PreLabelRecord.prompt_name),
    col(PreLabelRecord.prompt_hash),
    _json(PreLabelRecord.value),
    col(PreLabelRecord.confidence),
    col(PreLabelRecord.error),
    _time(PreLabelRecord.created_at),
)
_read_prelabels = _reader(
    "PreLabelRow", PRELABEL_COLUMNS, json_cols=("value",), time_cols=("created_at",)
)

ESCALATION_COLUMNS = (
    col(Escalation.item_id),
    col(Escalation.status),
    col(Escalation.stage),
    col(Escalation.assignee),
    col(Escalation.reason),
    col(Escalation.summary),
    col(Escalation.resolved_by),
    _json(Escalation.resolved_value),
    col(Escalation.resolution_rationale),
    _time(Escalation.created_at),
    _time(Escalation.resolved_at),
)
_read_escalations = _reader(
    "EscalationRow",
    ESCALATION_COLUMNS,
    json_cols=("resolved_value",),
    time_cols=("created_at", "resolved_at"),
)


@lru_cache
def _responses_of_items(dialect: str) -> Any:
    return (
        select(*RESPONSE_COLUMNS)
        .join(Assignment, col(Assignment.id) == Response.assignment_id)
        .where(in_lists.one_of(col(Response.item_id), "item_ids", dialect))
        .order_by(col(Response.item_id), col(Response.id))
    )


@lru_cache
def _prelabels_of_items(dialect: str) -> Any:
    return (
        select(*PRELABEL_COLUMNS)
        .where(in_lists.one_of(col(PreLabelRecord.item_id), "item_ids", dialect))
        .order_by(col(PreLabelRecord.item_id), col(PreLabelRecord.id))
    )


@lru_cache
def _escalations_of_items(dialect: str) -> Any:
    return select(*ESCALATION_COLUMNS).where(
        in_lists.one_of(col(Escalation.item_id), "item_ids", dialect)
    )


# What reviewers did besides their recorded answers: skips and changed answers (the
# earlier value is only in the change's event).
HISTORY_KINDS = ("skipped", "answer_changed")
HISTORY_COLUMNS = (
    col(Event.item_id),
    col(Event.kind),
    col(Event.actor),
    _json(Event.data),
    _time(Event.created_at),
)
_read_history = _reader(
    "HistoryRow", HISTORY_COLUMNS, json_cols=("data",), time_cols=("created_at",)
)


@lru_cache
def _history_of_items(dialect: str) -> Any:
    return (
        select(*HISTORY_COLUMNS)
        .where(
            in_lists.one_of(col(Event.item_id), "item_ids", dialect),
            col(Event.kind).in_(HISTORY_KINDS),
        )
        .order_by(col(Event.item_id), col(Event.id))
    )


def history_rows(session: Session, item_ids: Sequence[int]) -> dict[int, dict[str, list[Any]]]:
    """item id -> event kind (HISTORY_KINDS) -> its events of that kind, oldest first."""
    found: dict[int, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    if item_ids:
        for row in _read_history(_of_items(session, _history_of_items, item_ids)):
            found[row.item_id][row.kind].append(row)
    return found


def response_rows(session: Session, item_ids: Sequence[int]) -> dict[int, list[Any]]:
    """item id -> its responses (with the assignment's presentation), oldest first."""
    found: dict[int, list[Any]] = defaultdict(list)
    if item_ids:
        rows = _of_items(session, _responses_of_items, item_ids)
        for row in _read_responses(rows):
            found[row.item_id].append(row)
    return found


def prelabel_rows(session: Session, item_ids: Sequence[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = defaultdict(list)
    if item_ids:
        rows = _of_items(session, _prelabels_of_items, item_ids)
        for row in _read_prelabels(rows):
            found[row.item_id].append(row)
    return found


def escalation_rows(session: Session, item_ids: Sequence[int]) -> dict[int, Any]:
    if not item_ids:
        return {}
    rows = _of_items(session, _escalations_of_items, item_ids)
    return {row.item_id: row for row in _read_escalations(rows)}


def config_hashes(session: Session, project_id: int) -> dict[int, str]:
    """version -> config hash, for every version of the project (a handful of rows)."""
    rows = session.execute(
        select(col(ProjectVersion.version), col(ProjectVersion.config_hash)).where(
            col(ProjectVersion.project_id) == project_id
        )
    )
    return {version: digest for version, digest in rows}


def project_people(session: Session, project_id: int) -> set[str]:
    """Every person named by any version of the project's config: reviewers (plain ids
    or entries with an `id`), senior reviewers, leads, owners and auditors."""
    people: set[str] = set()
    for (config,) in session.execute(
        select(col(ProjectVersion.config)).where(col(ProjectVersion.project_id) == project_id)
    ):
        for role in ("reviewers", "senior_reviewers", "leads", "owners", "auditors"):
            for entry in config.get(role) or []:
                person = entry.get("id") if isinstance(entry, dict) else entry
                if isinstance(person, str):
                    people.add(person)
    return people


def last_export_run(session: Session, project_id: int, format: str) -> ExportRun | None:  # noqa: A002
    return session.scalars(
        select(ExportRun)
        .where(col(ExportRun.project_id) == project_id, col(ExportRun.format) == format)
        .order_by(col(ExportRun.id).desc())
        .limit(1)
    ).first()


def commit_position(session: Session) -> Any:
    """What a new label's `txid` is set to: on PostgreSQL the writing transaction's id,
    evaluated in the INSERT (the labels feed's commit order); None on SQLite, whose
    single writer makes label ids commit order."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return cast(cast(func.pg_current_xact_id(), Text), BigInteger)
