"""The label review loop without Slack: import, route, assign, answer, sign off."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.review.outcome import AnswerOutcome
from storage.models import Assignment, Item, Label, OutboxMessage
from tests.factories import answer, apply, conversation, import_file, label_config, write_items


@pytest.fixture
def loaded(engine, context, tmp_path):
    apply(engine, label_config())
    items = [
        {
            "id": "t-1",
            "conversation": conversation("I was charged twice"),
            "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
        },
        {
            "id": "t-2",
            "conversation": conversation("Reset my password"),
            "prediction": {"label": "account", "confidence": 0.95, "model": "intent-v3"},
        },
    ]
    import_file(engine, write_items(tmp_path / "items.jsonl", items))
    dispatch_queued(engine, clock=context.clock, rng=context.rng)
    return context


def assignments_of(engine, external_id: str) -> list[Assignment]:
    with Session(engine) as session:
        item = session.exec(select(Item).where(Item.external_id == external_id)).one()
        return list(session.exec(select(Assignment).where(Assignment.item_id == item.id)))


def test_low_confidence_goes_to_three_distinct_reviewers_and_confident_is_auto_accepted(
    engine, loaded
):
    assignments = assignments_of(engine, "t-1")
    assert len({a.reviewer_id for a in assignments}) == 3
    assert assignments_of(engine, "t-2") == []
    with Session(engine) as session:
        auto = session.exec(select(Label).where(Label.method == "auto")).one()
        assert auto.value == "account"
        dms = session.exec(select(OutboxMessage).where(OutboxMessage.operation == "post_dm")).all()
        assert sorted(m.payload["user"] for m in dms) == sorted(a.reviewer_id for a in assignments)


def test_unanimous_answers_sign_off_with_consensus(engine, loaded):
    for assignment in assignments_of(engine, "t-1"):
        assert answer(engine, loaded.clock, assignment, "billing").outcome == AnswerOutcome.RECORDED
    with Session(engine) as session:
        label = session.exec(select(Label).where(Label.method == "consensus")).one()
        assert label.value == "billing" and label.agreement == 1.0


def test_second_answer_and_stranger_change_nothing(engine, loaded):
    first, *_ = assignments_of(engine, "t-1")
    assert answer(engine, loaded.clock, first, "bug").outcome == AnswerOutcome.RECORDED
    assert answer(engine, loaded.clock, first, "billing").outcome == AnswerOutcome.DUPLICATE
    _, second, _ = assignments_of(engine, "t-1")
    outcome = answer(engine, loaded.clock, second, "bug", user="U99STRANGER").outcome
    assert outcome == AnswerOutcome.NOT_ASSIGNED
    with Session(engine) as session:
        from storage.models import Response

        responses = session.exec(select(Response)).all()
        assert [(r.reviewer_id, r.value) for r in responses] == [(first.reviewer_id, "bug")]


def test_split_below_threshold_is_escalated(engine, loaded):
    for assignment, value in zip(
        assignments_of(engine, "t-1"), ["billing", "bug", "account"], strict=True
    ):
        answer(engine, loaded.clock, assignment, value)
    with Session(engine) as session:
        item = session.exec(select(Item).where(Item.external_id == "t-1")).one()
        assert item.status == "escalated"
        assert session.exec(select(Label).where(Label.item_id == item.id)).first() is None
