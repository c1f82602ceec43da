"""App Home publishes: marked stale by a change, built by the delivery worker when it
sends, so the published Home always shows the latest state."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, select

from bot.delivery.outbox import HOME_REFRESH_DELAY, PUBLISH_HOME, home_key, publish_home_later
from bot.workflow.review import queue
from storage import outbox_store
from storage.db import session_scope
from storage.models import OutboxMessage, OutboxStatus
from tests.factories import REVIEWERS, outbox_rows, press, shown, start_items, texts


def home_rows(sandbox, user: str) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    return [
        r
        for r in outbox_rows(sandbox)
        if r.operation == PUBLISH_HOME and r.payload.get("user") == user
    ]


def published(sandbox, user: str) -> list[str]:  # type: ignore[no-untyped-def]
    views = []
    for call in sandbox.emulator.calls_to("views.publish"):
        if call.args.get("user_id") == user and call.response.get("ok"):
            view = call.args["view"]
            views.append(shown(json.loads(view) if isinstance(view, str) else view))
    return views


def requests_for(sandbox, user: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [m for m in sandbox.dm(user) if texts(m, block_prefix="answer:")]


def test_a_change_during_the_send_queues_another_publish(world, tmp_path, clock, monkeypatch):
    start_items(world, tmp_path, count=3, overlap=4)
    world.settle()
    user = REVIEWERS[0]
    first, second, third = requests_for(world, user)
    press(world, user, first, "bug")
    marked_at = clock.now()
    clock.advance(seconds=1)
    press(world, user, second, "bug")
    # One row waits, due HOME_REFRESH_DELAY after the first change (a burst does not
    # push it back), and holds no view.
    [row] = home_rows(world, user)
    assert row.idempotency_key == home_key(user) and row.status == OutboxStatus.PENDING
    assert row.next_attempt_at == marked_at + HOME_REFRESH_DELAY
    assert row.payload == {"user": user}
    world.settle()
    assert published(world, user) == []  # not due yet

    # While the first publish is on its way, the reviewer answers again.
    outbound = world.runtime.delivery.outbound
    real = outbound.publish_home

    def publish_and_answer(user_id, view, view_hash=None):  # type: ignore[no-untyped-def]
        if user_id == user and len(published(world, user)) == 0:
            press(world, user, third, "bug")
        return real(user_id, view, view_hash)

    monkeypatch.setattr(outbound, "publish_home", publish_and_answer)
    clock.advance(seconds=HOME_REFRESH_DELAY.total_seconds() - 1)
    world.settle()
    views = published(world, user)
    assert len(views) == 1 and "answered *2* today" in views[0]  # read when it was sent
    sent, waiting = home_rows(world, user)
    assert (
        sent.status == OutboxStatus.SENT and sent.idempotency_key == f"{home_key(user)}:{sent.id}"
    )
    assert waiting.status == OutboxStatus.PENDING and waiting.idempotency_key == home_key(user)

    clock.advance(seconds=HOME_REFRESH_DELAY.total_seconds())
    world.settle()
    views = published(world, user)
    assert len(views) == 2 and "*0* waiting for you · answered *3* today" in views[-1]
    assert {r.status for r in home_rows(world, user)} == {OutboxStatus.SENT}


def test_a_stale_home_is_published_once_it_falls_due(world, tmp_path, clock):
    start_items(world, tmp_path, count=1)
    world.settle()
    user = REVIEWERS[3]
    with session_scope(world.ctx.engine) as session:
        queue.mark_home_stale(session, user, now=clock.now())
    clock.advance(seconds=HOME_REFRESH_DELAY.total_seconds() - 1)
    world.settle()
    assert published(world, user) == []
    clock.advance(seconds=1)
    world.settle()
    assert len(published(world, user)) == 1 and "waiting for you" in published(world, user)[0]


def test_a_finished_row_under_the_pending_key_is_made_pending_again(engine, clock):
    user = "U01ALICE"
    with session_scope(engine) as session:
        publish_home_later(session, user, now=clock.now())
        publish_home_later(session, user, now=clock.now() + timedelta(seconds=1))
    with session_scope(engine) as session:
        [row] = session.exec(select(OutboxMessage)).all()
        assert row.next_attempt_at == clock.now() + HOME_REFRESH_DELAY
        row.status, row.attempts, row.last_error = OutboxStatus.FAILED, 5, "invalid_blocks"
        session.add(row)
    later = clock.now() + timedelta(minutes=1)
    with session_scope(engine) as session:
        outbox_store.upsert_pending(
            session, key=home_key(user), operation=PUBLISH_HOME, payload={}, due=later, now=later
        )
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage)).all()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 0, None)
    assert row.next_attempt_at == later and row.payload == {"user": user}
