"""The audit trail: append-only, hash-chained events.

Each item has its own chain (`item:<id>`), project-level changes live on `project:<id>`.
An event's hash covers its content and its predecessor's hash, so editing, deleting or
reordering events breaks the chain. Separate chains let several bot processes append
at once without a global lock; signed checkpoints (bot/audit_verify.py) pin the set of
chain heads so that deleting a whole chain is caught too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.models import Event, utcnow

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
        "created_at": created_at.isoformat(timespec="microseconds"),
        "prev_hash": prev_hash,
        "project_id": project_id,
        "item_id": item_id,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def hash_of(event: Event) -> str:
    return event_hash(
        chain=event.chain,
        seq=event.seq,
        kind=event.kind,
        actor=event.actor,
        data=event.data,
        created_at=event.created_at,
        prev_hash=event.prev_hash,
        project_id=event.project_id,
        item_id=event.item_id,
    )


def build_event(
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
) -> Event:
    """An event linked after (seq - 1, prev_hash); the caller adds it to a session."""
    created_at = at or utcnow()
    # Round-trip through JSON so the stored value hashes exactly as it reads back.
    data = json.loads(canonical_json(data))
    event = Event(
        chain=chain,
        seq=seq,
        prev_hash=prev_hash,
        kind=kind,
        actor=actor,
        data=data,
        project_id=project_id,
        item_id=item_id,
        created_at=created_at,
        hash="",
    )
    event.hash = hash_of(event)
    return event


def chain_head(session: Session, chain: str) -> tuple[int, str]:
    """(last seq, last hash) of a chain; (-1, GENESIS_HASH) when it is empty."""
    row = session.exec(
        select(Event.seq, Event.hash)
        .where(Event.chain == chain)
        .order_by(col(Event.seq).desc())
        .limit(1)
    ).first()
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
) -> Event:
    """Append an event to the item's chain (or the project's when no item is given).

    Two writers racing on one chain collide on the (chain, seq) unique constraint and
    one transaction fails whole; callers lock the item row first so this stays rare.
    """
    chain = item_chain(item_id) if item_id is not None else project_chain(project_id or 0)
    seq, prev = chain_head(session, chain)
    event = build_event(
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
    session.add(event)
    session.flush()
    return event
