"""Three `quorum serve` processes against one PostgreSQL share the work: 300 items, 900
review requests, 900 signed clicks spread across the processes (some delivered twice,
to different processes), and nothing is sent or recorded twice."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.sandbox.slack_requests import SlackRequestSender
from storage.db import make_engine
from storage.models import Assignment, Item, ItemStatus, OutboxMessage, OutboxStatus, Response
from tests.factories import (
    PROCESS_SECRET,
    healthy,
    import_samples,
    posted_keys,
    process_world,
    review_dms_sent,
    serve,
    wait_for,
)

pytestmark = pytest.mark.postgres

PROCESSES = 3
ITEMS = 300
REVIEWERS = [f"U0R{n}" for n in range(1, 9)]
SECRET = PROCESS_SECRET
LABELS = ["billing", "bug", "account", "other"]


def answer_for(index: int, position: int) -> str:
    """Every fifth item gets three different answers (a tie: escalated); the rest agree
    two or three to one (signed off)."""
    if index % 5 == 0:
        return LABELS[position]
    return "bug" if index % 5 == 1 and position == 2 else "billing"


def button(value: str) -> str:
    return "Confirm: billing" if value == "billing" else value


def snapshot(engine) -> tuple[Counter, Counter]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        outbox = Counter(status for status in session.exec(select(OutboxMessage.status)).all())
        items = Counter(status for status in session.exec(select(Item.status)).all())
    return outbox, items


def test_three_processes_share_the_work_without_double_sends(postgres_url, tmp_path: Path):
    started = time.monotonic()
    # Test-only tuning: commits do not wait for the WAL fsync. Only the bot processes are
    # stopped in this test, never PostgreSQL, so what is committed stays committed.
    postgres_url = f"{postgres_url}?options=-csynchronous_commit%3Doff"
    engine = make_engine(postgres_url)
    emulator = process_world(engine, REVIEWERS)
    processes = []
    try:
        for _ in range(PROCESSES):
            processes.append(
                serve(
                    postgres_url,
                    emulator,
                    tmp_path,
                    QUORUM_PACING_SCALE="100",
                    QUORUM_DELIVERY_LEASE_S="60",
                    QUORUM_DELIVERY_THREADS="3",
                )
            )
        urls = [f"http://127.0.0.1:{p.args[-1]}" for p in processes]
        wait_for(lambda: all(healthy(url) for url in urls), what="three healthy processes")

        import_samples(engine, tmp_path, "m", ITEMS)
        wait_for(lambda: review_dms_sent(engine, ITEMS * 3), timeout_s=120, what="900 requests")
        sent_at = time.monotonic()

        # Who answers what: assignment id -> (item index, position among its reviewers).
        with Session(engine) as session:
            rows = session.exec(
                select(Assignment.id, Assignment.item_id, Item.external_id)
                .join(Item, Item.id == Assignment.item_id)
                .order_by(Assignment.id)
            ).all()
        positions: dict[int, tuple[int, int]] = {}
        seen: Counter = Counter()
        for assignment_id, item_id, external_id in rows:
            positions[assignment_id] = (int(external_id.split("-")[1]), seen[item_id])
            seen[item_id] += 1

        clicks: list[tuple[str, dict, str]] = []
        for user in REVIEWERS:
            channel = emulator.dm_channel(user)
            for message in emulator.messages(channel):
                block = next(
                    b for b in message["blocks"] if b.get("block_id", "").startswith("answer:")
                )
                index, position = positions[int(block["block_id"].split(":")[1])]
                clicks.append((user, message, button(answer_for(index, position))))
        assert len(clicks) == ITEMS * 3

        senders = [
            SlackRequestSender(f"{url}/slack/events", SECRET, emulator=emulator) for url in urls
        ]
        statuses: Counter = Counter()

        def click_share(k: int) -> None:
            for n, (user, message, text) in enumerate(clicks):
                if n % PROCESSES == k:
                    statuses[senders[k].click(user, message, text=text).status] += 1
                if n % 10 == 0 and n % PROCESSES == (k + 1) % PROCESSES:  # Slack's redelivery
                    statuses[senders[k].click(user, message, text=text).status] += 1

        threads = [threading.Thread(target=click_share, args=(k,)) for k in range(PROCESSES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == Counter({200: ITEMS * 3 + len(range(0, ITEMS * 3, 10))})

        def all_decided_and_sent() -> bool:
            outbox, items = snapshot(engine)
            decided = items[ItemStatus.SIGNED_OFF] + items[ItemStatus.ESCALATED] == ITEMS
            return decided and set(outbox) <= {OutboxStatus.SENT}

        wait_for(all_decided_and_sent, timeout_s=120, what="every item decided, every message sent")
        answered_at = time.monotonic()
    finally:
        for process in processes:
            process.send_signal(15)
        exits = [process.wait(timeout=30) for process in processes]
        emulator.stop()

    assert exits == [0] * PROCESSES  # SIGTERM: a clean stop
    keys = posted_keys(emulator)
    review = {k: n for k, n in keys.items() if k.startswith("review:")}
    assert len(review) == ITEMS * 3 and set(review.values()) == {1}
    assert set(keys.values()) == {1}  # nothing else was posted twice either
    with Session(engine) as session:
        responses = session.exec(select(Response)).all()
        assert len(responses) == ITEMS * 3
        assert len({(r.item_id, r.reviewer_id) for r in responses}) == ITEMS * 3
        per_item = Counter(a.item_id for a in session.exec(select(Assignment)).all())
        assert set(per_item.values()) == {3}  # each item dispatched once
        outbox = session.exec(select(OutboxMessage)).all()
        assert {row.status for row in outbox} == {OutboxStatus.SENT}
        # "sender" is <process's worker id>-<thread>: count processes (a DM update shown
        # through the click's response_url was sent by no delivery worker).
        senders_used = Counter(
            row.result["sender"].rsplit("-", 1)[0] for row in outbox if "sender" in row.result
        )
        items = Counter(session.exec(select(Item.status)).all())
    assert items == Counter(
        {ItemStatus.SIGNED_OFF: ITEMS - ITEMS // 5, ItemStatus.ESCALATED: ITEMS // 5}
    )
    assert len(senders_used) == PROCESSES  # every process delivered its share
    # Every DM shows its answer: through the click's response_url, or chat.update.
    updates = [c for c in emulator.calls_to("chat.update") if c.status == 200]
    shown = {(c.args["channel"], c.args["ts"]) for c in updates}
    shown |= {
        (p["binding"]["channel"], p["binding"]["message_ts"])
        for p in emulator.response_posts()
        if p["payload"].get("replace_original")
    }
    assert len(shown) == ITEMS * 3
    print(
        json.dumps(
            {
                "review_requests_sent_s": round(sent_at - started, 1),
                "answered_and_decided_s": round(answered_at - sent_at, 1),
                "total_s": round(time.monotonic() - started, 1),
                "rows_per_process": sorted(senders_used.values()),
            }
        )
    )
    engine.dispose()
