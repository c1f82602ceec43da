"""Pacing under Slack's limits, shared through the database by every process."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.delivery.pacing import LIMITS, Pacer, buckets_for
from storage.db import session_scope


def reserve(engine, pacer: Pacer, buckets: list[str], now):  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return pacer.reserve(session, buckets, now)


def test_a_channel_takes_a_short_burst_then_one_message_a_second(engine, clock):
    pacer = Pacer()
    now = clock.now()
    buckets = buckets_for("chat.postMessage", "D01ALICE")
    decisions = [reserve(engine, pacer, buckets, now) for _ in range(6)]
    burst = LIMITS["chat.postMessage:channel"].burst
    assert [d.at for d in decisions[:burst]] == [None] * burst
    # The rest each hold a reserved slot, one second apart: no thundering herd later.
    later = [d for d in decisions[burst:]]
    assert all(d.reserved for d in later)
    assert [(d.at - now).total_seconds() for d in later] == [1.0, 2.0, 3.0]


def test_processes_share_one_budget(engine, clock):
    """Two pacers (two `quorum serve` processes) draw from the same bucket rows."""
    first, second = Pacer(), Pacer()
    now = clock.now()
    buckets = ["chat.update"]
    burst = LIMITS["chat.update"].burst
    taken = [reserve(engine, (first, second)[n % 2], buckets, now) for n in range(burst + 2)]
    assert sum(d.at is None for d in taken) == burst
    waits = sorted((d.at - now).total_seconds() for d in taken if d.at is not None)
    assert waits == [1.2, 2.4]  # Tier 3: 50 a minute


def test_other_channels_are_not_held_up_by_a_busy_one(engine, clock):
    pacer = Pacer()
    now = clock.now()
    for _ in range(5):
        reserve(engine, pacer, buckets_for("chat.postMessage", "D01ALICE"), now)
    assert reserve(engine, pacer, buckets_for("chat.postMessage", "D02BOB"), now).at is None


def test_a_429_pauses_the_whole_method_and_later_slots_start_after_it(engine, clock):
    pacer = Pacer()
    now = clock.now()
    with session_scope(engine) as session:
        pacer.pause(session, "chat.postMessage", now + timedelta(seconds=30), now)
    held = reserve(engine, pacer, buckets_for("chat.postMessage", "C0OTHER"), now)
    assert held.at == now + timedelta(seconds=30) and not held.reserved
    with session_scope(engine) as session:
        assert pacer.paused_until(session, ["chat.postMessage:C0OTHER"], now) == held.at
    after = now + timedelta(seconds=30)
    assert reserve(engine, pacer, buckets_for("chat.postMessage", "C0OTHER"), after).at is None
    # chat.update was never paused.
    assert reserve(engine, pacer, ["chat.update"], now).at is None


def test_scale_zero_turns_rate_pacing_off_but_keeps_429_pauses(engine, clock):
    pacer = Pacer(scale=0)
    now = clock.now()
    buckets = buckets_for("chat.postMessage", "D01ALICE")
    assert all(reserve(engine, pacer, buckets, now).at is None for _ in range(20))
    with session_scope(engine) as session:
        pacer.pause(session, "chat.postMessage", now + timedelta(seconds=5), now)
    assert reserve(engine, pacer, buckets, now).at == now + timedelta(seconds=5)


def test_scale_multiplies_the_rate(engine, clock):
    pacer = Pacer(scale=10)
    now = clock.now()
    buckets = ["chat.update"]
    decisions = [
        reserve(engine, pacer, buckets, now) for _ in range(LIMITS["chat.update"].burst + 1)
    ]
    assert (decisions[-1].at - now).total_seconds() == 0.12


def test_a_429_slows_the_method_down_and_quiet_minutes_bring_the_rate_back(engine, clock):
    """Slack's ceiling was lower than the published one: after a 429 the pacer spaces
    calls further apart, and regains the full rate over the following minutes."""
    pacer = Pacer()
    now = clock.now()
    burst = LIMITS["chat.update"].burst

    def spacing(at):  # type: ignore[no-untyped-def]
        taken = [reserve(engine, pacer, ["chat.update"], at) for _ in range(burst + 2)]
        waits = [d.at for d in taken if d.at is not None]
        return (waits[-1] - waits[-2]).total_seconds()

    assert spacing(now) == 1.2  # Tier 3: 50 a minute
    later = now + timedelta(minutes=5)
    with session_scope(engine) as session:
        pacer.pause(session, "chat.update", later + timedelta(seconds=10), later)
        # Rows that hit the same pause do not cut the rate again.
        pacer.pause(session, "chat.update", later + timedelta(seconds=10), later)
    after = later + timedelta(seconds=10)
    # Cut once to 70%, a tenth back after a quiet minute: 80% of 50 a minute.
    assert spacing(after + timedelta(minutes=1)) == pytest.approx(1.5)
    assert spacing(after + timedelta(minutes=30)) == 1.2
