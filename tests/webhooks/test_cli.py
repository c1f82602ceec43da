"""`quorum webhook add|list|remove|log` as a person uses them: the secret printed once
and never again, unknown event names and projects refused by name, a removal that says
what it dropped, and a log of every attempt."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from bot.webhooks.sender import WebhookSender
from storage.models import Webhook, WebhookDelivery
from tests.factories import REVIEWERS, free_port, seed_item
from tests.factories import chat as chat_content


def sign_off(engine, clock, external_id: str) -> None:
    seed_item(
        engine,
        clock,
        "support-intent",
        external_id=external_id,
        content=chat_content(f"sample {external_id}"),
        answers=[(reviewer, "billing") for reviewer in REVIEWERS[:3]],
    )


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.split("│")]


def test_add_prints_the_secret_once_and_list_never_shows_it(
    engine, project, add_webhook, quorum_webhook
):
    added = add_webhook("https://hooks.example.com/quorum", "--events", "label.signed_off")
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{32}", added.secret)
    assert added.output.count(added.secret) == 1
    assert "label.signed_off" in added.output and "support-intent" in added.output
    with Session(engine) as session:
        (stored,) = session.exec(select(Webhook)).all()
    assert stored.secret == added.secret  # HMAC needs it in clear
    assert stored.events == ["label.signed_off"]

    everything = add_webhook("http://127.0.0.1:9/all")
    for text in ("label.signed_off", "item.escalated", "item.failed"):
        assert text in everything.output  # no --events: all three
    assert everything.secret != added.secret

    listed = quorum_webhook("list")
    assert listed.exit_code == 0, listed.output
    assert "whsec_" not in listed.output
    assert added.secret not in listed.output and everything.secret not in listed.output
    for text in ("https://hooks.example.com/quorum", "http://127.0.0.1:9/all", "support-intent"):
        assert text in listed.output
    assert re.search(rf"│\s*{added.id}\s*│", listed.output)
    assert "Pending" in listed.output and "Failed" in listed.output


def test_a_password_in_the_url_is_masked_when_listed(project, add_webhook, quorum_webhook):
    added = add_webhook("https://quorum:hunter2@hooks.example.com/in")
    assert "hunter2" not in added.output
    listed = quorum_webhook("list", "--project", "support-intent")
    assert "https://quorum:***@hooks.example.com/in" in listed.output
    assert "hunter2" not in listed.output


def test_unknown_event_names_and_projects_are_refused_by_name(engine, project, quorum_webhook):
    refused = quorum_webhook(
        "add", "--project", "support-intent", "https://x.example/", "--events",
        "label.signed_off,item.done,label.created",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "item.done" in refused.output and "label.created" in refused.output
    assert "label.signed_off, item.escalated, item.failed" in refused.output
    unknown = quorum_webhook("add", "--project", "nope", "https://x.example/")
    assert unknown.exit_code == 2 and "nope" in unknown.output
    not_http = quorum_webhook("add", "--project", "support-intent", "ftp://x.example/")
    assert not_http.exit_code == 2 and "http or https" in not_http.output
    with Session(engine) as session:
        assert session.exec(select(Webhook)).all() == []
    assert "No webhooks" in quorum_webhook("list").output


def test_remove_stops_deliveries_and_says_what_it_dropped(
    engine, clock, project, add_webhook, quorum_webhook
):
    kept = add_webhook(f"http://127.0.0.1:{free_port()}/kept")
    gone = add_webhook(f"http://127.0.0.1:{free_port()}/gone")
    sign_off(engine, clock, "t-0")
    sign_off(engine, clock, "t-1")

    removed = quorum_webhook("remove", str(gone.id))
    assert removed.exit_code == 0, removed.output
    assert f"Removed webhook {gone.id}" in removed.output
    assert "2 pending deliveries dropped" in removed.output
    listed = quorum_webhook("list").output
    assert "/kept" in listed and "/gone" not in listed

    sign_off(engine, clock, "t-2")  # after the removal: nothing queued for it
    with Session(engine) as session:
        rows = session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))).all()
    assert [(r.webhook_id, r.status) for r in rows if r.webhook_id == gone.id] == [
        (gone.id, "dropped"),
        (gone.id, "dropped"),
    ]
    assert len([r for r in rows if r.webhook_id == kept.id]) == 3

    again = quorum_webhook("remove", str(gone.id))
    assert again.exit_code == 2 and f"No webhook {gone.id}" in again.output
    assert quorum_webhook("remove", "999").exit_code == 2
    assert "3 pending deliveries dropped" in quorum_webhook("remove", str(kept.id)).output
    idle = add_webhook("https://hooks.example.com/idle")
    assert "nothing was pending" in quorum_webhook("remove", str(idle.id)).output


def test_log_shows_each_attempt_newest_first(
    engine, clock, project, receiver, add_webhook, quorum_webhook
):
    receiver.status = 500
    added = add_webhook(f"{receiver.url}/hook")
    sign_off(engine, clock, "t-0")
    sender = WebhookSender(engine, clock=clock)
    try:
        assert sender.run_once() == 1
        clock.advance(seconds=10)
        receiver.status = 200
        assert sender.run_once() == 1
    finally:
        sender.stop()
    with Session(engine) as session:
        (delivery,) = session.exec(select(WebhookDelivery)).all()

    log = quorum_webhook("log")
    assert log.exit_code == 0, log.output
    lines = [line for line in log.output.splitlines() if delivery.event_id in line]
    assert len(lines) == 2
    assert "200" in lines[0] and "500" in lines[1] and "receiver says no" in lines[1]
    assert all("label.signed_off" in line and "delivered" in line for line in lines)
    assert all(re.search(rf"│\s*{added.id}\s*│", line) for line in lines)
    assert "2026-01-05 09:00:10" in lines[0] and "2026-01-05 09:00:00" in lines[1]
    assert " ms" in lines[0]

    newest = quorum_webhook("log", "--limit", "1", "--project", "support-intent").output
    (only,) = [line for line in newest.splitlines() if delivery.event_id in line]
    assert cells(only) == cells(lines[0])
    assert "whsec_" not in log.output
