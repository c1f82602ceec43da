"""`quorum audit verify`: prove the audit trail was not edited after the fact.

Three checks, all streamed:
1. every chain, event by event in (chain, seq) order: the stored hash is the hash of the
   event's content, seq counts up from 0 without a gap, and each event names its
   predecessor's hash (an edit, a deletion or a reordering breaks one of these);
2. every checkpoint: its hash matches its content, its HMAC signature is the audit key's,
   and it names the previous checkpoint's hash;
3. the latest checkpoint of each project: every chain head it pinned is still there, at
   the same seq with the same hash (so deleting an item's whole history, or rewriting a
   chain consistently up to its head, is caught).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from bot.audit.chain import GENESIS_HASH, checkpoint_hash, event_hash, sign_checkpoint
from storage import audit_queries

MAX_PROBLEMS_KEPT = 100


@dataclass(frozen=True)
class BrokenLink:
    """One place where the trail does not hold, described for a person."""

    problem: str
    chain: str | None = None
    event_id: int | None = None
    seq: int | None = None
    expected: str | None = None
    found: str | None = None
    item_id: int | None = None
    checkpoint_id: int | None = None


@dataclass
class VerifyReport:
    chains: int = 0
    events: int = 0
    checkpoints: int = 0
    problems: list[BrokenLink] = field(default_factory=list)
    problem_count: int = 0
    items: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (external, project)

    @property
    def intact(self) -> bool:
        return self.problem_count == 0

    def add(self, problem: BrokenLink) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)


def _item_of(chain: str) -> int | None:
    chain_type, _, ident = chain.partition(":")
    return int(ident) if chain_type == "item" and ident.isdigit() else None


class _ChainWalker:
    """Follows one chain at a time; remembers only the current chain's position."""

    def __init__(self, report: VerifyReport, pinned: dict[str, tuple[int, str, int]]) -> None:
        self.report = report
        self.pinned = pinned  # chain -> (seq, hash, checkpoint id), removed once seen
        self.chain: str | None = None
        self.next_seq = 0
        self.prev_hash = GENESIS_HASH
        self.last_seq = -1

    def _start(self, chain: str) -> None:
        self._finish()
        self.chain, self.next_seq, self.prev_hash, self.last_seq = chain, 0, GENESIS_HASH, -1
        self.report.chains += 1

    def _finish(self) -> None:
        """At the end of a chain: a pinned head beyond its last event means truncation."""
        if self.chain is None or self.chain not in self.pinned:
            return
        seq, digest, checkpoint_id = self.pinned.pop(self.chain)
        if seq > self.last_seq:
            self.report.add(
                BrokenLink(
                    f"events deleted: checkpoint {checkpoint_id} pinned this chain at seq "
                    f"{seq}, but it now ends at seq {self.last_seq}",
                    chain=self.chain,
                    seq=seq,
                    expected=digest,
                    found="(missing)",
                    item_id=_item_of(self.chain),
                    checkpoint_id=checkpoint_id,
                )
            )

    def visit(self, row: Any) -> None:
        """One event: an Event, or a row of storage.audit_queries.EVENT_COLUMNS."""
        if row.chain != self.chain:
            self._start(row.chain)
        self.report.events += 1
        base = {"chain": row.chain, "event_id": row.id, "seq": row.seq, "item_id": row.item_id}
        if row.seq != self.next_seq:
            self.report.add(
                BrokenLink(
                    f"sequence broken: expected seq {self.next_seq}, found seq {row.seq} "
                    "(an event was deleted or moved)",
                    expected=str(self.next_seq),
                    found=str(row.seq),
                    **base,
                )
            )
        if row.prev_hash != self.prev_hash:
            self.report.add(
                BrokenLink(
                    "link broken: the event does not name its predecessor's hash "
                    "(an event before it was deleted, edited or swapped)",
                    expected=self.prev_hash,
                    found=row.prev_hash,
                    **base,
                )
            )
        recomputed = event_hash(
            chain=row.chain,
            seq=row.seq,
            kind=row.kind,
            actor=row.actor,
            data=row.data,
            created_at=row.created_at,
            prev_hash=row.prev_hash,
            project_id=row.project_id,
            item_id=row.item_id,
        )
        if recomputed != row.hash:
            self.report.add(
                BrokenLink(
                    f"content edited: the `{row.kind}` event no longer hashes to its stored hash",
                    expected=row.hash,
                    found=recomputed,
                    **base,
                )
            )
        pinned = self.pinned.get(row.chain)
        if pinned and pinned[0] == row.seq and pinned[1] != row.hash:
            self.report.add(
                BrokenLink(
                    f"chain rewritten: checkpoint {pinned[2]} pinned a different hash at this seq",
                    expected=pinned[1],
                    found=row.hash,
                    checkpoint_id=pinned[2],
                    **base,
                )
            )
        self.next_seq = row.seq + 1
        self.prev_hash = row.hash
        self.last_seq = row.seq

    def close(self) -> None:
        self._finish()
        for chain, (seq, digest, checkpoint_id) in sorted(self.pinned.items()):
            self.report.add(
                BrokenLink(
                    f"chain deleted: checkpoint {checkpoint_id} pinned it at seq {seq}, "
                    "but none of its events remain",
                    chain=chain,
                    seq=seq,
                    expected=digest,
                    found="(missing)",
                    item_id=_item_of(chain),
                    checkpoint_id=checkpoint_id,
                )
            )
        self.pinned.clear()


def check_chain(events: Iterable[Any]) -> VerifyReport:
    """Check one chain's events (in seq order) on their own, without checkpoints."""
    report = VerifyReport()
    walker = _ChainWalker(report, {})
    for event in events:
        walker.visit(event)
    walker.close()
    return report


def _verify_checkpoints(
    session: Session, project_id: int, key: SecretStr | str | bytes, report: VerifyReport
) -> dict[str, tuple[int, str, int]]:
    """Check the project's checkpoint chain; return the heads pinned by its latest one."""
    prev_hash = GENESIS_HASH
    latest = None
    for checkpoint in audit_queries.iter_checkpoints(session, project_id):
        report.checkpoints += 1
        trail = f"checkpoints of project:{project_id}"
        digest = checkpoint_hash(
            project_id=checkpoint.project_id,
            heads=checkpoint.heads,
            prev_hash=checkpoint.prev_hash,
            created_at=checkpoint.created_at,
        )
        if digest != checkpoint.hash:
            report.add(
                BrokenLink(
                    f"checkpoint {checkpoint.id} edited: its content no longer hashes to its hash",
                    expected=checkpoint.hash,
                    found=digest,
                    chain=trail,
                    checkpoint_id=checkpoint.id,
                )
            )
        if not hmac.compare_digest(sign_checkpoint(checkpoint.hash, key), checkpoint.signature):
            report.add(
                BrokenLink(
                    f"checkpoint {checkpoint.id} forged: its signature is not the audit key's",
                    expected="HMAC-SHA256 of its hash under QUORUM_AUDIT_KEY",
                    found=checkpoint.signature,
                    chain=trail,
                    checkpoint_id=checkpoint.id,
                )
            )
        if checkpoint.prev_hash != prev_hash:
            report.add(
                BrokenLink(
                    f"checkpoint {checkpoint.id} out of line: it does not name the previous "
                    "checkpoint's hash (one was deleted or inserted)",
                    expected=prev_hash,
                    found=checkpoint.prev_hash,
                    chain=trail,
                    checkpoint_id=checkpoint.id,
                )
            )
        prev_hash = checkpoint.hash
        latest = checkpoint
    if latest is None:
        return {}
    latest_id = latest.id
    assert latest_id is not None  # read from the table, so it has its key
    return {chain: (seq, digest, latest_id) for chain, (seq, digest) in latest.heads.items()}


def verify_trail(
    engine: Engine, *, key: SecretStr | str | bytes, project_id: int | None = None
) -> VerifyReport:
    """Walk every chain (of one project, or all) and every checkpoint; see module doc."""
    report = VerifyReport()
    with Session(engine) as session:
        pinned: dict[str, tuple[int, str, int]] = {}
        for checkpointed in audit_queries.checkpoint_projects(session, project_id):
            pinned.update(_verify_checkpoints(session, checkpointed, key, report))
        walker = _ChainWalker(report, pinned)
        for row in audit_queries.iter_events(session, project_id=project_id):
            walker.visit(row)
        walker.close()
        item_ids = sorted({p.item_id for p in report.problems if p.item_id is not None})
        report.items = audit_queries.external_ids(session, item_ids)
    return report
