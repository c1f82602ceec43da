"""Adding and removing a webhook are audited on the project's chain: who, when, which
URL (its password masked), never the secret."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.audit.verify import check_chain
from storage.models import Event, Webhook


def test_adding_and_removing_a_webhook_are_audited_without_the_secret(
    engine, project, quorum_webhook, monkeypatch
):
    monkeypatch.setenv("USER", "ana")  # who ran the command, as `project apply` records it
    added = quorum_webhook("add", "--project", project, "https://bot:pw@hooks.example.com/q")
    assert added.exit_code == 0, added.output
    secret = next(word for word in added.output.split() if word.startswith("whsec_"))
    with Session(engine) as session:
        webhook_id = session.exec(select(Webhook.id)).one()
    assert quorum_webhook("remove", str(webhook_id)).exit_code == 0
    with Session(engine) as session:
        events = session.exec(
            select(Event).where(col(Event.item_id).is_(None)).order_by(col(Event.id))
        ).all()
    kinds = [event.kind for event in events]
    assert kinds[-2:] == ["webhook_added", "webhook_removed"]
    added_event, removed_event = events[-2:]
    assert (
        removed_event.actor == added_event.actor == "ana"
        and added_event.data["webhook_id"] == webhook_id
    )
    assert added_event.data["url"] == "https://bot:***@hooks.example.com/q"
    assert removed_event.data == {
        "webhook_id": webhook_id,
        "url": "https://bot:***@hooks.example.com/q",
        "dropped": 0,
    }
    text = "".join(str(event.data) for event in events)
    assert secret not in text and "pw@" not in text
    assert check_chain(events).intact
