"""Calibration and the proposed threshold, on synthetic cases whose answer is known, and
`quorum calibrate` end to end on a routed and labelled project."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.cli.main import app
from bot.cli.render.plots import plot_reliability
from bot.quality.calibration import (
    expected_calibration_error,
    propose_threshold,
    reliability_table,
    wilson_lower_bound,
)
from bot.workflow.decision.labels import sign_off
from bot.workflow.feedback import calibration_report
from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.intake.routing import audit_draw
from bot.workflow.project_versions import project_config, require_project
from storage.db import session_scope
from storage.models import Event, Item, Project
from tests.factories import apply, conversation, import_file, label_config, write_items


def calibrated(n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """A model whose accuracy equals its confidence, by construction."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0, 1, n)
    correct = rng.uniform(0, 1, n) < confidence
    return confidence, correct


# --- the numbers --------------------------------------------------------------------------


def test_calibrated_model_has_accuracy_equal_to_confidence_per_bucket():
    confidence, correct = calibrated(100_000)
    table = reliability_table(confidence, correct, bins=10)
    assert [round(b.low, 1) for b in table] == [i / 10 for i in range(10)]
    assert sum(b.items for b in table) == 100_000
    for bucket in table:
        assert bucket.accuracy == pytest.approx(bucket.mean_confidence, abs=0.015)
    assert expected_calibration_error(confidence, correct) < 0.01


def test_overconfident_model_has_a_large_calibration_error():
    confidence, correct = calibrated(50_000)
    claimed = np.minimum(confidence + 0.2, 1.0)  # says 0.2 more than it gets right
    assert expected_calibration_error(claimed, correct) == pytest.approx(0.18, abs=0.02)
    assert all(b.gap is None or b.gap < 0 for b in reliability_table(claimed, correct))


def test_calibrated_model_threshold_is_where_precision_above_it_meets_the_target():
    """Accuracy = confidence, uniform confidence: the items at or above t are right
    (1 + t) / 2 of the time, so target 0.9 needs t = 0.8 (plus the bound's margin)."""
    confidence, correct = calibrated(200_000)
    proposal = propose_threshold(confidence, correct, target=0.9, level=0.95)
    assert 0.80 <= proposal.threshold <= 0.81
    assert proposal.lower_bound >= 0.9 and proposal.precision >= proposal.lower_bound
    above = confidence >= proposal.threshold
    assert proposal.items == above.sum()
    assert proposal.precision == pytest.approx(correct[above].mean())
    assert proposal.coverage == pytest.approx(above.mean())
    # Fewer items, wider interval, more caution: the threshold moves up, never down.
    small = propose_threshold(confidence[:2000], correct[:2000], target=0.9)
    assert small.threshold > proposal.threshold


def test_bucket_accuracy_at_the_threshold_matches_confidence():
    """The other reading of "trust": the bucket just above the proposal is right about as
    often as it claims (accuracy = confidence), here 0.8-0.9 for target 0.9."""
    confidence, correct = calibrated(200_000)
    threshold = propose_threshold(confidence, correct, target=0.9).threshold
    band = (confidence >= threshold) & (confidence < threshold + 0.02)
    assert correct[band].mean() == pytest.approx(threshold, abs=0.02)


def test_perfectly_separable_case_proposes_the_boundary():
    """Right above 0.7, wrong below (a block of errors at 0.5): everything from the
    lowest right answer up is safe, and one step lower takes in the whole block."""
    rng = np.random.default_rng(5)
    confidence = np.concatenate([rng.uniform(0.7, 1.0, 2000), np.full(300, 0.5)])
    correct = confidence >= 0.7
    proposal = propose_threshold(confidence, correct, target=0.95)
    assert proposal.threshold == confidence[correct].min()
    assert proposal.precision == 1.0 and proposal.items == 2000


def test_proposal_is_the_lowest_passing_threshold():
    """Separable but dense: the target (< 1) lets a few errors in just below the
    boundary, and one more candidate down would break the bound."""
    rng = np.random.default_rng(5)
    confidence = np.round(rng.uniform(0, 1, 5000), 3)
    correct = confidence >= 0.7
    proposal = propose_threshold(confidence, correct, target=0.95)
    assert 0.65 < proposal.threshold < 0.7
    above = confidence >= proposal.threshold
    assert proposal.precision == pytest.approx(correct[above].mean())
    next_lower = confidence[confidence < proposal.threshold].max()
    wider = confidence >= next_lower
    assert wilson_lower_bound(correct[wider].mean(), wider.sum()) < 0.95


def test_no_threshold_when_the_target_is_out_of_reach():
    confidence, correct = calibrated(5000)
    proposal = propose_threshold(confidence * 0.8, correct & (confidence < 0.5), target=0.95)
    assert proposal.threshold is None and proposal.items == 0


def test_too_few_items_cannot_prove_the_target():
    # Ten right answers out of ten: the point estimate is 1.0, the evidence is thin.
    proposal = propose_threshold(np.full(10, 0.9), np.ones(10), target=0.95)
    assert proposal.threshold is None


def test_wilson_lower_bound_known_values():
    z = 1.6448536269514722
    assert wilson_lower_bound(0.95, 100, level=0.95) == pytest.approx(0.90081, abs=1e-4)
    assert wilson_lower_bound(1.0, 50, level=0.95) == pytest.approx(50 / (50 + z * z))
    assert wilson_lower_bound(0.5, 0, level=0.95) == 0.0


def test_weights_undo_the_audit_sampling():
    """Below the current threshold everything is labelled, above it only the audit sample
    (10%). Weighting each audited item by 1/0.1 recovers the population's precision."""
    rng = np.random.default_rng(99)
    confidence, correct = calibrated(400_000, seed=3)
    labelled = (confidence < 0.8) | (rng.uniform(0, 1, confidence.size) < 0.1)
    weights = np.where(confidence >= 0.8, 10.0, 1.0)[labelled]
    conf, hit = confidence[labelled], correct[labelled]
    weighted = propose_threshold(conf, hit, target=0.85, weights=weights)
    unweighted = propose_threshold(conf, hit, target=0.85)
    assert 0.70 <= weighted.threshold <= 0.725  # (1 + t) / 2 = 0.85 at t = 0.7
    assert unweighted.threshold > weighted.threshold + 0.02  # biased to over-caution
    assert weighted.effective_items < weighted.items * 10


def test_reliability_diagram_is_a_png(tmp_path):
    confidence, correct = calibrated(5000)
    path = tmp_path / "reliability.png"
    plot_reliability(
        reliability_table(confidence, correct), str(path), threshold=0.8, proposed=0.82
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="confidence must lie in"):
        propose_threshold([0.5, 1.2], [1, 0])
    with pytest.raises(ValueError, match="one length"):
        reliability_table([0.5], [1, 0])


# --- from the database, and the CLI ------------------------------------------------------

AUDIT_RATE = 0.2
OVERRULED = 2  # audited items whose human label differs from the confident prediction


def routed_and_labelled(engine, clock, tmp_path) -> dict:
    """200 predictions, confidence 0..1; right iff confidence >= 0.3, except the first
    audited confident ones, which people overrule. People label what reached them."""
    routing = {"confidence_below": 0.8, "audit_rate": AUDIT_RATE}
    config = label_config(routing=routing, overlap=1)
    apply(engine, config)
    items = [
        {
            "id": f"c-{i}",
            "conversation": conversation(f"sample {i}"),
            "prediction": {"label": "billing", "confidence": i / 200, "model": "intent-v3"},
        }
        for i in range(200)
    ]
    import_file(engine, write_items(tmp_path / "items.jsonl", items))
    dispatch_queued(engine, clock=clock, rng=random.Random(0))
    audited = [f"c-{i}" for i in range(160, 200) if audit_draw(config.name, f"c-{i}") < AUDIT_RATE]
    overruled = set(audited[:OVERRULED])
    truth = {}
    with session_scope(engine) as session:
        project = require_project(session, config.name)
        for item in session.exec(select(Item).where(Item.status == "assigned")).all():
            right = item.confidence >= 0.3 and item.external_id not in overruled
            truth[item.external_id] = (item.confidence, right)
            sign_off(
                session,
                item,
                project,
                value="billing" if right else "bug",
                method="consensus",
                now=clock.now(),
                actor="quorum",
            )
    return {"audited": audited, "overruled": overruled, "truth": truth}


def test_report_reads_labelled_items_with_audit_weights(engine, clock, tmp_path):
    world = routed_and_labelled(engine, clock, tmp_path)
    with Session(engine) as session:
        report = calibration_report(session, "support-intent", target=0.8)
    assert len(report.cases) == 160 + len(world["audited"])  # auto-accepted ones have no human
    weights = {c.external_id: c.weight for c in report.cases}
    assert {weights[e] for e in world["audited"]} == {1 / AUDIT_RATE}
    assert weights["c-10"] == 1.0
    assert {c.external_id for c in report.disagreements} == world["overruled"]
    truth = world["truth"]
    ids = sorted(truth)
    expected = propose_threshold(
        [truth[e][0] for e in ids],
        [truth[e][1] for e in ids],
        target=0.8,
        weights=[weights[e] for e in ids],
    )
    assert report.proposal == expected and expected.threshold is not None


@pytest.fixture
def cli_env(database_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)


def test_calibrate_prints_plots_and_applies_a_new_config_version(engine, clock, tmp_path, cli_env):
    world = routed_and_labelled(engine, clock, tmp_path)
    plot = tmp_path / "reliability.png"
    result = CliRunner().invoke(
        app,
        ["calibrate", "--project", "support-intent", "--target", "0.8", "--plot", str(plot)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "Calibration of support-intent" in result.output
    assert "Expected calibration error" in result.output
    assert "Proposed threshold" in result.output and "lower bound" in result.output
    for external_id in world["overruled"]:
        assert external_id in result.output
    assert plot.read_bytes()[:4] == b"\x89PNG"

    applied = CliRunner().invoke(
        app, ["calibrate", "--project", "support-intent", "--target", "0.8", "--apply"]
    )
    assert applied.exit_code == 0, applied.output
    with Session(engine) as session:
        project = session.exec(select(Project)).one()
        config = project_config(session, project)
        report = calibration_report(session, "support-intent", target=0.8)
        events = session.exec(
            select(Event).where(Event.kind == "project_applied").order_by(col(Event.id))
        ).all()
    assert project.current_version == 2
    assert config.routing.confidence_below == pytest.approx(report.proposal.threshold, abs=1e-4)
    assert config.routing.confidence_below >= report.proposal.threshold
    assert config.routing.audit_rate == AUDIT_RATE  # nothing else changed
    assert events[-1].data["version"] == 2 and events[-1].actor.startswith("calibrate:")
    assert "config version 2" in applied.output


def test_calibrate_refuses_to_apply_without_a_threshold(engine, tmp_path, cli_env):
    apply(engine, label_config())
    result = CliRunner().invoke(app, ["calibrate", "--project", "support-intent", "--apply"])
    assert result.exit_code == 1
    assert "no threshold reaches the target precision" in result.output
    with Session(engine) as session:
        assert session.exec(select(Project)).one().current_version == 1


def test_calibrate_unknown_project_says_how_to_create_one(engine, cli_env):
    result = CliRunner().invoke(app, ["calibrate", "--project", "nope"])
    assert result.exit_code == 2 and "quorum project apply" in result.output
