"""Items over HTTP: `POST .../items` stores a list of items exactly as `quorum import`
stores a file (the same validation, all or nothing, an id imported before with other
content refused), with an optional Idempotency-Key; `GET .../items/{id}` reads one item's
state, its answers so far and, once signed off, its label."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.api.auth import Caller
from bot.api.errors import (
    IDEMPOTENCY_KEY_REUSED,
    INVALID_ITEMS,
    ITEM_CONFLICT,
    TOO_MANY_ITEMS,
    ApiError,
    detail,
)
from bot.api.schemas import MAX_ITEMS
from bot.audit.provenance import iso
from bot.exports.records import label_records
from bot.intake.bounds import ItemLimits
from bot.intake.importer import (
    ImportRejected,
    ItemProblem,
    ItemsConflict,
    StagedItems,
    import_records,
    validate_items,
)
from bot.intake.reading import parse_json
from bot.intake.records import RecordError
from bot.runtime.context import QuorumContext
from bot.workflow.project_versions import project_config
from bot.workflow.transaction import transact
from storage import api_queries
from storage.models import ApiIdempotency, ItemStatus, Project

SOURCE = "api"  # what the items' `item_created` events name as their source
MAX_ID = 255  # an item id's length (storage.models.Item.external_id)

# The API's item states: assignment and answering are both "in review".
PUBLIC_STATUS = {
    ItemStatus.QUEUED: "queued",
    ItemStatus.ASSIGNED: "in_review",
    ItemStatus.ANSWERED: "in_review",
    ItemStatus.ESCALATED: "escalated",
    ItemStatus.SIGNED_OFF: "signed_off",
    ItemStatus.AUTO_ACCEPTED: "auto_accepted",
    ItemStatus.FAILED: "failed",
}


@dataclass(frozen=True)
class Submitted:
    status: int  # 201 when anything was created, else 200
    body: dict[str, Any]
    # A replay (the stored answer to an earlier request with the same key) says so.
    headers: dict[str, str] = field(default_factory=dict)


# -- reading the body ---------------------------------------------------------------------


def read_items(body: bytes, limits: ItemLimits) -> list[Any]:
    """The list under `items` of a JSON body; ApiError 422 naming what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422,
            f"the body is not UTF-8 (byte 0x{body[exc.start]:02x} at {exc.start})",
            field="body",
        ) from None
    try:
        payload = parse_json(text, limits)
    except RecordError as exc:
        problem = ItemProblem.of(None, str(exc))
        raise ApiError(422, f"the body: {problem.message}", field=problem.field or "body") from None
    if not isinstance(payload, dict):
        raise ApiError(422, 'the body must be a JSON object: {"items": [...]}', field="body")
    unknown = sorted(str(key) for key in payload if key != "items")
    if unknown:
        raise ApiError(
            422,
            "the body holds only `items`",
            details=[detail(key, "not a field of the request") for key in unknown],
        )
    items = payload.get("items")
    if not isinstance(items, list):
        wrong = "is missing" if "items" not in payload else "must be a list of item objects"
        raise ApiError(422, f"`items` {wrong}", field="items")
    if len(items) > MAX_ITEMS:
        raise ApiError(
            422,
            f"{len(items):,} items, over the limit of {MAX_ITEMS:,} per request: "
            "send them in several requests",
            field="items",
            code=TOO_MANY_ITEMS,
        )
    return items


def request_digest(project: str, items: list[Any], body: bytes) -> str:
    """What an Idempotency-Key is bound to: the project and the items, as JSON values (so
    a retry that re-serialises the same items still matches)."""
    try:
        text = json.dumps(
            [project, items], sort_keys=True, ensure_ascii=True, separators=(",", ":")
        )
    except RecursionError:  # nested too deep to encode again: refused anyway, by its bytes
        return hashlib.sha256(project.encode() + b"\n" + body).hexdigest()
    return hashlib.sha256(text.encode()).hexdigest()


# -- storing ----------------------------------------------------------------------------


def _replayed(record: ApiIdempotency, digest: str) -> Submitted:
    if record.request_hash != digest:
        raise ApiError(
            409,
            "this Idempotency-Key was used for another request; use a new key for new items",
            field="Idempotency-Key",
            code=IDEMPOTENCY_KEY_REUSED,
        )
    return Submitted(
        record.status_code,
        dict(record.body),
        headers={"Idempotent-Replayed": "true"},
    )


def _refused(exc: ImportRejected) -> ApiError:
    """An import's refusal as the API's: each problem placed at its item and field."""
    conflict = isinstance(exc, ItemsConflict)
    details = []
    for problem in exc.details:
        where = "items" if problem.at is None else f"items.{problem.at}"
        name = problem.field or ("id" if conflict else None)
        details.append(
            detail(f"{where}.{name}" if name else where, problem.message, index=problem.at)
        )
    if conflict:
        message = f"{exc.total} item(s) were imported before with other content; nothing was stored"
        return ApiError(409, message, details=details, code=ITEM_CONFLICT)
    return ApiError(
        422,
        f"{exc.total} problem(s) in the items; nothing was stored",
        details=details,
        code=INVALID_ITEMS,
    )


def submit_items(
    ctx: QuorumContext, caller: Caller, body: bytes, *, idempotency_key: str | None
) -> Submitted:
    limits = ItemLimits(max_bytes=ctx.settings.quorum_max_item_bytes)
    items = read_items(body, limits)
    digest = request_digest(caller.project, items, body)
    with Session(ctx.engine) as session:
        if idempotency_key is not None:
            earlier = api_queries.idempotency_record(session, caller.token_id, idempotency_key)
            if earlier is not None:
                return _replayed(earlier, digest)
        project = session.get(Project, caller.project_id)
        assert project is not None  # the caller's token names it
        config = project_config(session, project)
    # Validated outside the transaction: SQLite's write lock is not held meanwhile.
    try:
        staged = validate_items(items, config, limits=limits, settings=ctx.settings)
    except ImportRejected as exc:
        raise _refused(exc) from None
    try:
        return transact(
            ctx,
            lambda session, now: _store(session, now, caller, staged, idempotency_key, digest),
        )
    except ImportRejected as exc:
        raise _refused(exc) from None
    finally:
        staged.close()


def _store(
    session: Session,
    now: datetime,
    caller: Caller,
    staged: StagedItems,
    key: str | None,
    digest: str,
) -> Submitted:
    """One transaction: the items, their events and the idempotency record together. A
    racing request with the same key loses on the record's unique key, and its retry
    (bot.workflow.transaction) replays the winner's answer."""
    api_queries.begin_writing(session)
    if key is not None:
        earlier = api_queries.idempotency_record(session, caller.token_id, key)
        if earlier is not None:
            return _replayed(earlier, digest)
    project = session.get(Project, caller.project_id)
    assert project is not None  # the caller's token names it
    report = import_records(session, project, staged, source=SOURCE, actor=caller.actor, now=now)
    body = {"created": report.created, "unchanged": report.unchanged}
    status = 201 if report.created else 200
    if key is not None:
        api_queries.save_idempotency(
            session,
            token_id=caller.token_id,
            key=key,
            request_hash=digest,
            status_code=status,
            body=body,
            now=now,
        )
    return Submitted(status, body)


# -- one item's state -----------------------------------------------------------------------


def item_state(ctx: QuorumContext, caller: Caller, external_id: str) -> dict[str, Any]:
    unknown = ApiError(404, f"no item with id {external_id!r} in {caller.project}", field="id")
    if not external_id or len(external_id) > MAX_ID or "\x00" in external_id:
        raise unknown  # no import stores such an id (and PostgreSQL cannot compare a NUL)
    with Session(ctx.engine) as session:
        item = api_queries.item_by_external_id(session, caller.project_id, external_id)
        if item is None or item.id is None:
            raise unknown
        answers = api_queries.item_responses(session, item.id)
        label_id = api_queries.label_id_of_item(session, item.id)
        records = label_records(session, caller.project_id, [label_id]) if label_id else []
    record = records[0] if records else None
    return {
        "id": item.external_id,
        "project": caller.project,
        "status": PUBLIC_STATUS.get(item.status, "in_review"),
        "failure": item.failure if item.status == ItemStatus.FAILED else None,
        "waiting": item.understaffed,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "answers": [
            {
                "reviewer": answer.reviewer_id,
                "value": answer.value,
                "answered_at": iso(answer.created_at),
                "changed_at": iso(answer.updated_at) if answer.revision > 1 else None,
                "revision": answer.revision,
            }
            for answer in answers
        ],
        "label": record,
        "provenance": record["provenance"] if record else None,
    }
