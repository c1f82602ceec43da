"""Pacing Slack calls under Slack's rate limits, shared by every bot process.

Each limit is a bucket row in the database (storage.models.PaceBucket) run as a GCRA
(generic cell rate algorithm): `tat` is when the next call would be on schedule, and a
call may go when `tat - tolerance <= now`, the tolerance being the burst Slack allows.
Because the state lives in the shared database and is updated under a row lock, N
`quorum serve` processes draw from one budget instead of each believing it has the
whole limit.

A row that may not go now reserves the next free slot (the bucket's `tat` moves on) and
is put back in the outbox due at that slot, so a hundred DMs to one person leave one
second apart instead of all retrying at once. When the slot comes the row is admitted
against a second schedule, of calls actually made (`sent_tat`): slots that come due late
(the sender was busy) keep their place but leave at the rate, never in one burst.

A 429 pauses the whole method for its Retry-After (`paused_until`), not just the row that
hit it, and teaches the pacer that Slack's ceiling is lower than it believed: the method's
`rate_factor` is cut (multiplicative decrease) and comes back by a tenth of the published
rate per quiet minute (additive increase), as TCP does with its window.

Limits (DESIGN.md): chat.postMessage about 1/s per channel with short bursts and a
workspace cap of several hundred a minute; Tier 3 (about 50/min) for chat.update and
conversations.open; Tier 4 (about 100/min) for views.* and users.info.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from storage import outbox_store
from storage.models import PaceBucket


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: int  # calls allowed back to back before the rate applies

    def interval(self, scale: float) -> timedelta:
        return timedelta(seconds=60.0 / (self.per_minute * scale))

    def tolerance(self, scale: float) -> timedelta:
        return self.interval(scale) * (self.burst - 1)


CHANNEL_POSTS = "chat.postMessage:channel"
LIMITS: dict[str, Limit] = {
    # Workspace-wide cap: the steady rate plus the burst stay within 300 in any minute,
    # so a burst never costs a 429.
    "chat.postMessage": Limit(per_minute=280, burst=20),
    CHANNEL_POSTS: Limit(per_minute=60, burst=3),  # ~1 message per second per channel
    "chat.update": Limit(per_minute=50, burst=10),  # Tier 3
    "conversations.open": Limit(per_minute=50, burst=10),  # Tier 3
    "views.publish": Limit(per_minute=100, burst=20),  # Tier 4
    "views.update": Limit(per_minute=100, burst=20),  # Tier 4
    "users.info": Limit(per_minute=100, burst=20),  # Tier 4
    # A file shared into a DM: getUploadURLExternal and completeUploadExternal, Tier 4.
    "files.completeUploadExternal": Limit(per_minute=100, burst=20),
}
DEFAULT_LIMIT = Limit(per_minute=20, burst=5)  # Tier 2, for anything not listed
CUT_ON_429 = 0.7  # rate_factor *= this on a 429 pacing did not foresee
MIN_FACTOR = 0.2
REGAIN_PER_MINUTE = 0.1  # of the published rate, per minute since the last pause ended


def method_of(bucket: str) -> str:
    return bucket.split(":", 1)[0]


def limit_of(bucket: str) -> Limit:
    if ":" in bucket:
        return LIMITS.get(f"{method_of(bucket)}:channel", DEFAULT_LIMIT)
    return LIMITS.get(bucket, DEFAULT_LIMIT)


def buckets_for(method: str, channel: str | None = None) -> list[str]:
    """The buckets one call draws from: the method's workspace budget, and for posts
    the channel's own budget too."""
    if method == "chat.postMessage" and channel:
        return [method, f"{method}:{channel}"]
    return [method]


@dataclass(frozen=True)
class Decision:
    """`at` is None to go now; otherwise try again then. `reserved` says the slot at
    `at` is already paid for (the row keeps it in OutboxMessage.pace_slot_at)."""

    at: datetime | None
    reserved: bool = False


GO = Decision(None)


class Pacer:
    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale  # 0 turns rate pacing off; Retry-After pauses still hold

    def reserve(self, session: Session, buckets: Iterable[str], now: datetime) -> Decision:
        """Take a slot in every bucket at once (all or none), now or the earliest time
        all of them allow."""
        keys = sorted(set(buckets))
        if not keys:
            return GO
        rows = outbox_store.lock_pace_buckets(session, keys, now=now)
        paused = _paused_until(rows.values(), now)
        if paused is not None:
            return Decision(paused)
        if self.scale <= 0:
            return GO
        scales = self._scales(rows, now)
        slot = now
        for key, row in rows.items():
            slot = max(slot, row.tat - limit_of(key).tolerance(scales[key]))
        for key, row in rows.items():
            row.tat = max(row.tat, slot) + limit_of(key).interval(scales[key])
            session.add(row)
        if slot > now:
            return Decision(slot, reserved=True)
        return self._admit(session, rows, scales, now)

    def admit(self, session: Session, buckets: Iterable[str], now: datetime) -> Decision:
        """For a row whose paid slot has come: go now, unless a 429 pause holds the
        method or the calls actually made are ahead of the schedule (the slot came due
        late, with others); then it waits, keeping its slot."""
        rows = outbox_store.lock_pace_buckets(session, sorted(set(buckets)), now=now)
        paused = _paused_until(rows.values(), now)
        if paused is not None:
            return Decision(paused, reserved=True)
        if self.scale <= 0 or not rows:
            return GO
        return self._admit(session, rows, self._scales(rows, now), now)

    def _scales(self, rows: dict[str, PaceBucket], now: datetime) -> dict[str, float]:
        return {key: self.scale * _factor(rows, key, now) for key in rows}

    @staticmethod
    def _admit(
        session: Session, rows: dict[str, PaceBucket], scales: dict[str, float], now: datetime
    ) -> Decision:
        at = now
        for key, row in rows.items():
            at = max(at, row.sent_tat - limit_of(key).tolerance(scales[key]))
        if at > now:
            return Decision(at, reserved=True)
        for key, row in rows.items():
            row.sent_tat = max(row.sent_tat, now) + limit_of(key).interval(scales[key])
            session.add(row)
        return GO

    def paused_until(
        self, session: Session, buckets: Iterable[str], now: datetime
    ) -> datetime | None:
        """For a row holding a reserved slot: is one of its methods paused by a 429?"""
        methods = sorted({method_of(b) for b in buckets})
        if not methods:
            return None
        rows = session.exec(select(PaceBucket).where(col(PaceBucket.key).in_(methods))).all()
        return _paused_until(rows, now)

    def pause(self, session: Session, method: str, until: datetime, now: datetime) -> None:
        """Slack said 429 for `method`: nobody calls it before `until`, and slots
        reserved from now on start after the pause."""
        row = outbox_store.lock_pace_buckets(session, [method], now=now)[method]
        already_paused = row.paused_until is not None and row.paused_until > now
        if not already_paused:  # one cut per episode, not one per row that hit it
            factor = _regained(row.rate_factor, row.paused_until, now)
            row.rate_factor = max(MIN_FACTOR, factor * CUT_ON_429)
        row.paused_until = max(row.paused_until or until, until)
        row.tat = max(row.tat, until)
        session.add(row)


def _regained(factor: float, paused_until: datetime | None, now: datetime) -> float:
    if factor >= 1.0 or paused_until is None:
        return min(1.0, factor)
    quiet_minutes = max(0.0, (now - paused_until).total_seconds() / 60.0)
    return min(1.0, factor + REGAIN_PER_MINUTE * quiet_minutes)


def _factor(rows: dict[str, PaceBucket], key: str, now: datetime) -> float:
    """The learnt share of the published rate for `key`: its method's (a channel's
    bucket follows the workspace bucket of its method when that one is in `rows`)."""
    row = rows.get(method_of(key), rows[key])
    return _regained(row.rate_factor, row.paused_until, now)


def _paused_until(rows: Iterable[PaceBucket], now: datetime) -> datetime | None:
    pauses = [r.paused_until for r in rows if r.paused_until is not None and r.paused_until > now]
    return max(pauses) if pauses else None
