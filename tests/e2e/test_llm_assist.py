"""LLM assist through the real Bolt app, the Slack emulator and the OpenAI stub: what a
reviewer sees of a pre-label, what the leads see of a disagreement, and the background
worker doing it all without being asked."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

from bot import EXAMPLES_DIR
from bot.intake.importer import import_records, validate_file
from bot.sandbox.harness import SlackSandbox
from bot.sandbox.openai_stub import OpenAIStub, start_llm_stub
from bot.sandbox.openai_stub import start_llm_stub as start_demo_stub
from bot.workflow.llm_projects import enable_llm_assist
from bot.workflow.project_versions import apply_project
from storage.db import session_scope
from storage.models import Escalation, Event, Item, Label, PreLabelRecord, Project
from tests.factories import (
    LEADS,
    REVIEWERS,
    apply,
    conversation,
    example_config,
    import_file,
    label_config,
    write_items,
)

SUMMARY = (
    "Reviewers disagree whether a duplicate charge is a billing or a bug issue. "
    "The lead must decide whether the double charge was caused by a defect."
)


def reply(request: dict) -> dict | str:
    if request.get("response_format"):
        return {"value": "billing", "confidence": 0.62, "rationale": "A charge question."}
    return SUMMARY


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    overrides: dict = {}
    server = start_llm_stub(overrides, responder=reply)
    server.overrides = overrides  # type: ignore[attr-defined]
    yield server
    server.stop()


def running(database_url, clock, stub, *, background=False) -> SlackSandbox:
    return SlackSandbox(
        database_url,
        users=REVIEWERS + LEADS,
        channels=["C0ESCALATE"],
        clock=clock,
        background=background,
        settings_overrides=dict(stub.overrides),
    )


@pytest.fixture
def sandbox(database_url, clock, stub) -> Iterator[SlackSandbox]:
    with running(database_url, clock, stub) as box:
        yield box


def start(sandbox, tmp_path, **llm) -> list[str]:
    config = label_config(llm={"enabled": True, "max_retries": 0, **llm})
    apply(sandbox.ctx.engine, config)
    item = {"id": "t-1", "conversation": conversation("I was charged twice")}
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]))
    sandbox.settle()
    return [u for u in REVIEWERS if sandbox.dm(u)]


def dm_text(sandbox, user) -> str:
    message = sandbox.latest_dm(user)
    return json.dumps(message["blocks"]) + message["text"]


def test_reviewers_see_the_ai_suggestion(sandbox, tmp_path, stub):
    reviewers = start(sandbox, tmp_path)
    assert len(reviewers) == 3  # 0.62 < 0.80: people decide
    for user in reviewers:
        text = dm_text(sandbox, user)
        assert "AI suggests" in text and "billing" in text and "(0.62)" in text
    assert len(stub.requests) == 1  # one pre-label per item, not one per reviewer


def test_suggestion_hidden_when_the_project_asks(sandbox, tmp_path, stub):
    reviewers = start(sandbox, tmp_path, show_suggestion=False)
    assert len(reviewers) == 3
    for user in reviewers:
        text = dm_text(sandbox, user)
        assert "AI suggests" not in text and "0.62" not in text
    with Session(sandbox.ctx.engine) as session:  # pre-labelled all the same, for calibration
        assert session.exec(select(PreLabelRecord)).one().value == "billing"
    # Reviewers answer as usual.
    user = reviewers[0]
    assert sandbox.sender.click(user, sandbox.latest_dm(user), text="bug").status == 200


def test_escalated_disagreement_gets_an_ai_summary(sandbox, tmp_path, stub):
    reviewers = start(sandbox, tmp_path, summarize_escalations=True)
    for user, label in zip(reviewers, ["billing", "bug", "account"], strict=True):
        sandbox.sender.click(user, sandbox.latest_dm(user), text=label)
    sandbox.settle()
    with Session(sandbox.ctx.engine) as session:
        escalation = session.exec(select(Escalation)).one()
        summarized = session.exec(select(Event).where(Event.kind == "escalation_summarized")).one()
    assert escalation.summary == SUMMARY
    assert summarized.data["escalation_id"] == escalation.id
    summary_request = stub.requests[-1]
    assert "response_format" not in summary_request
    prompt = summary_request["messages"][-1]["content"]
    assert all(f"{user}:" in prompt for user in reviewers)
    assert len(stub.requests) == 2
    # The leads' message was re-rendered with the summary, marked as AI-written.
    posted = json.dumps(sandbox.channel_messages("C0ESCALATE"))
    assert "AI summary" in posted and "written by an AI model" in posted
    assert "Reviewers disagree whether a duplicate charge" in posted
    sandbox.settle()
    assert len(stub.requests) == 2  # summarised once


def test_summary_failure_leaves_the_escalation_without_one(sandbox, tmp_path, stub):
    reviewers = start(sandbox, tmp_path, summarize_escalations=True)
    stub.fail_next(status=503, times=5)
    for user, label in zip(reviewers, ["billing", "bug", "account"], strict=True):
        sandbox.sender.click(user, sandbox.latest_dm(user), text=label)
    sandbox.settle()
    sandbox.settle()
    with Session(sandbox.ctx.engine) as session:
        escalation = session.exec(select(Escalation)).one()
        failed = session.exec(select(Event).where(Event.kind == "escalation_summary_failed")).one()
    assert escalation.summary is None and escalation.status == "open"
    assert failed.data["reason"] == "summary failed: server error (HTTP 503)"
    assert len(stub.requests) == 2  # the pre-label, one summary attempt; not retried in a loop
    posted = json.dumps(sandbox.channel_messages("C0ESCALATE"))
    assert "billing" in posted and "AI summary" not in posted  # the leads can still decide


def test_background_worker_prelabels_and_routes_on_its_own(database_url, clock, tmp_path, stub):
    stub.responder = lambda request: {"value": "account", "confidence": 0.93, "rationale": "r"}
    with running(database_url, clock, stub, background=True) as sandbox:
        apply(sandbox.ctx.engine, label_config(llm={"enabled": True}))
        items = [{"id": f"t-{i}", "conversation": conversation(f"sample {i}")} for i in range(5)]
        import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))

        def all_accepted() -> bool:
            with Session(sandbox.ctx.engine) as session:
                return len(session.exec(select(Label)).all()) == 5

        sandbox.wait_until(all_accepted)
        with Session(sandbox.ctx.engine) as session:
            labels = session.exec(select(Label)).all()
            statuses = session.exec(select(Item.status).order_by(col(Item.id))).all()
    assert {(label.value, label.method) for label in labels} == {("account", "auto")}
    assert statuses == ["auto_accepted"] * 5


def test_demo_stub_prelabels_the_example_project(database_url, clock, tmp_path):
    """What `quorum demo --llm-stub` relies on: the stub helper, LLM assist switched on
    for an example project, and varied pre-labels that split the items between
    auto-acceptance and reviewers, whose DMs show the suggestion."""
    overrides: dict = {}
    stub = start_demo_stub(overrides)
    try:
        assert overrides["openai_base_url"] == stub.base_url
        config = enable_llm_assist(example_config("support-intent"))
        reviewers = config.reviewer_ids
        with SlackSandbox(
            database_url,
            users=reviewers + config.leads,
            channels=["C0ESCALATE"],
            clock=clock,
            settings_overrides=overrides,
        ) as sandbox:
            with session_scope(sandbox.ctx.engine) as session:
                project = apply_project(session, config)
                records = validate_file(EXAMPLES_DIR / "support-intent.jsonl", config)
                target = session.get(Project, project.project_id)
                import_records(session, target, records, source="support-intent.jsonl")
            sandbox.settle()
            with Session(sandbox.ctx.engine) as session:
                prelabels = session.exec(select(PreLabelRecord)).all()
                statuses = session.exec(select(Item.status)).all()
            dms = [m for user in reviewers for m in sandbox.dm(user)]
    finally:
        stub.stop()
    assert len(prelabels) == 40 and not [p for p in prelabels if p.error]
    assert len({p.value for p in prelabels}) >= 3  # varied, not one label for everything
    assert "auto_accepted" in statuses and "assigned" in statuses
    assert dms and all("AI suggests" in json.dumps(m["blocks"]) for m in dms)
