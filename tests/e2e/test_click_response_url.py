"""A click's DM shows the recorded answer at once, through the click's response_url; the
queued chat.update is only the fallback, and clicks are claimed before bulk rows."""

from __future__ import annotations

import time
from datetime import timedelta

from slack_sdk.webhook import WebhookClient
from sqlmodel import Session, select

from bot.delivery import outbox
from bot.delivery.shown import flush_shown
from storage import outbox_store
from storage.models import OutboxMessage, OutboxStatus
from tests.factories import kind_config, press, response_of, shown, start

ITEM = {
    "id": "ru-1",
    "conversation": [{"role": "user", "content": "I was charged twice"}],
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
}


def dm_updates(sandbox) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    with Session(sandbox.ctx.engine) as session:
        rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.operation == outbox.UPDATE_MESSAGE)
        ).all()
        return [r for r in rows if "assignment_id" in r.payload["target"]]


def marked(sandbox, status: str, timeout_s: float = 5.0) -> OutboxMessage:  # type: ignore[no-untyped-def]
    """The clicked DM's one queued update, once the click's outcome reached it (written
    in batches off the click's path, bot.delivery.shown), without running the worker."""
    deadline = time.monotonic() + timeout_s
    while True:
        [row] = dm_updates(sandbox)
        if row.status == status or time.monotonic() > deadline:
            return row
        time.sleep(0.02)


def test_the_dm_shows_the_answer_at_once_and_no_second_update_goes_out(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    updates_before = len(sandbox.emulator.calls_to("chat.update"))

    press(sandbox, reviewer, request, "bug")  # no delivery run after this
    assert "Recorded *bug*" in shown(sandbox.latest_dm(reviewer))
    [post] = [p for p in sandbox.emulator.response_posts() if p["payload"].get("replace_original")]
    assert post["binding"]["message_ts"] == request["ts"]
    row = marked(sandbox, OutboxStatus.SENT)
    assert row.status == OutboxStatus.SENT and row.result == {"via": "response_url"}
    assert row.lane == outbox.LANE_INTERACTIVE

    sandbox.settle()
    assert len(sandbox.emulator.calls_to("chat.update")) == updates_before
    assert "Recorded *bug*" in shown(sandbox.latest_dm(reviewer))
    assert response_of(sandbox, reviewer).value == "bug"


def test_a_refused_response_url_leaves_the_update_to_the_outbox(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    sandbox.emulator.fail_next("response_url", status=404, error="expired_url")

    press(sandbox, reviewer, request, "bug")
    assert "Recorded *bug*" not in shown(sandbox.latest_dm(reviewer))
    [row] = dm_updates(sandbox)
    assert row.status == OutboxStatus.PENDING

    sandbox.settle()
    assert "Recorded *bug*" in shown(sandbox.latest_dm(reviewer))
    assert [r.status for r in dm_updates(sandbox)] == [OutboxStatus.SENT]
    assert len(sandbox.emulator.calls_to("chat.update")) >= 1


def test_an_expired_response_url_is_refused_like_slack(sandbox, tmp_path, monkeypatch):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    channel = request["channel"]
    url = sandbox.emulator.response_url(channel=channel, message_ts=request["ts"], user=reviewer)
    hook = WebhookClient(url=url, timeout=2)
    for _ in range(5):
        assert hook.send(replace_original=True, text="x").status_code == 200
    assert hook.send(replace_original=True, text="x").status_code == 404  # 5 uses at most
    fresh = WebhookClient(
        url=sandbox.emulator.response_url(channel=channel, message_ts=request["ts"], user=reviewer)
    )
    later = sandbox.emulator._clock() + 31 * 60
    monkeypatch.setattr(sandbox.emulator, "_clock", lambda: later)
    assert fresh.send(replace_original=True, text="x").status_code == 404  # 30 minutes


def test_a_clicks_update_is_claimed_before_the_bulk_backlog(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    now = sandbox.clock.now()
    with Session(sandbox.ctx.engine) as session:
        for n in range(200):
            outbox.enqueue(
                session,
                outbox.POST_MESSAGE,
                {"channel": "C0ESCALATE", "text": f"bulk {n}", "blocks": []},
                key=f"bulk:{n}",
                now=now - timedelta(minutes=5),
            )
        session.commit()
    sandbox.emulator.fail_next("response_url", status=500, error="internal_error")
    press(sandbox, reviewer, request, "bug")

    flush_shown(sandbox.ctx.engine, sandbox.clock.now())  # as the worker does before claiming
    with Session(sandbox.ctx.engine) as session:
        claimed = outbox_store.claim_due(
            session, worker_id="probe", now=sandbox.clock.now(), limit=5
        )
        first = claimed[0].idempotency_key
        session.rollback()
    assert first.startswith("answered:assignment:")

    base = len(sandbox.emulator.calls)
    sandbox.settle()
    sent = [
        c.method
        for c in sandbox.emulator.calls[base:]
        if c.method in ("chat.update", "chat.postMessage")
    ]
    assert sent[0] == "chat.update" and sent[1:].count("chat.postMessage") == 200
    assert "Recorded *bug*" in shown(sandbox.latest_dm(reviewer))
