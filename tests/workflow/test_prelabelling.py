"""Background pre-labelling before routing, through the real openai client and the stub.

Every LLM failure mode ends the same way for the item: routed to reviewers, with the
reason; and an item is never lost, even when the process dies mid-call.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

import bot.workflow.intake.prelabel as prelabelling
from bot.llm import PreLabelFailed, prompt_template_hash
from bot.runtime.context import QuorumContext
from bot.sandbox.openai_stub import OpenAIStub
from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.intake.prelabel import prelabel_pending, store_prelabel
from bot.workflow.llm_assist import LLMAssistWorker
from bot.workflow.llm_projects import llm_projects
from bot.workflow.review.queue import memberships
from storage import prelabel_queries
from storage.db import session_scope
from storage.models import Event, Item, Label, OutboxMessage, PreLabelRecord
from tests.factories import (
    REVIEWERS,
    apply,
    conversation,
    import_file,
    label_config,
    make_settings,
    store_as_an_older_release_did,
    write_items,
)

KEY = "sk-test-PRELABEL-SECRET-42"


class Sleeps(list):
    """Backoff sleeps recorded instead of waited."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def answer(value: object, confidence: float, rationale: str = "Because.") -> dict:
    return {"value": value, "confidence": confidence, "rationale": rationale}


def by_text(request: dict) -> dict:
    """Charged -> billing (sure), password -> account (unsure), else other (sure)."""
    text = request["messages"][-1]["content"]
    if "charged" in text:
        return answer("billing", 0.91, "A double charge is billing.")
    if "password" in text:
        return answer("account", 0.62, "Probably a login problem.")
    return answer("other", 0.95)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key=KEY, responder=by_text) as server:
        yield server


def make_ctx(engine, database_url, clock, stub: OpenAIStub, **settings) -> QuorumContext:
    values = {"openai_api_key": KEY, "openai_base_url": stub.base_url, **settings}
    return QuorumContext(
        engine=engine,
        settings=make_settings(database_url, **values),
        clock=clock,
        rng=random.Random(3),
    )


@pytest.fixture
def ctx(engine, database_url, clock, stub) -> QuorumContext:
    return make_ctx(engine, database_url, clock, stub)


def llm_project(engine, name="support-intent", **llm) -> None:
    settings = {"enabled": True, "timeout_s": 2.0, "max_retries": 1, **llm}
    apply(engine, label_config(name=name, llm=settings))


def add_items(engine, tmp_path, texts: dict[str, str], project="support-intent", **extra) -> None:
    items = [
        {"id": ext, "conversation": conversation(text), **extra} for ext, text in texts.items()
    ]
    import_file(engine, write_items(tmp_path / f"{project}.jsonl", items), project)


def item(engine, external_id: str) -> Item:
    with Session(engine) as session:
        return session.exec(select(Item).where(Item.external_id == external_id)).one()


def events(engine, kind: str) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))))


def waiting_ids(engine) -> list[str]:
    with Session(engine) as session:
        configs = llm_projects(session)
        waiting = prelabel_queries.items_awaiting_prelabel(session, configs)
        return [i.external_id for i in waiting]


# --- the happy path ----------------------------------------------------------------------


def test_items_wait_for_their_prelabel_then_route_on_its_confidence(engine, ctx, tmp_path, stub):
    llm_project(engine)
    add_items(engine, tmp_path, {"t-1": "I was charged twice", "t-2": "Reset my password"})

    assert dispatch_queued(engine, clock=ctx.clock, rng=ctx.rng).total == 0
    assert waiting_ids(engine) == ["t-1", "t-2"]
    assert item(engine, "t-1").status == "queued" and not events(engine, "routed")

    report = prelabel_pending(ctx, sleep=Sleeps())
    assert (report.prelabelled, report.failed) == (2, 0)
    with Session(engine) as session:
        record = session.exec(
            select(PreLabelRecord).where(PreLabelRecord.item_id == item(engine, "t-1").id)
        ).one()
    assert (record.value, record.confidence) == ("billing", 0.91)
    assert (record.model, record.prompt_name) == ("gpt-4o-mini", "prelabel.j2")
    assert record.prompt_hash == prompt_template_hash("prelabel.j2")
    assert record.rationale == "A double charge is billing."
    assert json.loads(record.raw_output) == answer("billing", 0.91, "A double charge is billing.")
    assert record.error is None
    # Calls run concurrently, so results arrive in any order.
    assert sorted(e.data["value"] for e in events(engine, "prelabelled")) == ["account", "billing"]

    report = dispatch_queued(engine, clock=ctx.clock, rng=ctx.rng)
    assert (report.auto_accepted, report.sent_to_reviewers) == (1, 1)
    sure, unsure = item(engine, "t-1"), item(engine, "t-2")
    assert sure.status == "auto_accepted"
    assert sure.route_reason == "confidence 0.91 >= 0.80 (LLM pre-label): auto-accepted"
    assert unsure.status == "assigned"
    assert unsure.route_reason == "confidence 0.62 < 0.80 (LLM pre-label)"
    with Session(engine) as session:
        label = session.exec(select(Label)).one()
    assert (label.value, label.method, label.confidence) == ("billing", "auto", 0.91)
    routed = {e.item_id: e.data for e in events(engine, "routed")}
    assert routed[sure.id]["confidence_source"] == "llm"
    assert waiting_ids(engine) == []
    assert prelabel_pending(ctx, sleep=Sleeps()).total == 0  # nothing is asked twice


def test_pipeline_confidence_routes_even_when_a_prelabel_exists(engine, ctx, tmp_path, stub):
    llm_project(engine)
    prediction = {"label": "bug", "confidence": 0.97, "model": "intent-v3"}
    add_items(engine, tmp_path, {"t-1": "I was charged twice"}, prediction=prediction)
    assert dispatch_queued(engine, clock=ctx.clock, rng=ctx.rng).total == 0  # still waits
    prelabel_pending(ctx, sleep=Sleeps())
    dispatch_queued(engine, clock=ctx.clock, rng=ctx.rng)
    with Session(engine) as session:
        label = session.exec(select(Label)).one()
    assert (label.value, label.confidence) == ("bug", 0.97)  # the pipeline's, not the LLM's
    assert item(engine, "t-1").route_reason == "confidence 0.97 >= 0.80: auto-accepted"


def test_projects_without_llm_assist_are_not_held_back(engine, ctx, tmp_path, stub):
    llm_project(engine)
    apply(engine, label_config(name="plain"))
    add_items(engine, tmp_path, {"t-1": "I was charged twice"})
    add_items(engine, tmp_path, {"p-1": "I was charged twice"}, project="plain")
    report = dispatch_queued(engine, clock=ctx.clock, rng=ctx.rng)
    assert report.sent_to_reviewers == 1
    assert item(engine, "p-1").status == "assigned" and item(engine, "t-1").status == "queued"
    assert stub.requests == []  # nothing was asked for the plain project


def test_concurrency_comes_from_the_config(engine, ctx, tmp_path, stub):
    llm_project(engine, concurrency=3)
    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def slow(request: dict) -> dict:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)  # inside the stub: long enough for calls to overlap
        with lock:
            state["now"] -= 1
        return answer("bug", 0.5)

    stub.responder = slow
    add_items(engine, tmp_path, {f"t-{i}": f"sample {i}" for i in range(12)})
    assert prelabel_pending(ctx, sleep=Sleeps()).prelabelled == 12
    assert state["max"] == 3


# --- no item lost ------------------------------------------------------------------------


def test_crash_between_llm_call_and_write_leaves_the_item_waiting(
    engine, ctx, tmp_path, stub, monkeypatch
):
    llm_project(engine)
    add_items(engine, tmp_path, {"t-1": "I was charged twice"})

    def power_cut(*args, **kwargs):
        raise RuntimeError("process killed")

    monkeypatch.setattr(prelabelling, "store_prelabel", power_cut)
    with pytest.raises(RuntimeError):
        prelabel_pending(ctx, sleep=Sleeps())
    assert len(stub.requests) == 1  # the model answered, the answer was lost
    assert waiting_ids(engine) == ["t-1"]
    assert dispatch_queued(engine, clock=ctx.clock, rng=ctx.rng).total == 0

    monkeypatch.undo()
    assert prelabel_pending(ctx, sleep=Sleeps()).prelabelled == 1
    assert len(stub.requests) == 2  # asked again
    assert dispatch_queued(engine, clock=ctx.clock, rng=ctx.rng).auto_accepted == 1


def test_a_second_worker_does_not_store_a_second_prelabel(engine, ctx, tmp_path):
    llm_project(engine)
    add_items(engine, tmp_path, {"t-1": "I was charged twice"})
    item_id = item(engine, "t-1").id
    config = label_config(llm={"enabled": True})
    failure = PreLabelFailed("pre-label failed: timeout")
    with session_scope(engine) as session:
        assert store_prelabel(session, item_id, config, failure, now=ctx.clock.now())
    with session_scope(engine) as session:
        assert store_prelabel(session, item_id, config, failure, now=ctx.clock.now()) is None
    with Session(engine) as session:
        assert len(session.exec(select(PreLabelRecord)).all()) == 1


def test_stopping_the_worker_mid_backoff_leaves_the_item_waiting(engine, ctx, tmp_path, stub):
    llm_project(engine, max_retries=5)
    add_items(engine, tmp_path, {"t-1": "I was charged twice"})
    stub.fail_next(status=503, times=100)
    worker = LLMAssistWorker(ctx, interval_s=0.05).start()
    deadline = time.monotonic() + 10
    while not stub.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert stub.requests, "the worker never called the LLM"
    assert waiting_ids(engine) == ["t-1"]
    assert not events(engine, "prelabel_failed")


# --- every failure mode ends with the item routed to reviewers -----------------------------


def _timeout(stub: OpenAIStub) -> None:
    stub.fail_next(status=200, delay_s=1.5, times=2)


def _malformed_body(stub: OpenAIStub) -> None:
    stub.fail_next(status=200, body="{this is not json", times=2)


def _malformed_answer(stub: OpenAIStub) -> None:
    stub.responder = lambda request: "Sure! It is billing."


FAILURES = {
    "timeout": (_timeout, "pre-label failed: timeout after 2 attempts"),
    "429": (
        lambda stub: stub.fail_next(status=429, retry_after=0, times=2),
        "pre-label failed: rate limited (HTTP 429) after 2 attempts",
    ),
    "5xx": (
        lambda stub: stub.fail_next(status=503, times=2),
        "pre-label failed: server error (HTTP 503) after 2 attempts",
    ),
    "malformed-body": (
        _malformed_body,
        "pre-label failed: malformed output (response body is not JSON) after 2 attempts",
    ),
    "malformed-answer": (
        _malformed_answer,
        "pre-label failed: malformed output (not JSON) after 2 attempts",
    ),
}


@pytest.mark.parametrize("mode", list(FAILURES))
def test_llm_failure_routes_the_item_to_reviewers_with_the_reason(
    mode, engine, ctx, tmp_path, stub, caplog
):
    caplog.set_level(logging.DEBUG)
    llm_project(engine, timeout_s=0.3)
    # A confident pipeline prediction does not rescue it: no pre-label, no auto-accept.
    prediction = {"label": "billing", "confidence": 0.99, "model": "intent-v3"}
    add_items(engine, tmp_path, {"t-1": "I was charged twice"}, prediction=prediction)
    arrange, reason = FAILURES[mode]
    arrange(stub)
    report = prelabel_pending(ctx, sleep=Sleeps())
    assert (report.prelabelled, report.failed) == (0, 1)
    assert_routed_to_reviewers(engine, ctx, reason)
    assert KEY not in caplog.text


def test_bad_api_key_routes_to_reviewers_and_never_shows_the_key(
    engine, database_url, clock, tmp_path, stub, caplog
):
    caplog.set_level(logging.DEBUG)
    wrong = "sk-test-WRONG-KEY-0000"
    ctx = make_ctx(engine, database_url, clock, stub, openai_api_key=wrong)
    llm_project(engine)
    add_items(engine, tmp_path, {"t-1": "I was charged twice"})
    prelabel_pending(ctx, sleep=Sleeps())
    reason = "pre-label failed: authentication failed (HTTP 401): check OPENAI_API_KEY"
    assert_routed_to_reviewers(engine, ctx, reason)
    assert len(stub.requests) == 1  # not retried: a wrong key stays wrong
    assert wrong not in caplog.text and KEY not in caplog.text


def test_no_api_key_routes_to_reviewers_saying_what_to_set(
    engine, database_url, clock, tmp_path, stub, monkeypatch
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ctx = make_ctx(engine, database_url, clock, stub, openai_api_key=None)
    llm_project(engine)
    add_items(engine, tmp_path, {"t-1": "I was charged twice", "t-2": "Reset my password"})
    assert prelabel_pending(ctx, sleep=Sleeps()).failed == 2
    reason = (
        "pre-label failed: LLM assist needs an API key: set OPENAI_API_KEY (and "
        "OPENAI_BASE_URL for a compatible server)"
    )
    assert_routed_to_reviewers(engine, ctx, reason, external_ids=("t-1", "t-2"))
    assert stub.requests == []


def assert_routed_to_reviewers(engine, ctx, reason: str, external_ids=("t-1",)) -> None:
    failed = events(engine, "prelabel_failed")
    assert [e.data["reason"] for e in failed] == [reason] * len(external_ids)
    dispatch_queued(engine, clock=ctx.clock, rng=ctx.rng)
    for external_id in external_ids:
        routed = item(engine, external_id)
        assert routed.status == "assigned"
        assert routed.route_reason == f"{reason} — sent to reviewers"
    with Session(engine) as session:
        assert not session.exec(select(Label)).all()
        dms = session.exec(select(OutboxMessage)).all()
        stored = json.dumps([e.data for e in session.exec(select(Event)).all()])
    assert len(dms) == 3 * len(external_ids)  # overlap 3: each item reached three reviewers
    assert KEY not in stored and "sk-test" not in stored
    route_events = [e for e in events(engine, "routed")]
    assert all(e.data["to_humans"] for e in route_events)


def test_a_stored_config_no_longer_valid_leaves_only_its_own_project_out(engine, caplog):
    """After an upgrade with stricter project checks, one old config must not stop LLM
    assist, App Home or /quorum for every project: it is left out, named once in the log."""
    llm_project(engine)
    llm_project(engine, name="other-intent")
    store_as_an_older_release_did(engine, "support-intent", labels=["billing", ""])
    with caplog.at_level(logging.ERROR, logger="bot.workflow.project_versions"):
        for _ in range(3):
            with Session(engine) as session:
                names = {c.name for c in llm_projects(session).values()}
                homes = {m.config.name for m in memberships(session, REVIEWERS[0])}
            assert names == homes == {"other-intent"}
    refused = [r for r in caplog.records if "support-intent" in r.getMessage()]
    assert len(refused) == 1 and "project apply" in refused[0].getMessage()
