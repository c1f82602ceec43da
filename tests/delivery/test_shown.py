"""Clicked DMs shown through their response_url: the outcomes reach the queued
chat.updates in one transaction, off the click's path, and only rows still pending."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from bot.delivery import outbox
from bot.delivery.shown import flush_shown, marks_for
from storage.models import OutboxMessage, OutboxStatus

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def queue_updates(engine, keys: list[str]) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        for key in keys:
            outbox.enqueue_update(
                session,
                key=key,
                now=NOW,
                target={"channel": "D1", "ts": "1.0"},
                text="Recorded",
                blocks=[],
                due=NOW + timedelta(seconds=10),
            )
        session.commit()


def rows(engine) -> dict[str, OutboxMessage]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        found = session.exec(select(OutboxMessage)).all()
        return {row.idempotency_key: row for row in found}


def test_outcomes_reach_their_rows_without_the_worker(engine):
    keys = [f"answered:assignment:{n}:1" for n in range(20)]
    queue_updates(engine, keys)
    marks = marks_for(engine)
    for key in keys[:19]:
        marks.record(key, shown=True, now=lambda: NOW)
    marks.record(keys[19], shown=False, now=lambda: NOW)

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = rows(engine)
        if all(found[k].status == OutboxStatus.SENT for k in keys[:19]):
            break
        time.sleep(0.02)
    found = rows(engine)
    assert all(found[k].status == OutboxStatus.SENT for k in keys[:19])
    assert {found[k].result["via"] for k in keys[:19]} == {"response_url"}
    failed = found[keys[19]]
    assert failed.status == OutboxStatus.PENDING  # the fallback goes out, at once
    assert failed.next_attempt_at.replace(tzinfo=UTC) == NOW


def test_a_row_the_worker_already_took_is_left_to_it(engine):
    queue_updates(engine, ["answered:assignment:1:1"])
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage)).all()
        row.status = OutboxStatus.SENDING
        session.add(row)
        session.commit()
    marks_for(engine).record("answered:assignment:1:1", shown=True, now=lambda: NOW)
    flush_shown(engine, NOW)  # returns once every outcome recorded before it is written
    assert rows(engine)["answered:assignment:1:1"].status == OutboxStatus.SENDING
