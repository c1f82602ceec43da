"""Slack misbehaving and the bot dying mid-send: every request still arrives exactly once.

The in-process tests drive the real delivery worker against the emulator's faults
(429 with Retry-After, 500s, dropped connections) under a frozen clock. The last ones run
`quorum serve` as a real process, SIGKILL it between Slack's answer and the commit that
records it, restart it, and SIGTERM it mid-backlog.
"""

from __future__ import annotations

import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.sandbox.slack_emulator import SlackEmulator
from storage.db import make_engine
from storage.models import OutboxMessage, OutboxStatus, Response
from tests.factories import (
    LEAD,
    REVIEWERS,
    apply,
    import_samples,
    label_config,
    outbox_rows,
    posted_keys,
    serve,
    slack_world,
    start_items,
    top_level_dms,
    wait_for,
)


def review_keys(rows: list[OutboxMessage]) -> set[str]:
    return {r.idempotency_key for r in rows if r.idempotency_key.startswith("review:")}


def answer_everything(sandbox) -> int:  # type: ignore[no-untyped-def]
    clicks = 0
    for user in REVIEWERS:
        for message in top_level_dms(sandbox, user):
            if any(b.get("block_id", "").startswith("answer:") for b in message["blocks"]):
                assert sandbox.sender.click(user, message, text="Confirm: billing").status == 200
                clicks += 1
    return clicks


def settle_through(sandbox, clock, *, seconds: float, step: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    """Let simulated time pass, sending whatever falls due."""
    sandbox.settle()
    for _ in range(int(seconds / step)):
        clock.advance(seconds=step)
        sandbox.settle()


# -- the emulator's faults, in process ------------------------------------------------------


def test_429_pauses_the_method_for_retry_after_then_each_dm_goes_once(
    database_url, clock, tmp_path
):
    with slack_world(database_url, clock) as sandbox:
        sandbox.emulator.fail_next(
            "chat.postMessage", error="ratelimited", status=429, retry_after=30
        )
        start_items(sandbox, tmp_path, count=2)
        sandbox.settle()
        # One call hit the 429; every other DM waits for the pause instead of hammering Slack.
        assert len(sandbox.emulator.calls_to("chat.postMessage")) == 1
        waiting = [r for r in outbox_rows(sandbox) if r.status == OutboxStatus.PENDING]
        assert len(waiting) == 6
        assert {r.next_attempt_at for r in waiting} == {clock.now() + timedelta(seconds=30)}
        clock.advance(seconds=29)
        sandbox.settle()
        assert len(sandbox.emulator.calls_to("chat.postMessage")) == 1
        clock.advance(seconds=1)
        sandbox.settle()
        keys = posted_keys(sandbox.emulator)
        assert set(keys) == review_keys(outbox_rows(sandbox)) and set(keys.values()) == {1}
        assert len(keys) == 6


def test_server_errors_are_retried_with_backoff_and_checked_before_reposting(
    database_url, clock, tmp_path
):
    with slack_world(database_url, clock) as sandbox:
        sandbox.emulator.fail_next("chat.postMessage", status=500, error="internal_error", times=2)
        start_items(sandbox, tmp_path)
        sandbox.settle()
        retrying = [r for r in outbox_rows(sandbox) if r.status == OutboxStatus.PENDING]
        assert len(retrying) == 2
        # Backoff with jitter: the first retry comes between 0.5 s and 1 s later.
        for row in retrying:
            delay = (row.next_attempt_at - clock.now()).total_seconds()
            assert 0.5 <= delay <= 1.0 and row.last_error.startswith("uncertain")
        settle_through(sandbox, clock, seconds=2)
        keys = posted_keys(sandbox.emulator)
        assert len(keys) == 3 and set(keys.values()) == {1}
        # A 500 may hide a post that went through: the retries looked before posting.
        assert len(sandbox.emulator.calls_to("conversations.history")) == 2


def test_a_dropped_connection_is_checked_before_posting_again(database_url, clock, tmp_path):
    with slack_world(database_url, clock) as sandbox:
        sandbox.emulator.fail_next("chat.postMessage", drop_connection=True)
        start_items(sandbox, tmp_path)
        settle_through(sandbox, clock, seconds=2)
        keys = posted_keys(sandbox.emulator)
        assert len(keys) == 3 and set(keys.values()) == {1}
        assert [c.status for c in sandbox.emulator.calls_to("chat.postMessage")].count(0) == 1
        assert len(sandbox.emulator.calls_to("conversations.history")) == 1


def test_sent_but_not_recorded_is_found_not_resent(database_url, clock, tmp_path, monkeypatch):
    """Slack posted the DM, then the bot lost the answer before committing it (the same
    state a crash leaves). After the lease runs out the next attempt finds the message."""
    with slack_world(database_url, clock) as sandbox:
        worker = sandbox.runtime.delivery
        lost = []
        original = worker._mark_sent
        monkeypatch.setattr(
            worker,
            "_mark_sent",
            lambda plan, result: lost.append(result) if not lost else original(plan, result),
        )
        start_items(sandbox, tmp_path)
        sandbox.settle()
        stuck = [r for r in outbox_rows(sandbox) if r.status == OutboxStatus.SENDING]
        assert len(stuck) == 1 and stuck[0].last_error.startswith("uncertain")
        clock.advance(seconds=61)  # the dead sender's lease runs out
        sandbox.settle()
        keys = posted_keys(sandbox.emulator)
        assert len(keys) == 3 and set(keys.values()) == {1}
        recovered = next(r for r in outbox_rows(sandbox) if r.id == stuck[0].id)
        assert recovered.status == OutboxStatus.SENT and recovered.result["recovered"] is True
        assert recovered.result["ts"] == lost[0]["ts"]


def test_every_kind_of_fault_at_once_still_delivers_everything_once(database_url, clock, tmp_path):
    with slack_world(database_url, clock) as sandbox:
        emulator = sandbox.emulator
        emulator.fail_next("conversations.open", status=503, error="service_unavailable")
        emulator.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=3)
        emulator.fail_next("chat.postMessage", status=500, error="internal_error", times=2)
        emulator.fail_next("chat.postMessage", drop_connection=True, times=2)
        emulator.fail_next("chat.update", status=502, error="bad_gateway")
        emulator.fail_next("chat.update", drop_connection=True)
        start_items(sandbox, tmp_path, count=4)
        settle_through(sandbox, clock, seconds=60)
        assert answer_everything(sandbox) == 12
        emulator.fail_next("chat.update", error="ratelimited", status=429, retry_after=2)
        settle_through(sandbox, clock, seconds=60)
        rows = outbox_rows(sandbox)
        assert {r.status for r in rows} == {OutboxStatus.SENT}
        keys = posted_keys(emulator)
        assert set(keys) == review_keys(rows) and set(keys.values()) == {1}
        for user in REVIEWERS:  # every DM shows the recorded answer
            for message in top_level_dms(sandbox, user):
                assert not any(
                    b.get("block_id", "").startswith("answer:") for b in message["blocks"]
                )
        with Session(sandbox.ctx.engine) as session:
            assert len(session.exec(select(Response)).all()) == 12


# -- a real `quorum serve`, killed and restarted --------------------------------------------


def rows_in(engine) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
def emulator():  # type: ignore[no-untyped-def]
    with SlackEmulator(bot_token="xoxb-emulator-token") as running:
        for user in [*REVIEWERS, LEAD]:
            running.add_user(user)
        running.add_channel("C0ESCALATE", "escalations")
        yield running


def import_items(engine, tmp_path: Path, count: int) -> None:  # type: ignore[no-untyped-def]
    # These processes run on the real clock: a 24-hour work day, so no DM waits for morning.
    apply(engine, label_config(timing={"work_hours": (0, 0)}))
    import_samples(engine, tmp_path, "k", count)


def test_sigkill_between_send_and_commit_then_restart_sends_nothing_twice(
    database_url, emulator, tmp_path
):
    engine = make_engine(database_url)
    import_items(engine, tmp_path, count=3)
    # One sender thread: a second one could be mid-send (its row rightly "uncertain" too)
    # when the first kills the process, and this test is about exactly one such row.
    doomed = serve(
        database_url,
        emulator,
        tmp_path,
        QUORUM_FAULT_KILL_AFTER_SEND="1",
        QUORUM_DELIVERY_THREADS="1",
    )
    assert doomed.wait(timeout=60) == -signal.SIGKILL
    assert len(emulator.calls_to("chat.postMessage")) == 1
    in_doubt = [r for r in rows_in(engine) if r.status == OutboxStatus.SENDING and r.attempts]
    assert len(in_doubt) == 1 and in_doubt[0].last_error.startswith("uncertain")

    survivor = serve(database_url, emulator, tmp_path)
    try:
        wait_for(
            lambda: {r.status for r in rows_in(engine)} == {OutboxStatus.SENT},
            what="every DM to be sent after the restart",
        )
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0
    rows = rows_in(engine)
    keys = posted_keys(emulator)
    assert len(keys) == 9 and set(keys) == review_keys(rows) and set(keys.values()) == {1}
    redone = next(r for r in rows if r.id == in_doubt[0].id)
    assert redone.result["recovered"] is True
    engine.dispose()


def test_sigterm_finishes_the_send_in_flight_and_leaves_the_outbox_consistent(
    database_url, emulator, tmp_path
):
    engine = make_engine(database_url)
    import_items(engine, tmp_path, count=10)
    # Real pacing (about one DM a second per reviewer) keeps a backlog to stop in the middle of.
    process = serve(database_url, emulator, tmp_path, QUORUM_PACING_SCALE="1")
    wait_for(lambda: len(emulator.calls_to("chat.postMessage")) >= 14, what="a few DMs")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    rows = rows_in(engine)
    assert OutboxStatus.SENDING not in {r.status for r in rows}  # nothing left claimed
    sent = {r.idempotency_key for r in rows if r.status == OutboxStatus.SENT}
    assert 14 <= len(sent) < 30
    keys = posted_keys(emulator)
    assert set(keys) == sent and set(keys.values()) == {1}  # every post is on record
    posts_before = len(emulator.calls_to("chat.postMessage"))

    restarted = serve(database_url, emulator, tmp_path, QUORUM_PACING_SCALE="20")
    try:
        wait_for(
            lambda: {r.status for r in rows_in(engine)} == {OutboxStatus.SENT},
            what="the rest of the backlog",
        )
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=30) == 0
    keys = posted_keys(emulator)
    assert len(keys) == 30 and set(keys.values()) == {1}
    assert len(emulator.calls_to("chat.postMessage")) == posts_before + 30 - len(sent)
    assert Counter(c.method for c in emulator.calls if c.status != 200) == Counter()
    engine.dispose()
