"""Confidence routing: thresholds, where the confidence comes from, and the audit sample."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
from sqlmodel import Session, select

from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.intake.routing import LLM, PIPELINE, audit_draw, route, route_item
from storage.models import Event, Item, Label, PreLabelRecord
from tests.factories import apply, conversation, import_file, label_config, write_items


def item(confidence: float | None = None, label: str | None = "billing", external_id="t-1") -> Item:
    content: dict = {"conversation": conversation("I was charged twice")}
    if label is not None:
        content["prediction"] = {"label": label, "confidence": confidence, "model": "intent-v3"}
    return Item(
        project_id=1,
        external_id=external_id,
        content=content,
        content_hash="x",
        confidence=confidence,
    )


def prelabel(value="account", confidence: float | None = 0.9, error: str | None = None):
    return PreLabelRecord(
        item_id=1,
        model="gpt-4o-mini",
        prompt_name="prelabel.j2",
        prompt_hash="h",
        value=None if error else value,
        confidence=None if error else confidence,
        error=error,
    )


def test_below_threshold_goes_to_reviewers_with_the_comparison():
    decision = route(label_config(), external_id="t-1", confidence=0.55)
    assert decision.to_humans and decision.reason == "confidence 0.55 < 0.80"


def test_at_threshold_is_auto_accepted():
    decision = route(label_config(), external_id="t-1", confidence=0.8)
    assert not decision.to_humans
    assert decision.reason == "confidence 0.80 >= 0.80: auto-accepted"


def test_pipeline_confidence_wins_over_the_prelabel_and_signs_off_the_prediction():
    decision = route_item(label_config(), item(0.93, "billing"), prelabel("account", 0.2))
    assert (decision.to_humans, decision.source, decision.value) == (False, PIPELINE, "billing")
    assert decision.confidence == 0.93


def test_without_pipeline_confidence_the_prelabel_decides():
    confident = route_item(label_config(), item(None, None), prelabel("account", 0.91))
    assert (confident.to_humans, confident.source, confident.value) == (False, LLM, "account")
    assert confident.reason == "confidence 0.91 >= 0.80 (LLM pre-label): auto-accepted"
    unsure = route_item(label_config(), item(None, None), prelabel("account", 0.62))
    assert unsure.to_humans and unsure.reason == "confidence 0.62 < 0.80 (LLM pre-label)"


def test_failed_prelabel_always_goes_to_reviewers_with_the_reason():
    failed = prelabel(error="pre-label failed: timeout after 3 attempts")
    decision = route_item(label_config(), item(0.99, "billing"), failed)
    assert decision.to_humans
    assert decision.reason == "pre-label failed: timeout after 3 attempts — sent to reviewers"


def test_no_confidence_at_all_goes_to_reviewers():
    decision = route_item(label_config(), item(None, None), None)
    assert decision.to_humans and "no model confidence" in decision.reason


def test_audit_decision_is_reproducible_per_item():
    config = label_config(routing={"confidence_below": 0.8, "audit_rate": 0.3})
    first = [route(config, external_id=f"t-{i}", confidence=0.95).audit for i in range(500)]
    again = [route(config, external_id=f"t-{i}", confidence=0.95).audit for i in range(500)]
    assert first == again
    other_salt = [
        route(config, external_id=f"t-{i}", confidence=0.95, salt="s2").audit for i in range(500)
    ]
    assert first != other_salt  # a new salt draws a new sample


def binomial_interval(n: int, p: float, level: float = 0.999) -> tuple[float, float]:
    """Two-sided interval for the count (normal approximation with continuity correction;
    accurate here since n*p and n*(1-p) are in the hundreds)."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    sd = math.sqrt(n * p * (1 - p))
    return n * p - z * sd - 0.5, n * p + z * sd + 0.5


@pytest.mark.parametrize("rate", [0.02, 0.05, 0.2])
def test_audited_share_matches_the_configured_rate(rate):
    config = label_config(name="audit-check", routing={"confidence_below": 0.8, "audit_rate": rate})
    n = 20_000
    decisions = [
        route(config, external_id=f"item-{i}", confidence=0.9, salt="fixed-salt") for i in range(n)
    ]
    audited = sum(d.audit for d in decisions)
    assert all(d.to_humans == d.audit for d in decisions)  # confident: only audits reach people
    low, high = binomial_interval(n, rate)
    assert low <= audited <= high, (audited, low, high)


def test_audit_draw_is_uniform():
    draws = [audit_draw("p", f"i-{i}") for i in range(20_000)]
    deciles = [sum(1 for d in draws if k / 10 <= d < (k + 1) / 10) for k in range(10)]
    low, high = binomial_interval(20_000, 0.1)
    assert all(low <= count <= high for count in deciles), deciles


def test_dispatch_sends_exactly_the_audit_sample_to_people(engine, context, tmp_path):
    config = label_config(routing={"confidence_below": 0.8, "audit_rate": 0.25}, overlap=1)
    apply(engine, config)
    items = [
        {
            "id": f"c-{i}",
            "conversation": conversation(f"sample {i}"),
            "prediction": {"label": "bug", "confidence": 0.9, "model": "intent-v3"},
        }
        for i in range(80)
    ]
    import_file(engine, write_items(tmp_path / "items.jsonl", items))
    report = dispatch_queued(engine, clock=context.clock, rng=context.rng)
    expected = {f"c-{i}" for i in range(80) if audit_draw(config.name, f"c-{i}") < 0.25}
    assert 0 < len(expected) < 80
    with Session(engine) as session:
        rows = session.exec(select(Item)).all()
        to_people = {i.external_id for i in rows if i.status == "assigned"}
        auto = {i.external_id for i in rows if i.status == "auto_accepted"}
        labels = session.exec(select(Label)).all()
        routed = session.exec(select(Event).where(Event.kind == "routed")).all()
    assert to_people == expected and auto == {f"c-{i}" for i in range(80)} - expected
    assert (report.auto_accepted, report.sent_to_reviewers) == (len(auto), len(expected))
    assert {(label.value, label.method) for label in labels} == {("bug", "auto")}
    assert len(routed) == 80
    audits = [e.data for e in routed if e.data["audit"]]
    assert len(audits) == len(expected)
    assert all(d["reason"].startswith("audit sample (rate 25.00%)") for d in audits)
    assert all(d["audit_rate"] == 0.25 and d["confidence_source"] == "pipeline" for d in audits)
