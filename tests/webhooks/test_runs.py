"""Runs: a sender claims a webhook's due deliveries together (up to 50, under one lease)
and sends them one after another, recording each attempt as it ends. A burst to one
endpoint costs one transaction per delivery plus a few per run; a failure stops the run
there and the rest follow it in order; a stopping sender, a removed webhook and a sender
that stalls past its lease send nothing out of order and nothing twice but the one in
flight."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from bot.webhooks.sender import WebhookSender
from bot.webhooks.subscriptions import remove_webhook
from bot.workflow.intake.dispatch import dispatch_queued
from storage.db import session_scope
from storage.models import WebhookAttempt, WebhookDelivery
from tests.factories import conversation, import_file, wait_for, write_items


def auto_accepted(engine, clock, tmp_path, count: int) -> list[str]:
    """`count` confident predictions, auto-accepted at once: a burst of label.signed_off."""
    ids = [f"a-{n:03d}" for n in range(count)]
    items = [
        {
            "id": external_id,
            "conversation": conversation(f"reset my password {external_id}"),
            "prediction": {"label": "account", "confidence": 0.97, "model": "intent-v3"},
        }
        for external_id in ids
    ]
    import_file(engine, write_items(tmp_path / "burst.jsonl", items))
    assert dispatch_queued(engine, clock=clock).auto_accepted == count
    return ids


def drain(sender: WebhookSender) -> int:
    made = 0
    while batch := sender.run_once():
        made += batch
    return made


def deliveries(engine) -> list[WebhookDelivery]:
    with Session(engine) as session:
        return list(session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))


def received_ids(receiver) -> list[str]:
    return [e["data"]["id"] for e in receiver.bodies()]


@dataclass
class Load:
    """What the database was asked while it was watched."""

    statements: list[str] = field(default_factory=list)
    transactions: int = 0

    def count(self, prefix: str) -> int:
        return sum(1 for s in self.statements if " ".join(s.split()).startswith(prefix))


@contextmanager
def watched(engine: Engine) -> Iterator[Load]:
    load = Load()

    def statement(_conn, _cursor, sql, _params, _context, _many) -> None:
        load.statements.append(sql)

    def commit(_conn) -> None:
        load.transactions += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield load
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


def test_a_burst_to_one_endpoint_is_sent_in_order_in_runs_with_few_claims(
    engine, clock, tmp_path, project, receiver, sender, add_webhook
):
    add_webhook(f"{receiver.url}/hook")
    ids = auto_accepted(engine, clock, tmp_path, 200)

    with watched(engine) as load:
        assert drain(sender) == 200
    assert received_ids(receiver) == ids  # each once, in sign-off order
    assert receiver.most_in_flight["/hook"] == 1
    assert {d.status for d in deliveries(engine)} == {"delivered"}
    assert all(d.claimed_by is None for d in deliveries(engine))

    # One transaction per delivery records its attempt (two statements); the claims of
    # the runs (4 of 50) and the filling of their label records add a few more in all.
    # Claimed and filled one delivery at a time, it was 600 transactions, 3,000 statements.
    assert load.count("INSERT INTO webhook_attempt") == 200
    assert load.transactions - 200 <= 10
    assert len(load.statements) <= 2 * 200 + 80

    with Session(engine) as session:
        attempts = session.exec(select(WebhookAttempt)).all()
    assert len(attempts) == 200 and all(a.status == 200 for a in attempts)


def test_a_failure_in_the_middle_of_a_run_stops_it_there_and_the_rest_follow_in_order(
    engine, clock, tmp_path, project, receiver, sender, add_webhook
):
    add_webhook(f"{receiver.url}/hook")
    ids = auto_accepted(engine, clock, tmp_path, 10)
    requests = itertools.count(1)
    receiver.status = lambda path: 503 if next(requests) == 4 else 200

    assert sender.run_once() == 4  # three delivered, the fourth failed: the run ends there
    assert received_ids(receiver) == ids[:4]
    rows = deliveries(engine)
    assert [d.status for d in rows] == ["delivered"] * 3 + ["pending"] * 7
    assert (rows[3].attempts, rows[3].last_status) == (1, 503)
    assert (rows[3].next_attempt_at - clock.now()).total_seconds() == 5
    # The rest were released unsent: free for any sender, yet none goes before the fourth.
    assert all(d.attempts == 0 and d.claimed_by is None for d in rows[4:])
    other = WebhookSender(engine, clock=clock)
    try:
        assert other.run_once() == 0
        assert sender.run_once() == 0
        clock.advance(seconds=10)
        assert other.run_once() == 7  # the retry, then the rest in the same run
    finally:
        other.stop()
    assert received_ids(receiver) == ids[:4] + ids[3:]
    assert {d.status for d in deliveries(engine)} == {"delivered"}


def test_a_sender_stopping_mid_run_records_what_it_sent_and_releases_the_rest(
    engine, clock, tmp_path, project, receiver, add_webhook
):
    receiver.delay_s = 0.02
    add_webhook(f"{receiver.url}/hook")
    ids = auto_accepted(engine, clock, tmp_path, 60)
    first = WebhookSender(engine, clock=clock, interval_s=0.05)
    first.start()
    wait_for(lambda: len(receiver.received) >= 5, timeout_s=20, what="the run to start")
    first.stop()

    rows = deliveries(engine)
    sent = len(receiver.received)
    assert 5 <= sent < 60
    assert [d.status for d in rows] == ["delivered"] * sent + ["pending"] * (60 - sent)
    assert all(d.claimed_by is None and d.attempts == 0 for d in rows[sent:])

    second = WebhookSender(engine, clock=clock)
    try:
        assert drain(second) == 60 - sent
    finally:
        second.stop()
    assert received_ids(receiver) == ids


def test_a_webhook_removed_mid_run_gets_nothing_after_the_request_in_flight(
    engine, clock, tmp_path, project, receiver, sender, add_webhook
):
    added = add_webhook(f"{receiver.url}/hook")
    ids = auto_accepted(engine, clock, tmp_path, 8)
    requests = itertools.count(1)

    def status(path: str) -> int:
        if next(requests) == 3:  # `quorum webhook remove` while the third is in flight
            with session_scope(engine) as session:
                assert remove_webhook(session, added.id, now=clock.now()) == 6
        return 200

    receiver.status = status
    assert drain(sender) == 3
    assert received_ids(receiver) == ids[:3]
    rows = deliveries(engine)
    assert [d.status for d in rows] == ["delivered"] * 3 + ["dropped"] * 5
    assert all(d.claimed_by is None for d in rows)


def test_a_sender_that_stalls_past_its_lease_loses_the_run_and_only_the_one_in_flight_repeats(
    engine, clock, tmp_path, project, receiver, add_webhook
):
    add_webhook(f"{receiver.url}/hook")
    ids = auto_accepted(engine, clock, tmp_path, 8)
    stalled, resume = threading.Event(), threading.Event()
    requests = itertools.count(1)

    def status(path: str) -> int:
        if next(requests) == 3:  # the first sender hangs here, as a frozen process would
            stalled.set()
            resume.wait(30)
        return 200

    receiver.status = status
    first, second = (WebhookSender(engine, clock=clock) for _ in range(2))
    made: list[int] = []
    hung = threading.Thread(target=lambda: made.append(first.run_once()))
    try:
        hung.start()
        assert stalled.wait(20)
        assert second.run_once() == 0  # leased: nothing is sent twice while it holds
        clock.advance(seconds=first.lease_s + 1)
        assert second.run_once() == 6  # from the one in flight on, in order
        resume.set()
        hung.join(30)
    finally:
        resume.set()
        first.stop()
        second.stop()
    assert made == [3]  # its late answer is logged, and it sends nothing more
    got = received_ids(receiver)
    assert sorted(got) == sorted(ids + [ids[2]])  # only the one in flight came twice
    assert [i for i in got if i != ids[2]] == ids[:2] + ids[3:]
    rows = deliveries(engine)
    assert {d.status for d in rows} == {"delivered"}
    assert all(d.claimed_by is None for d in rows)
    assert rows[2].attempts == 1  # the stalled one's attempt is logged, not counted
    with Session(engine) as session:
        logged = session.exec(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id == rows[2].id)
        ).all()
    assert len(logged) == 2


def test_a_long_run_to_a_slow_endpoint_keeps_its_lease(
    engine, clock, tmp_path, project, receiver, sender, add_webhook
):
    add_webhook(f"{receiver.url}/hook")
    ids = auto_accepted(engine, clock, tmp_path, 12)
    other = WebhookSender(engine, clock=clock)
    taken: list[int] = []

    def status(path: str) -> int:
        clock.advance(seconds=sender.lease_s / 3)  # each answer takes a third of a lease
        if len(taken) < 8:
            taken.append(other.run_once())  # another sender tries meanwhile
        return 200

    receiver.status = status
    try:
        assert sender.run_once() == 12  # the whole run, far longer than one lease
    finally:
        other.stop()
    assert taken == [0] * 8
    assert received_ids(receiver) == ids
    assert receiver.most_in_flight["/hook"] == 1


def test_an_idle_sender_and_one_waiting_for_a_retry_make_one_query_per_claim(
    engine, clock, tmp_path, project, receiver, sender, add_webhook
):
    with watched(engine) as idle:
        assert sender.run_once() == 0
    assert len(idle.statements) == 1

    receiver.status = 500
    add_webhook(f"{receiver.url}/hook")
    auto_accepted(engine, clock, tmp_path, 30)
    assert sender.run_once() == 1  # the head failed: 29 held back behind it
    with watched(engine) as waiting:
        for _ in range(3):
            assert sender.run_once() == 0
    assert len(waiting.statements) == 3
