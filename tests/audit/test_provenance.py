"""`quorum provenance ITEM`: an escalated item's whole story, as a timeline and as JSON."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from bot.workflow.decision.escalation import ResolveOutcome, resolve_escalation
from storage.db import session_scope
from storage.models import Escalation, Event, ProjectVersion
from tests.factories import apply, conversation, import_file, label_config, write_items

LEAD = "U09LEAD"


def resolve(trail, external_id: str, value: str, rationale: str) -> None:
    trail.clock.advance(hours=3)
    with session_scope(trail.engine) as session:
        escalation = session.exec(
            select(Escalation).where(Escalation.item_id == trail.item_id(external_id))
        ).one()
        result = resolve_escalation(
            session,
            escalation_id=escalation.id,
            lead=LEAD,
            now=trail.clock.now(),
            value=value,
            rationale=rationale,
        )
    assert result.outcome == ResolveOutcome.RESOLVED


def test_timeline_of_an_escalated_item_shows_who_decided_what(trail, quorum):
    resolve(trail, "t-2", "bug", "Stack trace in the message: a bug")
    result = quorum("provenance", "t-2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (  # short enough never to be wrapped in an 80-column table
        "item_created",
        "routed",
        "assigned",
        "answered",
        "escalated",
        "resolved",
        "U09LEAD",
        "decided bug",
        "signed_off",
        "Label: bug by lead",
        "signed off by U09LEAD",
        "intact",
    ):
        assert expected in out, expected
    assert out.index("escalated") < out.index("resolved") < out.rindex("signed_off")


def test_json_history_holds_events_and_the_provenance_block(trail, quorum):
    resolve(trail, "t-2", "bug", "Stack trace in the message: a bug")
    result = quorum("provenance", "t-2", "--json")
    history = json.loads(result.stdout)
    assert history["item"]["id"] == "t-2" and history["item"]["status"] == "signed_off"
    kinds = [e["kind"] for e in history["events"]]
    assert kinds[0] == "item_created" and kinds[-1] == "signed_off"
    assert {"routed", "assigned", "answered", "escalated", "resolved"} <= set(kinds)
    block = history["provenance"]
    assert sorted(r["value"] for r in block["responses"]) == ["account", "bug", "other"]
    assert all(r["latency_ms"] > 0 and r["answered_at"] for r in block["responses"])
    assert block["escalation"]["resolved_by"] == LEAD
    assert block["escalation"]["rationale"] == "Stack trace in the message: a bug"
    assert block["sign_off"]["method"] == "lead" and block["sign_off"]["by"] == LEAD
    with Session(trail.engine) as session:
        config_hash = session.exec(select(ProjectVersion.config_hash)).one()
        head = session.exec(
            select(Event.hash)
            .where(Event.item_id == trail.item_id("t-2"))
            .order_by(Event.seq.desc())
        ).first()
    assert block["config"] == {"version": 1, "hash": config_hash}
    assert block["chain"]["head_hash"] == history["chain"]["head_hash"] == head
    assert history["chain"]["intact"] is True


def test_a_tampered_item_says_so_in_its_timeline(trail, quorum):
    from sqlalchemy import text

    with trail.engine.begin() as connection:
        connection.execute(
            text("UPDATE event SET actor = 'U02BOB' WHERE item_id = :id AND kind = 'routed'"),
            {"id": trail.item_id("t-1")},
        )
    out = quorum("provenance", "t-1").stdout
    assert "BROKEN" in out and "content edited" in out


def test_unknown_and_ambiguous_ids_are_explained(trail, quorum, tmp_path):
    missing = quorum("provenance", "nope")
    assert missing.exit_code == 2 and "no item with id 'nope'" in missing.output
    apply(trail.engine, label_config(name="support-intent-eu"))
    import_file(
        trail.engine,
        write_items(tmp_path / "eu.jsonl", [{"id": "t-1", "conversation": conversation("hi")}]),
        name="support-intent-eu",
    )
    ambiguous = quorum("provenance", "t-1")
    assert ambiguous.exit_code == 2 and "--project" in ambiguous.output
    chosen = quorum("provenance", "t-1", "--project", "support-intent-eu", "--json")
    assert json.loads(chosen.stdout)["item"]["project"] == "support-intent-eu"
