"""One item of each task kind through its whole life in the offline Slack, and every kind
of event the trail knows is found recorded, hash-chained and verifiable.

Everything happens through the real Bolt app, the Slack emulator, the OpenAI stub and the
scheduler's own jobs: no event is written by the test.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

from bot.audit.verify import verify_trail
from bot.delivery.jobs import escalation_reminders, reassignments, reminders
from bot.exports.run import ExportRequest, run_export
from bot.exports.writers import JsonlSink
from bot.intake.importer import import_records, validate_file
from bot.sandbox.harness import SlackSandbox
from bot.sandbox.leads import resolve_escalations
from bot.sandbox.openai_stub import OpenAIStub, start_llm_stub
from bot.slack import ids
from bot.workflow.project_versions import require_project
from storage.db import session_scope
from storage.models import Assignment, Event, Item
from tests.factories import (
    apply,
    conversation,
    kind_config,
    last_modal,
    press,
    press_in_block,
    start,
    texts,
    write_items,
)

REVIEWERS = ["U01ALICE", "U02BOB", "U03CARA", "U04DAN"]
LEAD = "U09LEAD"
FAST = {  # so reminders and reassignment happen within the test's hours
    "reminder_after_hours": 1,
    "max_reminders": 1,
    "reassign_after_hours": 3,
    "escalation_reminder_hours": 1,
    "work_hours": [0, 23],
}
EVERY_KIND = {
    "project_applied",
    "item_created",
    "item_updated",
    "routed",
    "prelabelled",
    "prelabel_failed",
    "assigned",
    "message_sent",
    "answered",
    "answer_changed",
    "rationale_added",
    "skipped",
    "flagged",
    "reassigned",
    "reminder_sent",
    "escalated",
    "escalation_reminder",
    "resolved",
    "signed_off",
    "exported",
    "paused",
    "resumed",
}


def reply(request: dict) -> dict | str:
    if request.get("response_format"):
        return {"value": "billing", "confidence": 0.62, "rationale": "A charge question."}
    return "Reviewers disagree."


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    overrides: dict = {}
    server = start_llm_stub(overrides, responder=reply)
    server.overrides = overrides  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def sandbox(database_url, clock, stub) -> Iterator[SlackSandbox]:
    with SlackSandbox(
        database_url,
        users=REVIEWERS + [LEAD],
        channels=["C0ESCALATE"],
        clock=clock,
        settings_overrides=dict(stub.overrides),
    ) as box:
        yield box


def slash(sandbox, user: str, text: str) -> None:
    assert sandbox.sender.slash_command(user, text).status == 200


def run_job(sandbox, job, hours: float) -> None:
    sandbox.clock.advance(hours=hours)
    job(sandbox.ctx, sandbox.clock.now())
    sandbox.settle()


def pending(sandbox, external_id: str) -> list[str]:
    with Session(sandbox.ctx.engine) as session:
        item = session.exec(select(Item).where(Item.external_id == external_id)).one()
        return [
            a.reviewer_id
            for a in session.exec(
                select(Assignment)
                .where(Assignment.item_id == item.id, Assignment.status == "pending")
                .order_by(col(Assignment.id))
            )
        ]


def request_for(sandbox, user: str, button: str) -> dict:
    """The user's latest DM offering this button (they have DMs of other projects too)."""
    for message in reversed(sandbox.dm(user)):
        if button in texts(message):
            return message
    raise AssertionError(f"{user} has no DM with {button!r}")


def label_item_life(sandbox, tmp_path) -> None:
    """Pre-labelled, reminded, answered, changed, explained, flagged, skipped, escalated,
    chased, resolved by a lead."""
    config = kind_config(
        "support-intent",
        agreement=0.9,
        timing=FAST,
        llm={"enabled": True, "max_retries": 0},
        routing={"confidence_below": 0.8, "audit_rate": 0.0},
    )
    item = {"id": "t-1", "conversation": conversation("I was charged twice")}
    first, second, third = start(sandbox, tmp_path, config, [item])
    run_job(sandbox, reminders, hours=1.5)
    press(sandbox, first, sandbox.latest_dm(first), "bug")
    sandbox.settle()
    press(sandbox, first, sandbox.latest_dm(first), "Change my answer")
    sandbox.settle()
    press(sandbox, first, sandbox.latest_dm(first), "billing")
    press(sandbox, second, sandbox.latest_dm(second), "Add rationale")
    rationale = {ids.RATIONALE_BLOCK: {ids.TEXT_INPUT: "A double charge is billing."}}
    sandbox.sender.submit_view(second, last_modal(sandbox), rationale)
    sandbox.settle()
    press(sandbox, second, sandbox.latest_dm(second), "billing")
    press(sandbox, third, sandbox.latest_dm(third), "Flag")
    flag = {ids.FLAG_REASON_BLOCK: {ids.CHOICE_INPUT: "unclear"}}
    sandbox.sender.submit_view(third, last_modal(sandbox), flag)
    sandbox.settle()
    press(sandbox, third, sandbox.latest_dm(third), "Skip")
    sandbox.settle()
    [spare] = pending(sandbox, "t-1")
    press(sandbox, spare, sandbox.latest_dm(spare), "bug")  # 2 of 3 < 0.9: to the leads
    sandbox.settle()
    run_job(sandbox, escalation_reminders, hours=2)
    assert resolve_escalations(sandbox, LEAD, rng=random.Random(1), decide_rate=0.0) == 1
    sandbox.settle()


def rating_item_life(sandbox, tmp_path) -> None:
    config = kind_config("triage-rating", sign_off={"min_confidence": None}, timing=FAST)
    item = {"id": "tr-1", "conversation": conversation("Stiff neck and fever")}
    start(sandbox, tmp_path, config, [item])
    for user in pending(sandbox, "tr-1"):
        request = request_for(sandbox, user, "5 – Excellent")
        block = next(b for b in request["blocks"] if b.get("block_id", "").startswith("rate:"))
        assignment = block["block_id"].split(":")[1]
        for index, score in enumerate(["4 – Very good", "5 – Excellent", "5 – Excellent"]):
            press_in_block(sandbox, user, request, f"rate:{assignment}:{index}", score)
    sandbox.settle()


def preference_item_life(sandbox, tmp_path, stub) -> None:
    """Its pre-label fails; one reviewer never answers and the item moves on to another."""
    config = kind_config("code-preference", timing=FAST, llm={"enabled": True, "max_retries": 0})
    stub.fail_next(status=503, times=3)
    item = {
        "id": "cp-1",
        "prompt": [{"role": "user", "content": "Reverse a list in Python"}],
        "responses": [
            {"id": "slice", "content": "items[::-1]"},
            {"id": "loop", "content": "Write a for loop that prepends."},
        ],
    }
    start(sandbox, tmp_path, config, [item])
    first, second, _silent = pending(sandbox, "cp-1")
    for user in (first, second, None):
        if user is None:  # the third never answers: the item moves on to someone else
            run_job(sandbox, reassignments, hours=4)
            [user] = pending(sandbox, "cp-1")
        with Session(sandbox.ctx.engine) as session:
            order = session.exec(
                select(Assignment.presentation).where(
                    Assignment.reviewer_id == user, Assignment.status == "pending"
                )
            ).one()["order"]
        side = "A" if order[0] == "slice" else "B"
        press(sandbox, user, request_for(sandbox, user, "Tie"), f"{side} is much better")
    sandbox.settle()


def correction_item_life(sandbox, tmp_path) -> None:
    """Fixed by the pipeline before anyone saw it (item_updated); a lead signs off."""
    config = kind_config("legal-correction", timing=FAST)
    draft = {"id": "lc-1", "conversation": conversation("Summarise clause 11")}
    apply(sandbox.ctx.engine, config)
    with session_scope(sandbox.ctx.engine) as session:
        project = require_project(session, config.name)
        path = write_items(tmp_path / "lc-draft.jsonl", [draft])
        import_records(session, project, validate_file(path, config), source=str(path))
    item = {"id": "lc-1", "conversation": conversation("Summarise clause 12")}
    with session_scope(sandbox.ctx.engine) as session:
        project = require_project(session, config.name)
        path = write_items(tmp_path / "lc-fixed.jsonl", [item])
        records = validate_file(path, config)
        import_records(session, project, records, source=str(path), update_changed=True)
    sandbox.settle()
    for user in pending(sandbox, "lc-1"):
        press(sandbox, user, request_for(sandbox, user, "Looks right"), "Looks right")
    sandbox.settle()
    assert resolve_escalations(sandbox, LEAD, rng=random.Random(2), decide_rate=0.0) == 1
    sandbox.settle()


def test_every_kind_of_item_lives_its_whole_life_on_the_record(sandbox, stub, tmp_path):
    label_item_life(sandbox, tmp_path)
    rating_item_life(sandbox, tmp_path)
    preference_item_life(sandbox, tmp_path, stub)
    correction_item_life(sandbox, tmp_path)
    slash(sandbox, "U04DAN", "pause")
    slash(sandbox, "U04DAN", "resume")
    for project, fmt in [
        ("support-intent", "labels"),
        ("triage-rating", "ratings"),
        ("code-preference", "dpo"),
        ("legal-correction", "sft"),
    ]:
        out = io.StringIO()
        request = ExportRequest(project=project, format=fmt)
        run_export(
            sandbox.ctx.engine, request, sink=JsonlSink(out), now=sandbox.clock.now(), salt="s"
        )
        assert len(out.getvalue().splitlines()) >= 1 if fmt != "ratings" else 3

    with Session(sandbox.ctx.engine) as session:
        items = {i.external_id: i for i in session.exec(select(Item))}
        events = list(session.exec(select(Event).order_by(col(Event.chain), col(Event.seq))))
    assert {i.status for i in items.values()} == {"signed_off"}
    lives = {
        external: [e.kind for e in events if e.item_id == item.id]
        for external, item in items.items()
    }
    for external, kinds in lives.items():
        # Signed off once, after the answers; message updates may still follow.
        assert kinds[0] == "item_created" and kinds.count("signed_off") == 1, (external, kinds)
        assert kinds.index("answered") < kinds.index("signed_off"), (external, kinds)
        assert {"routed", "assigned", "message_sent", "answered"} <= set(kinds), external
    assert {"prelabelled", "reminder_sent", "answer_changed", "rationale_added"} <= set(
        lives["t-1"]
    )
    assert {"flagged", "skipped", "escalated", "escalation_reminder", "resolved"} <= set(
        lives["t-1"]
    )
    assert {"prelabel_failed", "reassigned"} <= set(lives["cp-1"])
    assert {"item_updated", "escalated", "resolved"} <= set(lives["lc-1"])
    recorded = {e.kind for e in events}
    assert recorded >= EVERY_KIND, sorted(EVERY_KIND - recorded)
    report = verify_trail(sandbox.ctx.engine, key=sandbox.ctx.settings.quorum_audit_key)
    assert report.intact and report.events == len(events)
    exported = [e for e in events if e.kind == "exported"]
    assert len(exported) == 4 and all(e.item_id is None for e in exported)
    assert json.dumps(exported[0].data)  # one small event per run
