"""Scheduled work at the right simulated times: reminders, reassignment, digests, and
each job once per tick however many processes run it. No sleeping: a FrozenClock and
`run_due_jobs(ctx, now)` stand in for APScheduler's timer."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlmodel import Session, select

from bot.delivery.jobs import JOBS
from bot.delivery.scheduler import QuorumScheduler, claim, run_due_jobs, tick_of
from storage.db import session_scope
from storage.models import AssignmentStatus, Checkpoint, ItemStatus, OutboxStatus, Reviewer
from tests.factories import (
    REVIEWERS,
    assignments,
    events,
    items,
    outbox_rows,
    posted_keys,
    slack_world,
    start_items,
    thread_replies,
    top_level_dms,
)

TIMING = {"reminder_after_hours": 24, "max_reminders": 2, "reassign_after_hours": 200}


def jobs(sandbox, *names: str):  # type: ignore[no-untyped-def]
    """Run the named jobs at the sandbox clock's now, then send what they queued."""
    ran = run_due_jobs(sandbox.ctx, sandbox.clock.now(), only=names)
    sandbox.settle()
    return ran


def pause(sandbox, user: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(sandbox.ctx.engine) as session:
        reviewer = session.get(Reviewer, user) or Reviewer(user_id=user)
        reviewer.paused = True
        session.add(reviewer)


def pending_reviewers(sandbox) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.reviewer_id for a in assignments(sandbox) if a.status == AssignmentStatus.PENDING]


def test_reminders_come_in_the_thread_after_the_configured_time_at_most_twice(world, tmp_path):
    start_items(world, tmp_path, timing=TIMING)
    world.settle()
    reviewers = pending_reviewers(world)
    answered = reviewers[0]
    world.sender.click(answered, world.latest_dm(answered), text="bug")
    world.clock.advance(hours=23, minutes=55)
    assert jobs(world, "reminders") == {"reminders": 0}
    world.clock.advance(minutes=5)  # 24 hours after the DMs went out
    assert jobs(world, "reminders") == {"reminders": 2}
    for user in reviewers[1:]:
        (reply,) = thread_replies(world, user)
        original = top_level_dms(world, user)[0]
        assert reply["thread_ts"] == original["ts"] and "still waiting" in reply["text"]
    assert not thread_replies(world, answered)  # answered: nothing to remind
    assert jobs(world, "reminders") == {"reminders": None}  # same tick: already done
    world.clock.advance(hours=24)
    assert jobs(world, "reminders") == {"reminders": 2}
    world.clock.advance(hours=24)
    assert jobs(world, "reminders") == {"reminders": 0}  # max_reminders reached
    assert [len(thread_replies(world, u)) for u in reviewers[1:]] == [2, 2]
    assert len(events(world, "reminder_sent")) == 4
    keys = posted_keys(world.emulator)
    assert set(keys.values()) == {1}


def test_paused_reviewers_get_no_reminders(world, tmp_path):
    start_items(world, tmp_path, timing=TIMING)
    world.settle()
    resting, *others = pending_reviewers(world)
    pause(world, resting)
    world.clock.advance(hours=24)
    assert jobs(world, "reminders") == {"reminders": 2}
    assert not thread_replies(world, resting)
    assert all(thread_replies(world, u) for u in others)


def test_a_reminder_queued_before_a_pause_is_dropped_not_sent(world, tmp_path):
    start_items(world, tmp_path, timing=TIMING)
    world.settle()
    world.clock.advance(hours=24)
    run_due_jobs(world.ctx, world.clock.now(), only=["reminders"])
    resting = pending_reviewers(world)[0]
    pause(world, resting)
    world.settle()
    assert not thread_replies(world, resting)
    dropped = [r for r in outbox_rows(world) if r.status == OutboxStatus.CANCELLED]
    assert len(dropped) == 1 and dropped[0].last_error == "reviewer paused"


def test_a_reminder_due_at_night_waits_for_the_reviewers_morning(database_url, clock, tmp_path):
    zones = {user: ("Asia/Tokyo", 32400) for user in REVIEWERS}  # UTC+9
    with slack_world(database_url, clock, time_zones=zones) as sandbox:
        clock.advance(hours=15)  # Tue 00:00 UTC = 09:00 in Tokyo: the DMs go out
        timing = dict(TIMING, reminder_after_hours=12)
        start_items(sandbox, tmp_path, timing=timing)
        sandbox.settle()
        reviewers = pending_reviewers(sandbox)
        assert all(top_level_dms(sandbox, u) for u in reviewers)
        clock.advance(hours=12)  # 21:00 in Tokyo: the reminder is due but it is evening
        assert jobs(sandbox, "reminders") == {"reminders": 3}
        assert not any(thread_replies(sandbox, u) for u in reviewers)
        held = [r for r in outbox_rows(sandbox) if r.idempotency_key.startswith("reminder:")]
        assert {r.next_attempt_at for r in held} == {clock.now() + timedelta(hours=12)}
        clock.advance(hours=12)  # 09:00 in Tokyo
        sandbox.settle()
        assert all(len(thread_replies(sandbox, u)) == 1 for u in reviewers)


def test_expired_assignments_go_to_someone_else_and_the_old_dm_says_so(world, tmp_path):
    start_items(world, tmp_path, overlap=2, timing=dict(TIMING, reassign_after_hours=72))
    world.settle()
    first = pending_reviewers(world)
    world.clock.advance(hours=71, minutes=55)
    assert jobs(world, "reassign_expired") == {"reassign_expired": 0}
    world.clock.advance(minutes=5)
    assert jobs(world, "reassign_expired") == {"reassign_expired": 2}
    second = pending_reviewers(world)
    assert sorted(first + second) == sorted(REVIEWERS)
    for user in first:  # the old DM lost its buttons and says where the item went
        old = top_level_dms(world, user)[0]
        assert "passed to another reviewer" in json.dumps(old["blocks"])
        assert not any(b.get("block_id", "").startswith("answer:") for b in old["blocks"])
    for user in second:
        assert len(top_level_dms(world, user)) == 1
    moved = events(world, "reassigned")
    assert sorted(e.data["from"] for e in moved) == sorted(first)
    assert {s for a in assignments(world) if (s := a.status) != AssignmentStatus.PENDING} == {
        AssignmentStatus.EXPIRED
    }
    # Nobody is left when the newcomers expire too: the item goes to the leads.
    world.clock.advance(hours=72)
    assert jobs(world, "reassign_expired") == {"reassign_expired": 2}
    (item,) = items(world)
    assert item.status == ItemStatus.ESCALATED


def test_a_dm_still_waiting_for_morning_is_withdrawn_when_it_expires(database_url, clock, tmp_path):
    zones = {user: ("Pacific/Kiritimati", 50400) for user in REVIEWERS}  # UTC+14: 23:00 now
    with slack_world(database_url, clock, time_zones=zones) as sandbox:
        start_items(sandbox, tmp_path, overlap=1, timing=dict(TIMING, reassign_after_hours=1))
        sandbox.settle()
        clock.advance(hours=1)
        assert jobs(sandbox, "reassign_expired") == {"reassign_expired": 1}
        statuses = sorted(r.status for r in outbox_rows(sandbox))
        assert statuses == [OutboxStatus.CANCELLED, OutboxStatus.PENDING]  # no update queued
        assert not sandbox.emulator.calls_to("chat.postMessage")


def test_the_daily_digest_is_posted_once_a_day_at_the_set_hour(world, tmp_path):
    start_items(world, tmp_path, count=3, digest_channel="C0DIGEST", timing=TIMING)
    world.settle()
    world.clock.advance(minutes=-1)  # 08:59
    assert jobs(world, "digest") == {"digest": 0}
    world.clock.advance(minutes=1)
    assert jobs(world, "digest") == {"digest": 1}
    world.clock.advance(minutes=15)
    assert jobs(world, "digest") == {"digest": 0}  # today's is out already
    (digest,) = world.channel_messages("C0DIGEST")
    text = json.dumps(digest["blocks"])
    assert "Daily digest" in digest["text"] and "3 in all" in text and "3 open" in text
    assert "t-1" in text and "Nobody" in text  # slowest items; nobody behind yet
    world.clock.advance(hours=24)
    assert jobs(world, "digest") == {"digest": 1}
    latest = world.channel_messages("C0DIGEST")[-1]
    behind = json.dumps(latest["blocks"])
    assert all(f"`{u}`: 3 overdue" in behind for u in pending_reviewers(world)[:1])


def test_each_job_runs_once_per_tick_across_processes(world):
    now = world.clock.now()
    first = run_due_jobs(world.ctx, now, owner="process-a")
    second = run_due_jobs(world.ctx, now, owner="process-b")
    assert all(v is not None for v in first.values())
    assert all(v is None for v in second.values())
    later = run_due_jobs(
        world.ctx, now + timedelta(minutes=5), owner="process-b", only=["reminders"]
    )
    assert later == {"reminders": 0}


def test_concurrent_claims_of_one_tick_have_a_single_winner(world):
    job = next(j for j in JOBS if j.name == "reminders")
    now = world.clock.now() + timedelta(days=1)
    wins: list[bool] = []
    barrier = threading.Barrier(6)

    def race(owner: str) -> None:
        barrier.wait()
        wins.append(claim(world.ctx, job, now, owner))

    threads = [threading.Thread(target=race, args=(f"p{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 5 + [True]


def test_ticks_are_aligned_the_same_in_every_process(clock):
    job = next(j for j in JOBS if j.name == "reminders")
    assert tick_of(job, clock.now() + timedelta(minutes=7)) == "2026-01-05T09:05:00"
    assert tick_of(job, clock.now() + timedelta(minutes=9, seconds=59)) == "2026-01-05T09:05:00"


def test_escalation_reminders_chase_open_escalations_in_their_thread(world, tmp_path):
    start_items(world, tmp_path, agreement=1.0, timing={**TIMING, "escalation_reminder_hours": 4})
    world.settle()
    for user, label in zip(pending_reviewers(world), ["bug", "account", "bug"], strict=True):
        world.sender.click(user, world.latest_dm(user), text=label)
    world.settle()
    assert [i.status for i in items(world)] == [ItemStatus.ESCALATED]
    world.clock.advance(hours=3)
    assert jobs(world, "escalation_reminders") == {"escalation_reminders": 0}
    world.clock.advance(hours=1, minutes=5)
    assert jobs(world, "escalation_reminders") == {"escalation_reminders": 1}
    replies = [
        m for m in world.channel_messages("C0ESCALATE") if m.get("thread_ts") not in (None, m["ts"])
    ]
    assert len(replies) == 1 and "<@U09LEAD>" in replies[0]["text"]


def test_audit_checkpoints_are_written_when_the_trail_grew(world, tmp_path):
    start_items(world, tmp_path)
    world.settle()
    assert jobs(world, "audit_checkpoint") == {"audit_checkpoint": 1}
    world.clock.advance(hours=1)
    assert jobs(world, "audit_checkpoint") == {"audit_checkpoint": 0}  # nothing new
    world.clock.advance(hours=1)
    reviewer = pending_reviewers(world)[0]
    world.sender.click(reviewer, world.latest_dm(reviewer), text="bug")
    world.clock.advance(seconds=1)
    assert jobs(world, "audit_checkpoint") == {"audit_checkpoint": 1}
    with Session(world.ctx.engine) as session:
        assert len(session.exec(select(Checkpoint)).all()) == 2


def test_the_apscheduler_registers_every_job_on_the_shared_ticks(world):
    scheduler = QuorumScheduler(world.ctx)
    scheduler.start()
    try:
        registered = {job.id: job for job in scheduler.scheduler.get_jobs()}
        assert set(registered) == {job.name for job in JOBS}
        reminders = registered["reminders"].next_run_time
        assert reminders.minute % 5 == 0 and reminders.second == 0
    finally:
        scheduler.shutdown()
    again = QuorumScheduler(world.ctx)  # a restart registers the same ids: no duplicates
    again.start()
    try:
        assert len(again.scheduler.get_jobs()) == len(JOBS)
    finally:
        again.shutdown()
    assert not again.running


def test_escalation_reminders_job_runs_the_real_escalation_flow(world):
    """Nothing is escalated yet, so nothing is reminded; the call itself must fit."""
    assert run_due_jobs(world.ctx, world.clock.now(), only=["escalation_reminders"]) == {
        "escalation_reminders": 0
    }
