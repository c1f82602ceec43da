"""A label item's whole trip through Slack: DMs, clicks, sign-off, export, and the
ways a real workspace misbehaves (double clicks, retries, strangers, forged requests)."""

from __future__ import annotations

import io
import json
import time
import urllib.parse

from sqlmodel import Session, select

from bot.exports.labels import export_labels
from bot.slack import ids
from storage.db import session_scope
from storage.models import Label, Response
from tests.factories import apply, conversation, import_file, label_config, write_items

ITEM = {
    "id": "t-1",
    "conversation": conversation("I was charged twice <!channel> & <@U0ADMIN>"),
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
}


def start_item(sandbox, tmp_path, item=ITEM, **config):
    apply(sandbox.ctx.engine, label_config(**config))
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]))
    sandbox.settle()
    return [u for u in ("U01ALICE", "U02BOB", "U03CARA", "U04DAN") if sandbox.dm(u)]


def responses(sandbox) -> list[Response]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Response)))


def test_full_loop_dm_click_sign_off_and_export(sandbox, tmp_path):
    reviewers = start_item(sandbox, tmp_path)
    assert len(reviewers) == 3
    for user in reviewers:
        message = sandbox.latest_dm(user)
        buttons = [
            e["text"]["text"]
            for b in message["blocks"]
            if b["type"] == "actions" and b["block_id"].startswith("answer:")
            for e in b["elements"]
        ]
        assert buttons == ["Confirm: billing", "bug", "account", "other"]
        assert sandbox.sender.click(user, message, text="Confirm: billing").status == 200
    sandbox.settle()
    for user in reviewers:  # each DM now shows what was recorded, without answer buttons
        message = sandbox.latest_dm(user)
        assert "Recorded *billing*" in json.dumps(message["blocks"])
        assert not [b for b in message["blocks"] if b.get("block_id", "").startswith("answer:")]
    with Session(sandbox.ctx.engine) as session:
        label = session.exec(select(Label)).one()
        assert (label.value, label.method, label.agreement) == ("billing", "consensus", 1.0)
    out = io.StringIO()
    assert export_labels(sandbox.ctx.engine, project="support-intent", out=out) == 1
    exported = json.loads(out.getvalue())
    assert exported["id"] == "t-1" and exported["label"] == "billing"
    assert json.loads(exported["value"]) == "billing"
    assert sorted(a["reviewer"] for a in exported["answers"]) == sorted(reviewers)
    responses = json.loads(exported["provenance"])["responses"]  # provenance block (issue 5)
    assert sorted(r["reviewer"] for r in responses) == sorted(reviewers)


def test_sample_text_is_escaped_so_nobody_is_pinged(sandbox, tmp_path):
    reviewer = start_item(sandbox, tmp_path)[0]
    text = json.dumps(sandbox.latest_dm(reviewer)["blocks"])
    assert "<!channel>" not in text and "<@U0ADMIN>" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U0ADMIN&gt;" in text


def test_double_click_records_once(sandbox, tmp_path):
    reviewer = start_item(sandbox, tmp_path)[0]
    message = sandbox.latest_dm(reviewer)
    sandbox.sender.click(reviewer, message, text="bug")
    sandbox.sender.click(reviewer, message, text="bug")
    sandbox.sender.click(reviewer, message, text="account")
    assert [(r.reviewer_id, r.value) for r in responses(sandbox)] == [(reviewer, "bug")]


def test_click_by_someone_not_assigned_is_refused(sandbox, tmp_path):
    reviewers = start_item(sandbox, tmp_path)
    message = sandbox.latest_dm(reviewers[0])
    stranger = next(u for u in ("U01ALICE", "U02BOB", "U03CARA", "U04DAN") if u not in reviewers)
    for user in (stranger, "U99STRANGER"):
        assert sandbox.sender.click(user, message, text="bug").status == 200
    assert responses(sandbox) == []
    notices = sandbox.emulator.ephemerals()
    assert {n["user"] for n in notices} == {stranger, "U99STRANGER"}
    assert all("not assigned to you" in n["text"] for n in notices)


def test_slack_retry_of_the_same_event_is_handled_once(sandbox, tmp_path, monkeypatch):
    apply(sandbox.ctx.engine, label_config())
    # An event type Quorum listens to (only those are remembered), with a listener that
    # counts how often it runs.
    monkeypatch.setattr(ids, "EVENTS", (*ids.EVENTS, "app_mention"))
    seen = []
    sandbox.runtime.app.event("app_mention")(lambda event: seen.append(event["ts"]))
    event = {"type": "app_mention", "user": "U01ALICE", "text": "hi", "ts": "1.0", "channel": "C1"}
    first = sandbox.sender.event(event, event_id="Ev0001")
    retry = sandbox.sender.event(event, event_id="Ev0001", retry_num=1)
    assert (first.status, retry.status) == (200, 200)
    assert seen == ["1.0"]


def test_tampered_signature_is_rejected_and_nothing_stored(sandbox, tmp_path):
    reviewer = start_item(sandbox, tmp_path)[0]
    message = sandbox.latest_dm(reviewer)
    block = next(b for b in message["blocks"] if b["type"] == "actions")
    payload = {
        "type": "block_actions",
        "user": {"id": reviewer},
        "actions": [dict(block["elements"][1], block_id=block["block_id"], action_ts="1.1")],
        "container": {
            "type": "message",
            "channel_id": message["channel"],
            "message_ts": message["ts"],
        },
        "channel": {"id": message["channel"]},
        "team": {"id": "T0QUORUM"},
    }
    body = ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()
    now = int(time.time())
    good = sandbox.sender.sign(sandbox.sender.signing_secret, now, body)
    forged = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    form = "application/x-www-form-urlencoded"
    assert (
        sandbox.sender.post_raw(body, content_type=form, timestamp=now, signature=forged).status
        == 401
    )
    stale = now - 6 * 60
    stale_sig = sandbox.sender.sign(sandbox.sender.signing_secret, stale, body)
    assert (
        sandbox.sender.post_raw(
            body, content_type=form, timestamp=stale, signature=stale_sig
        ).status
        == 401
    )
    assert responses(sandbox) == []
    # The same request, correctly signed and fresh, is accepted: the refusals were the signature's.
    assert (
        sandbox.sender.post_raw(body, content_type=form, timestamp=now, signature=good).status
        == 200
    )
    assert len(responses(sandbox)) == 1


def test_disagreement_is_marked_for_escalation(sandbox, tmp_path):
    reviewers = start_item(sandbox, tmp_path, agreement=0.9)
    for user, answer in zip(reviewers, ["billing", "billing", "bug"], strict=True):
        sandbox.sender.click(
            user,
            sandbox.latest_dm(user),
            text=answer if answer != "billing" else "Confirm: billing",
        )
    with session_scope(sandbox.ctx.engine) as session:
        assert session.exec(select(Label)).first() is None
        from storage.models import Item

        assert session.exec(select(Item)).one().status == "escalated"
