"""Several senders at once (threads calling run_once, and two running senders with their
own thread pools, like two `quorum worker` processes): each delivery is received once,
in order per webhook, and no webhook ever has two requests in flight."""

from __future__ import annotations

import threading
import time

from sqlmodel import Session, col, func, select

from bot.webhooks.sender import WebhookSender
from storage.models import WebhookDelivery
from tests.factories import REVIEWERS, seed_item, wait_for
from tests.factories import chat as chat_content

EVENTS = 12


def sign_off_many(engine, clock, count: int) -> None:
    for n in range(count):
        seed_item(
            engine,
            clock,
            "support-intent",
            external_id=f"t-{n:02d}",
            content=chat_content(f"sample {n}"),
            answers=[(reviewer, "billing") for reviewer in REVIEWERS[:3]],
        )


def pending(engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(col(WebhookDelivery.status) == "pending")
        ).one()


def event_ids(engine, webhook_id: int) -> list[str]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(WebhookDelivery.event_id)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(col(WebhookDelivery.id))
            )
        )


def check_received_once_in_order(engine, receiver, hooks: dict[str, int]) -> None:
    for path, webhook_id in hooks.items():
        expected = event_ids(engine, webhook_id)
        assert len(expected) == EVENTS
        assert [e["id"] for e in receiver.bodies(path)] == expected
        assert receiver.most_in_flight[path] == 1


def test_two_claimers_never_send_a_delivery_twice_nor_two_of_one_webhook_at_once(
    engine, clock, project, receiver, add_webhook
):
    receiver.delay_s = 0.01
    hooks = {path: add_webhook(f"{receiver.url}{path}").id for path in ("/a", "/b", "/c")}
    sign_off_many(engine, clock, EVENTS)
    senders = [WebhookSender(engine, clock=clock) for _ in range(2)]
    failures: list[BaseException] = []

    def run(sender: WebhookSender) -> None:
        deadline = time.monotonic() + 60
        try:
            while pending(engine) and time.monotonic() < deadline:
                if not sender.run_once(limit=2):
                    time.sleep(0.005)  # the other holds every head that is due
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    for sender in senders:
        sender.stop()
    assert not failures, failures
    assert pending(engine) == 0
    check_received_once_in_order(engine, receiver, hooks)


def test_two_running_senders_share_the_work_as_two_processes_would(
    engine, clock, project, receiver, add_webhook
):
    receiver.delay_s = 0.01
    hooks = {path: add_webhook(f"{receiver.url}{path}").id for path in ("/a", "/b")}
    senders = [WebhookSender(engine, clock=clock, threads=3, interval_s=0.05) for _ in range(2)]
    for sender in senders:
        sender.start()
    try:
        sign_off_many(engine, clock, EVENTS)  # woken by each commit, while they run
        wait_for(lambda: pending(engine) == 0, timeout_s=60, what="every delivery sent")
    finally:
        for sender in senders:
            sender.stop()
    check_received_once_in_order(engine, receiver, hooks)


def test_a_running_sender_is_woken_by_the_commit_that_emitted(
    engine, clock, project, receiver, add_webhook
):
    add_webhook(receiver.url)
    sender = WebhookSender(engine, clock=clock, interval_s=60)  # its poll would be too late
    sender.start()
    try:
        time.sleep(0.2)  # the loop is waiting
        sign_off_many(engine, clock, 1)
        wait_for(lambda: receiver.received, timeout_s=20, what="the webhook")
    finally:
        sender.stop()
    assert len(receiver.received) == 1
