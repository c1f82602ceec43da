"""Receivers that fail: an unreachable one is retried 5 s later, then after twice the
wait each time up to 10 minutes, and gets every event once, in order, when it is back; an
endpoint answering 500 holds back only its own later deliveries; after
QUORUM_WEBHOOK_GIVE_UP_H a delivery is failed (one warning) and the next one goes."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import Session, col, select

from bot.webhooks.sender import WebhookSender
from storage.models import WebhookAttempt, WebhookDelivery
from tests.factories import REVIEWERS, WebhookReceiver, free_port, seed_item
from tests.factories import chat as chat_content


def sign_off(engine, clock, external_id: str) -> None:
    _, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id=external_id,
        content=chat_content(f"sample {external_id}"),
        answers=[(reviewer, "billing") for reviewer in REVIEWERS[:3]],
    )
    assert outcome == "Label"


def drain(sender: WebhookSender) -> int:
    made = 0
    while batch := sender.run_once():
        made += batch
    return made


def deliveries(engine, webhook_id: int | None = None) -> list[WebhookDelivery]:
    with Session(engine) as session:
        query = select(WebhookDelivery).order_by(col(WebhookDelivery.id))
        if webhook_id is not None:
            query = query.where(WebhookDelivery.webhook_id == webhook_id)
        return list(session.exec(query))


def attempts_of(engine, delivery_id: int) -> list[WebhookAttempt]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(col(WebhookAttempt.id))
            )
        )


def test_an_unreachable_receiver_is_retried_with_backoff_then_gets_each_event_once_in_order(
    engine, clock, project, sender, add_webhook
):
    port = free_port()
    add_webhook(f"http://127.0.0.1:{port}/hook")  # nothing listens there yet
    for n in range(3):
        sign_off(engine, clock, f"t-{n}")
    first = deliveries(engine)[0]

    waits = []
    for _ in range(9):
        assert sender.run_once() == 1  # only the oldest is tried: order is kept
        (head, *held) = deliveries(engine)
        assert all(d.attempts == 0 for d in held)
        waits.append((head.next_attempt_at - clock.now()).total_seconds())
        clock.advance(seconds=waits[-1] - 1)
        assert sender.run_once() == 0  # not due yet
        clock.advance(seconds=1)
    assert waits == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    tries = attempts_of(engine, first.id or 0)
    assert len(tries) == 9
    assert all(t.status is None and t.error and t.duration_ms is not None for t in tries)

    receiver = WebhookReceiver(port=port).start()
    try:
        assert drain(sender) == 3
        events = receiver.bodies()
    finally:
        receiver.stop()
    assert [e["data"]["id"] for e in events] == ["t-0", "t-1", "t-2"]
    assert [e["id"] for e in events] == [d.event_id for d in deliveries(engine)]
    assert {d.status for d in deliveries(engine)} == {"delivered"}
    assert drain(sender) == 0


def test_every_retry_sends_the_same_event_id_and_body(engine, clock, project, sender, add_webhook):
    flaky = WebhookReceiver(status=500).start()
    try:
        add_webhook(flaky.url)
        sign_off(engine, clock, "t-1")
        for _ in range(3):
            assert drain(sender) == 1
            clock.advance(minutes=10)
        flaky.status = 200
        assert drain(sender) == 1
        received = flaky.received
    finally:
        flaky.stop()
    assert [r["status"] for r in received] == [500, 500, 500, 200]
    assert len({r["headers"]["Quorum-Webhook-Id"] for r in received}) == 1
    assert len({r["body"] for r in received}) == 1  # the data was built once, at the first
    assert len({r["headers"]["Quorum-Webhook-Timestamp"] for r in received}) == 4
    (delivery,) = deliveries(engine)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 4, 200)
    errors = [t.error for t in attempts_of(engine, delivery.id or 0)]
    assert all(e and "receiver says no" in e and len(e) <= 200 for e in errors[:3])
    assert errors[3] is None


def test_a_failing_endpoint_holds_back_only_its_own_later_deliveries(
    engine, clock, project, receiver, sender, add_webhook
):
    receiver.status = lambda path: 500 if path == "/broken" else 204
    broken = add_webhook(f"{receiver.url}/broken")
    healthy = add_webhook(f"{receiver.url}/healthy")
    for n in range(3):
        sign_off(engine, clock, f"t-{n}")

    drain(sender)
    assert [e["data"]["id"] for e in receiver.bodies("/healthy")] == ["t-0", "t-1", "t-2"]
    assert [e["data"]["id"] for e in receiver.bodies("/broken")] == ["t-0"]
    held = deliveries(engine, broken.id)
    assert [d.attempts for d in held] == [1, 0, 0]
    assert {d.status for d in deliveries(engine, healthy.id)} == {"delivered"}

    receiver.status = 200
    clock.advance(seconds=10)
    drain(sender)
    assert [e["data"]["id"] for e in receiver.bodies("/broken")] == ["t-0", "t-0", "t-1", "t-2"]
    assert {d.status for d in deliveries(engine, broken.id)} == {"delivered"}


def test_after_the_give_up_time_a_delivery_fails_and_the_next_one_goes(
    engine, clock, project, receiver, sender, add_webhook, caplog
):
    receiver.status = 503
    added = add_webhook(f"{receiver.url}/hook")
    sign_off(engine, clock, "t-0")
    sign_off(engine, clock, "t-1")
    started = clock.now()
    first, second = deliveries(engine)

    with caplog.at_level(logging.WARNING, logger="bot.webhooks.sender"):
        while deliveries(engine)[0].status == "pending":
            assert sender.run_once() == 1
            head = deliveries(engine)[0]
            clock.advance(seconds=max(1.0, (head.next_attempt_at - clock.now()).total_seconds()))
            assert clock.now() - started < timedelta(hours=26), "never gave up"
    failed = deliveries(engine)[0]
    assert failed.status == "failed"
    tries = attempts_of(engine, first.id or 0)
    assert tries[-1].attempted_at - started >= timedelta(hours=25)  # retried at least a day
    assert tries[-2].attempted_at - started < timedelta(hours=25)
    assert len(tries) == failed.attempts
    assert all(t.status == 503 for t in tries)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"webhook {added.id}" in warning.getMessage()
    assert first.event_id in warning.getMessage()
    assert added.secret not in caplog.text and "whsec_" not in caplog.text

    # The next one goes at once. It is past its own limit too (held back since its event):
    # it gets one attempt, and is delivered when that attempt works.
    assert deliveries(engine)[1].attempts == 0
    receiver.status = 200
    assert drain(sender) == 1
    assert (deliveries(engine)[1].status, deliveries(engine)[1].attempts) == ("delivered", 1)
    assert [e["id"] for e in receiver.bodies()][-1] == second.event_id
