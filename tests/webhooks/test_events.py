"""What each state change sends: a sign-off (consensus, auto-accepted) one signed
`label.signed_off` whose data is the item's `labels` export record, an escalation
`item.escalated`, an item that cannot be sent `item.failed`; each only to the webhooks
subscribed to its type, and nothing at all to a project without webhooks."""

from __future__ import annotations

import base64
import io
import json
import logging

from sqlmodel import Session, select

from bot.exports.labels import export_labels
from bot.exports.records import decoded
from bot.webhooks.sender import WebhookSender
from bot.workflow.intake.dispatch import dispatch_queued
from quorum_client import verify_webhook
from storage.models import WebhookAttempt, WebhookDelivery
from tests.factories import (
    REVIEWERS,
    apply,
    chat,
    conversation,
    import_file,
    label_config,
    seed_item,
    write_items,
)


def drain(sender: WebhookSender) -> int:
    """Send until nothing is due; how many attempts were made."""
    made = 0
    while batch := sender.run_once():
        made += batch
    return made


def agreed(engine, clock, external_id: str, value: str = "billing") -> int:
    item_id, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id=external_id,
        content=chat(f"sample {external_id}"),
        answers=[(reviewer, value) for reviewer in REVIEWERS[:3]],
    )
    assert outcome == "Label"
    return item_id


def tied(engine, clock, external_id: str) -> int:
    item_id, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id=external_id,
        content=chat(),
        answers=[("U01ALICE", "billing"), ("U02BOB", "bug"), ("U03CARA", "account")],
    )
    assert outcome == "Escalation"
    return item_id


def exported(engine, clock) -> dict[str, dict]:
    out = io.StringIO()
    export_labels(engine, project="support-intent", out=out, now=clock.now())
    # What the API and webhooks carry: the row with its JSON text decoded, no content.
    rows = map(json.loads, out.getvalue().splitlines())
    return {row["id"]: decoded({**row, "content": None}) for row in rows}


def test_a_sign_off_posts_one_signed_event_carrying_the_labels_export_record(
    engine, clock, project, receiver, sender, add_webhook
):
    added = add_webhook(f"{receiver.url}/hooks/quorum")
    agreed(engine, clock, "t-1")

    assert drain(sender) == 1
    (request,) = receiver.received
    assert request["path"] == "/hooks/quorum"
    headers, raw = request["headers"], request["body"]
    now = clock.now().timestamp()
    assert verify_webhook(added.secret, headers, raw, now=now)
    assert not verify_webhook("whsec_" + "x" * 32, headers, raw, now=now)
    assert not verify_webhook(added.secret, headers, raw.replace(b"billing", b"bug"), now=now)
    assert headers["Content-Type"] == "application/json"
    assert "Quorum" in headers["User-Agent"]
    assert headers["Quorum-Webhook-Timestamp"] == str(int(now))

    event = json.loads(raw)
    assert set(event) == {"id", "type", "created_at", "project", "data"}
    assert event["id"].startswith("evt_") and headers["Quorum-Webhook-Id"] == event["id"]
    assert (event["type"], event["project"]) == ("label.signed_off", "support-intent")
    assert event["data"] == exported(engine, clock)["t-1"]
    assert event["data"]["value"] == "billing" and event["data"]["method"] == "consensus"
    assert added.secret not in raw.decode()
    assert drain(sender) == 0  # delivered: never sent again


def test_an_auto_accepted_item_fires_label_signed_off(
    engine, clock, tmp_path, project, receiver, sender, add_webhook
):
    add_webhook(receiver.url)
    confident = {
        "id": "auto-1",
        "conversation": conversation("reset my password"),
        "prediction": {"label": "account", "confidence": 0.97, "model": "intent-v3"},
    }
    import_file(engine, write_items(tmp_path / "items.jsonl", [confident]))
    assert dispatch_queued(engine, clock=clock).auto_accepted == 1

    drain(sender)
    (event,) = receiver.bodies()
    assert event["type"] == "label.signed_off"
    assert (event["data"]["id"], event["data"]["method"]) == ("auto-1", "auto")
    assert event["data"] == exported(engine, clock)["auto-1"]


def test_an_escalation_fires_item_escalated(engine, clock, project, receiver, sender, add_webhook):
    add_webhook(receiver.url)
    tied(engine, clock, "t-tie")

    drain(sender)
    (event,) = receiver.bodies()
    assert (event["type"], event["project"]) == ("item.escalated", "support-intent")
    data = event["data"]
    assert (data["id"], data["status"], data["reason"]) == (
        "t-tie",
        "escalated",
        "tie between answers",
    )
    assert data["tied"] is True


# Thirty long labels: an item predicted with all of them needs a "Confirm" button whose
# value is over Slack's 2,000 characters, so it can never be sent and is marked failed.
LONG_LABELS = [f"{n:02d} a duplicate charge on the account".ljust(90, ".") for n in range(30)]


def test_an_item_that_cannot_be_sent_fires_item_failed(
    engine, clock, tmp_path, receiver, sender, add_webhook
):
    apply(engine, label_config(multi_label=True, labels=LONG_LABELS))
    add_webhook(receiver.url)
    poison = {
        "id": "p-0",
        "conversation": conversation("charged twice"),
        "prediction": {"label": LONG_LABELS, "confidence": 0.1},
    }
    import_file(engine, write_items(tmp_path / "items.jsonl", [poison]))
    assert dispatch_queued(engine, clock=clock).failed == 1

    drain(sender)
    (event,) = receiver.bodies()
    assert event["type"] == "item.failed"
    assert (event["data"]["id"], event["data"]["status"]) == ("p-0", "failed")
    assert "2000 characters" in event["data"]["reason"]


def test_each_webhook_gets_only_the_event_types_it_subscribed_to(
    engine, clock, project, receiver, sender, add_webhook
):
    add_webhook(f"{receiver.url}/labels", "--events", "label.signed_off")
    add_webhook(f"{receiver.url}/escalations", "--events", " item.escalated ,item.failed")
    add_webhook(f"{receiver.url}/all")
    agreed(engine, clock, "t-1")
    tied(engine, clock, "t-2")

    drain(sender)
    assert [e["type"] for e in receiver.bodies("/labels")] == ["label.signed_off"]
    assert [e["type"] for e in receiver.bodies("/escalations")] == ["item.escalated"]
    everything = receiver.bodies("/all")
    assert [e["type"] for e in everything] == ["label.signed_off", "item.escalated"]
    # One event, one id, whichever webhook receives it; the same record in each.
    assert receiver.bodies("/labels") == everything[:1]
    assert receiver.bodies("/escalations") == everything[1:]


def test_a_project_without_webhooks_queues_nothing(engine, clock, project, receiver, sender):
    agreed(engine, clock, "t-1")
    tied(engine, clock, "t-2")
    assert drain(sender) == 0
    with Session(engine) as session:
        assert session.exec(select(WebhookDelivery)).all() == []
        assert session.exec(select(WebhookAttempt)).all() == []
    assert receiver.received == []


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_logged(
    engine, clock, project, receiver, sender, add_webhook, caplog
):
    add_webhook(f"http://quorum:hunter2@127.0.0.1:{receiver.port}/in")
    agreed(engine, clock, "t-1")
    with caplog.at_level(logging.DEBUG):
        assert drain(sender) == 1
    (request,) = receiver.received
    expected = base64.b64encode(b"quorum:hunter2").decode()
    assert request["headers"]["Authorization"] == f"Basic {expected}"
    assert "hunter2" not in caplog.text
    assert "/in" in caplog.text  # httpx logged the request, without the password
