"""Adaptive overlap, `overlap: {min, max, target_confidence}`: an item starts with `min`
reviewers, gets one more while its consensus is under the target (or would go to a lead),
and goes to a lead only when `max` cannot settle it; on real crowd answers it buys the
accuracy of a fixed overlap of 5 with far fewer answers."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.config.project import ProjectConfigError, parse_project
from bot.workflow.decision.simulate import read_answers, report
from bot.workflow.intake.dispatch import dispatch_queued
from storage.models import Assignment, Event, Item, Label
from tests.factories import answer, apply, conversation, import_file, kind_config, write_items
from tests.workflow.test_simulate import WSD, wsd_config

ADAPTIVE = {"min": 2, "max": 5, "target_confidence": 0.95}


def test_the_adaptive_form_is_read_and_checked():
    config = kind_config("support-intent", overlap={**ADAPTIVE, "max": 4})
    assert (config.initial_overlap, config.max_overlap) == (2, 4)
    assert config.adaptive is not None and config.adaptive.target_confidence == 0.95
    assert kind_config("support-intent", overlap=3).adaptive is None
    base = kind_config("support-intent").model_dump(mode="json")
    for overlap, says in [
        (
            {"min": 4, "max": 2, "target_confidence": 0.9},
            "overlap.max (2) is under overlap.min (4)",
        ),
        (
            {"min": 2, "max": 3, "target": 0.9},
            "`overlap.target` is not an adaptive overlap setting",
        ),
        ({"min": 2, "max": 9, "target_confidence": 0.9}, "overlap is 9 but only 4 reviewers"),
    ]:
        with pytest.raises(ProjectConfigError) as error:
            parse_project({**base, "overlap": overlap})
        assert says in str(error.value)


def test_on_real_answers_it_matches_a_fixed_five_with_half_the_answers():
    answers = read_answers(WSD)
    fixed = {n: report(wsd_config(overlap=n), answers, {}) for n in (3, 5)}
    adaptive = report(wsd_config(overlap=ADAPTIVE), answers, {})
    assert adaptive.items == fixed[5].items == 177
    assert adaptive.answers_per_item <= 2.5  # fixed: 5.0
    assert adaptive.signed_accuracy is not None and fixed[5].signed_accuracy is not None
    assert adaptive.signed_accuracy >= fixed[5].signed_accuracy
    assert adaptive.lead_share <= 0.02
    assert adaptive.ece is not None and adaptive.ece <= 0.03


def test_a_split_asks_one_more_reviewer_and_the_item_is_decided_on_three(engine, tmp_path, clock):
    apply(engine, kind_config("support-intent", overlap={**ADAPTIVE, "max": 3}))
    record = {
        "id": "a-1",
        "conversation": conversation("I was charged twice"),
        "prediction": {"label": "billing", "confidence": 0.5, "model": "m"},
    }
    import_file(engine, write_items(tmp_path / "items.jsonl", [record]))
    dispatch_queued(engine, clock=clock)

    def given() -> list[Assignment]:
        with Session(engine) as session:
            return list(session.exec(select(Assignment).order_by(Assignment.id)))

    first, second = given()
    answer(engine, clock, first, "billing")
    answer(engine, clock, second, "bug")  # a tie: one more reviewer, not a lead
    third = given()[2:]
    assert len(third) == 1 and third[0].reviewer_id not in {first.reviewer_id, second.reviewer_id}
    with Session(engine) as session:
        item = session.exec(select(Item)).one()
        [extended] = session.exec(select(Event).where(Event.kind == "overlap_extended")).all()
    assert (item.status, item.overlap) == ("assigned", 3)
    assert extended.data["overlap"] == 3
    assert extended.data["reason"] == "tie between answers: asking reviewer 3 (at most 3)"

    answer(engine, clock, third[0], "billing")
    with Session(engine) as session:
        item = session.exec(select(Item)).one()
        label = session.exec(select(Label)).first()
    assert len(given()) == 3  # max reached: nobody more is asked
    # Two of three agree; the consensus' confidence decides between sign-off and a lead.
    assert item.status in ("signed_off", "escalated")
    assert (label is not None) == (item.status == "signed_off")
