"""The delivery worker as reviewers notice it: one DM each, at a decent hour, paced,
and an item never stuck behind a reviewer Slack cannot reach."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from bot.delivery.pacing import LIMITS
from bot.delivery.worker import DeliveryWorker
from storage.db import session_scope
from storage.models import (
    AssignmentStatus,
    ItemStatus,
    OutboxStatus,
    PaceBucket,
    Reviewer,
)
from storage.outbox_store import backlog
from tests.factories import (
    REVIEWERS,
    assignments,
    conversation,
    events,
    import_file,
    items,
    outbox_rows,
    posted_keys,
    slack_world,
    start_items,
    top_level_dms,
    write_items,
)


def test_each_review_request_is_posted_once_and_recorded_in_the_audit_trail(world, tmp_path):
    start_items(world, tmp_path)
    world.settle()
    world.settle()  # a second pass finds nothing more to send
    keys = posted_keys(world.emulator)
    assert len(keys) == 3 and set(keys.values()) == {1}
    sent = {(e.data["channel"], e.data["ts"]) for e in events(world, "message_sent")}
    posted = {(a.channel, a.message_ts) for a in assignments(world)}
    assert len(sent) == 3 and sent == posted
    assert all(e.data["operation"] == "post_dm" for e in events(world, "message_sent"))


def test_an_unreachable_reviewer_is_replaced_and_the_item_moves_on(world, tmp_path):
    world.emulator.fail_next("conversations.open", error="user_not_found", status=200)
    start_items(world, tmp_path)
    world.settle()
    failed = [r for r in outbox_rows(world) if r.status == OutboxStatus.FAILED]
    assert len(failed) == 1 and failed[0].last_error == "user_not_found"
    by_status = {a.status for a in assignments(world)}
    assert by_status == {AssignmentStatus.PENDING, AssignmentStatus.REASSIGNED}
    gone = next(a for a in assignments(world) if a.status == AssignmentStatus.REASSIGNED)
    pending = [a for a in assignments(world) if a.status == AssignmentStatus.PENDING]
    assert len(pending) == 3 and gone.reviewer_id not in {a.reviewer_id for a in pending}
    assert all(top_level_dms(world, a.reviewer_id) for a in pending)  # the newcomer got a DM
    (moved,) = events(world, "reassigned")
    assert (
        moved.data["from"] == gone.reviewer_id and moved.data["reason"] == "slack: user_not_found"
    )
    with session_scope(world.ctx.engine) as session:
        assert backlog(session)["failed"] == 1


def test_with_nobody_left_the_item_is_decided_on_the_answers_it_has(world, tmp_path):
    world.emulator.fail_next("conversations.open", error="user_not_found", status=200)
    start_items(world, tmp_path, overlap=4)  # every reviewer already has it
    world.settle()
    for a in assignments(world):
        if a.status == AssignmentStatus.PENDING:
            world.sender.click(
                a.reviewer_id, world.latest_dm(a.reviewer_id), text="Confirm: billing"
            )
    world.settle()
    (item,) = items(world)
    assert item.status == ItemStatus.SIGNED_OFF


def test_an_item_nobody_can_take_is_escalated_not_left_waiting(world, tmp_path):
    for _ in range(4):
        world.emulator.fail_next("conversations.open", error="account_inactive", status=200)
    start_items(world, tmp_path, overlap=1)
    world.settle()
    (item,) = items(world)
    assert item.status == ItemStatus.ESCALATED
    assert {a.status for a in assignments(world)} == {AssignmentStatus.REASSIGNED}


def test_a_reviewer_at_night_gets_the_dm_at_the_start_of_their_day(database_url, clock, tmp_path):
    zones = {"U01ALICE": ("America/Los_Angeles", -28800)}
    with slack_world(database_url, clock, time_zones=zones) as sandbox:
        start_items(sandbox, tmp_path, overlap=4)
        sandbox.settle()  # 09:00 UTC is 01:00 in Los Angeles
        assert all(top_level_dms(sandbox, u) for u in REVIEWERS if u != "U01ALICE")
        assert not sandbox.emulator.messages(sandbox.emulator.dm_channel("U01ALICE"))
        held = next(r for r in outbox_rows(sandbox) if r.payload["user"] == "U01ALICE")
        assert held.status == OutboxStatus.PENDING and held.attempts == 0
        assert held.next_attempt_at == clock.now() + timedelta(hours=8)  # 09:00 there
        with Session(sandbox.ctx.engine) as session:
            alice = session.get(Reviewer, "U01ALICE")
            assert (alice.tz, alice.tz_offset_s) == ("America/Los_Angeles", -28800)
        clock.advance(hours=7, minutes=59)
        sandbox.settle()
        assert not top_level_dms(sandbox, "U01ALICE")
        clock.advance(minutes=1)
        sandbox.settle()
        assert len(top_level_dms(sandbox, "U01ALICE")) == 1
        # users.info was asked once per reviewer, not once per message.
        asked = [c.args["user"] for c in sandbox.emulator.calls_to("users.info")]
        assert sorted(asked) == sorted(REVIEWERS)


def test_dms_to_one_reviewer_are_paced_about_one_a_second(database_url, clock, tmp_path):
    with slack_world(database_url, clock, quorum_pacing_scale=1.0) as sandbox:
        start_items(sandbox, tmp_path, count=6, overlap=4)
        sandbox.settle()
        # A burst of three each, then one per second per conversation.
        assert [len(top_level_dms(sandbox, u)) for u in REVIEWERS] == [3, 3, 3, 3]
        clock.advance(seconds=1)
        sandbox.settle()
        assert [len(top_level_dms(sandbox, u)) for u in REVIEWERS] == [4, 4, 4, 4]
        clock.advance(seconds=2)
        sandbox.settle()
        assert [len(top_level_dms(sandbox, u)) for u in REVIEWERS] == [6, 6, 6, 6]
        assert len(sandbox.emulator.calls_to("conversations.open")) == 4  # DM ids are cached
        keys = posted_keys(sandbox.emulator)
        assert len(keys) == 24 and set(keys.values()) == {1}


def test_a_429_holds_rows_that_already_reserved_a_slot(database_url, clock, tmp_path):
    with slack_world(database_url, clock, quorum_pacing_scale=1.0) as sandbox:
        start_items(sandbox, tmp_path, count=5, overlap=4)
        sandbox.settle()
        slotted = [r for r in outbox_rows(sandbox) if r.pace_slot_at is not None]
        assert len(slotted) == 8  # two per reviewer, at +1 s and +2 s
        before = len(sandbox.emulator.calls_to("chat.postMessage"))
        sandbox.emulator.fail_next(
            "chat.postMessage", error="ratelimited", status=429, retry_after=20
        )
        clock.advance(seconds=1)
        sandbox.settle()
        # The first slotted row met the 429; the others wait out the pause, slot or not.
        assert len(sandbox.emulator.calls_to("chat.postMessage")) == before + 1
        clock.advance(seconds=18)
        sandbox.settle()
        assert len(sandbox.emulator.calls_to("chat.postMessage")) == before + 1
        for _ in range(6):
            clock.advance(seconds=1)
            sandbox.settle()
        keys = posted_keys(sandbox.emulator)
        assert len(keys) == 20 and set(keys.values()) == {1}


def test_an_update_for_a_dm_that_was_never_sent_is_dropped(world, tmp_path):
    from bot.delivery import outbox

    world.emulator.fail_next("conversations.open", error="user_not_found", status=200)
    start_items(world, tmp_path)
    world.settle()
    gone = next(a for a in assignments(world) if a.status == AssignmentStatus.REASSIGNED)
    with session_scope(world.ctx.engine) as session:
        outbox.enqueue_update(
            session,
            key="late-update",
            now=world.clock.now(),
            target={"assignment_id": gone.id},
            text="too late",
            blocks=[],
        )
    world.settle()
    (late,) = [r for r in outbox_rows(world) if r.idempotency_key == "late-update"]
    assert late.status == OutboxStatus.CANCELLED


def test_graceful_stop_hands_unstarted_claims_back(world, tmp_path):
    start_items(world, tmp_path, count=4)
    from bot.workflow.intake.dispatch import dispatch_queued

    dispatch_queued(world.ctx.engine, clock=world.clock, rng=world.rng)
    worker = world.runtime.delivery
    delivered = []
    original = worker._deliver

    def deliver_then_stop(claimed) -> None:  # type: ignore[no-untyped-def]
        original(claimed)
        delivered.append(claimed.id)
        worker._stop.set()  # SIGTERM arrives while the first row is in flight

    worker._deliver = deliver_then_stop  # type: ignore[method-assign]
    worker.run_once()
    rows = outbox_rows(world)
    assert len(delivered) == 1
    assert [r.status for r in rows].count(OutboxStatus.SENT) == 1
    assert OutboxStatus.SENDING not in {r.status for r in rows}
    assert len(posted_keys(world.emulator)) == 1


def test_late_pacing_slots_do_not_leave_in_one_burst(database_url, clock, tmp_path):
    """The sender fell behind (here: the clock jumps 30 s): the slots it missed are
    booked again, so the backlog leaves at the channel's rate, not all at once."""
    with slack_world(database_url, clock, quorum_pacing_scale=1.0) as sandbox:
        start_items(sandbox, tmp_path, count=10, overlap=4)
        sandbox.settle()
        # A burst of three each; seven more each hold slots at +1 s … +7 s.
        assert [len(top_level_dms(sandbox, u)) for u in REVIEWERS] == [3, 3, 3, 3]
        clock.advance(seconds=30)
        sandbox.settle()
        # Another burst of three, not all seven late ones at once.
        assert [len(top_level_dms(sandbox, u)) for u in REVIEWERS] == [6, 6, 6, 6]
        for _ in range(4):
            clock.advance(seconds=1)
            sandbox.settle()
        keys = posted_keys(sandbox.emulator)
        assert len(keys) == 40 and set(keys.values()) == {1}


def test_each_persons_dm_is_opened_once_even_after_a_restart(database_url, clock, tmp_path):
    with slack_world(database_url, clock, quorum_pacing_scale=1.0) as sandbox:
        start_items(sandbox, tmp_path, count=8, overlap=4)
        with session_scope(sandbox.ctx.engine) as session:
            # Every queued DM is paced, but conversations.open is booked once per person.
            sandbox.settle()
            opens = session.get(PaceBucket, "conversations.open")
            assert opens is not None
            interval = LIMITS["conversations.open"].interval(1.0)
            assert opens.tat - clock.now() <= interval * len(REVIEWERS)
        for _ in range(8):
            clock.advance(seconds=1)
            sandbox.settle()
        assert len(sandbox.emulator.calls_to("conversations.open")) == len(REVIEWERS)
        # A new process (no cache) reads the channels the first one opened.
        assert sandbox.runtime is not None
        old = sandbox.runtime.delivery
        sandbox.runtime.delivery = DeliveryWorker(
            sandbox.ctx.engine, old.outbound, clock=clock, pacer=old.pacer
        )
        import_file(
            sandbox.ctx.engine,
            write_items(
                tmp_path / "more.jsonl",
                [
                    {
                        "id": "late-1",
                        "conversation": conversation("one more"),
                        "prediction": {"label": "billing", "confidence": 0.5},
                    }
                ],
            ),
        )
        for _ in range(3):
            clock.advance(seconds=1)
            sandbox.settle()
        assert len(posted_keys(sandbox.emulator)) == 36
        assert len(sandbox.emulator.calls_to("conversations.open")) == len(REVIEWERS)


def test_a_review_message_slack_refuses_fails_its_item_and_no_other(world, tmp_path):
    """Slack rejects an item's review DM itself (invalid_blocks): nobody could be shown
    it, so the item is failed with the reason and its other DMs withdrawn, instead of
    waiting for an answer or being passed from reviewer to reviewer; the rest go on."""
    start_items(world, tmp_path, count=2)
    world.emulator.fail_next("chat.postMessage", error="invalid_blocks", status=200)
    world.settle()
    refused = next(r for r in outbox_rows(world) if r.last_error == "invalid_blocks")
    poison, other = sorted(items(world), key=lambda i: i.id != refused.item_id)
    assert poison.status == ItemStatus.FAILED and "invalid_blocks" in (poison.failure or "")
    mine = [a for a in assignments(world) if a.item_id == poison.id]
    assert {a.status for a in mine} == {AssignmentStatus.EXPIRED}
    assert [e.data["slack_error"] for e in events(world, "delivery_failed")] == ["invalid_blocks"]
    # Its other reviewers got nothing; the other item's three DMs all went out.
    keys = posted_keys(world.emulator)
    assert len(keys) == 3
    assert all(a.message_ts for a in assignments(world) if a.item_id == other.id)
    assert other.status == ItemStatus.ASSIGNED
