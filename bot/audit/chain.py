"""The audit trail: append-only, hash-chained events.

Each item has its own chain (`item:<id>`), project-level changes live on `project:<id>`.
An event's hash covers its content and its predecessor's hash, so editing, deleting or
reordering events breaks the chain. Separate chains let several bot processes append
at once without a global lock; signed checkpoints (bot/audit/verify.py) pin the set of
chain heads so that deleting a whole chain is caught too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from storage import audit_queries
from storage.models import Checkpoint, Event, utcnow

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def item_chain(item_id: int) -> str:
    return f"item:{item_id}"


def project_chain(project_id: int) -> str:
    return f"project:{project_id}"


def event_hash(
    *,
    chain: str,
    seq: int,
    kind: str,
    actor: str,
    data: dict,
    created_at: datetime,
    prev_hash: str,
    project_id: int | None,
    item_id: int | None,
) -> str:
    body = {
        "chain": chain,
        "seq": seq,
        "kind": kind,
        "actor": actor,
        "data": data,
        # UTC, whatever zone the database hands back (PostgreSQL uses the session's).
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "prev_hash": prev_hash,
        "project_id": project_id,
        "item_id": item_id,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def build_event_row(
    *,
    chain: str,
    seq: int,
    prev_hash: str,
    kind: str,
    actor: str,
    data: dict,
    project_id: int | None,
    item_id: int | None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of an event linked after (seq - 1, prev_hash). Bulk imports
    insert these directly: building ORM objects costs more than hashing."""
    created_at = at or utcnow()
    # Round-trip through JSON so the stored value hashes exactly as it reads back.
    data = json.loads(canonical_json(data))
    row: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "prev_hash": prev_hash,
        "kind": kind,
        "actor": actor,
        "data": data,
        "project_id": project_id,
        "item_id": item_id,
        "created_at": created_at,
    }
    row["hash"] = event_hash(**row)
    return row


# Built once: every answer appends an event, and building a statement costs more CPU
# than running it.
_HEAD = (
    select(Event.seq, Event.hash)
    .where(Event.chain == bindparam("chain"))
    .order_by(col(Event.seq).desc())
    .limit(1)
)
_APPEND = Event.__table__.insert()  # type: ignore[attr-defined]


def chain_head(session: Session, chain: str) -> tuple[int, str]:
    """(last seq, last hash) of a chain; (-1, GENESIS_HASH) when it is empty."""
    row = session.execute(_HEAD, {"chain": chain}).first()
    return (row[0], row[1]) if row else (-1, GENESIS_HASH)


def record_event(
    session: Session,
    kind: str,
    *,
    actor: str,
    data: dict,
    project_id: int | None,
    item_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """Append an event to the item's chain (or the project's when no item is given).

    Two writers racing on one chain collide on the (chain, seq) unique constraint and
    one transaction fails whole; callers lock the item row first so this stays rare.
    """
    chain = item_chain(item_id) if item_id is not None else project_chain(project_id or 0)
    seq, prev = chain_head(session, chain)
    row = build_event_row(
        chain=chain,
        seq=seq + 1,
        prev_hash=prev,
        kind=kind,
        actor=actor,
        data=data,
        project_id=project_id,
        item_id=item_id,
        at=at,
    )
    session.execute(_APPEND, row)  # a row, not an ORM object: nothing to flush later


# --- checkpoints ------------------------------------------------------------------------


def _secret(key: SecretStr | str | bytes) -> bytes:
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    return key.encode() if isinstance(key, str) else key


def checkpoint_hash(*, project_id: int, heads: dict, prev_hash: str, created_at: datetime) -> str:
    body = {
        "project_id": project_id,
        "heads": heads,
        "prev_hash": prev_hash,
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def sign_checkpoint(digest: str, key: SecretStr | str | bytes) -> str:
    """HMAC-SHA256 of the checkpoint's hash: only a holder of the audit key can make one."""
    return hmac.new(_secret(key), digest.encode(), hashlib.sha256).hexdigest()


def write_checkpoint(
    session: Session, project_id: int, now: datetime, key: SecretStr | str | bytes
) -> Checkpoint:
    """Pin every chain head of the project (chain -> [seq, hash]) in a signed checkpoint,
    linked to the project's previous one.

    Once written, deleting a whole item history, truncating a chain or rewriting it up to
    its head no longer matches the checkpoint. Checkpoint writers of one project queue on
    the project row; event writers are never blocked.
    """
    audit_queries.lock_project(session, project_id)
    heads = {
        chain: [seq, digest]
        for chain, seq, digest in audit_queries.chain_heads(session, project_id)
    }
    previous = audit_queries.latest_checkpoint(session, project_id)
    prev_hash = previous.hash if previous else GENESIS_HASH
    created_at = now.astimezone(UTC)
    digest = checkpoint_hash(
        project_id=project_id, heads=heads, prev_hash=prev_hash, created_at=created_at
    )
    checkpoint = Checkpoint(
        project_id=project_id,
        heads=heads,
        prev_hash=prev_hash,
        hash=digest,
        signature=sign_checkpoint(digest, key),
        created_at=created_at,
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint
