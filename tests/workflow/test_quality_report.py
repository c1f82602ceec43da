"""Reviewer quality and project agreement from real answers and labels, on both databases,
and `quorum status --project NAME [--plot FILE.png]`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli.main import app
from bot.quality import encode_labels, krippendorff_alpha
from bot.workflow.decision.escalation import resolve_escalation
from bot.workflow.decision.posterior import clear_cache
from bot.workflow.project_versions import require_project
from bot.workflow.quality_report import project_quality
from storage import quality_queries
from storage.db import session_scope
from storage.models import Escalation, Response
from tests.factories import PAIR, apply, chat, example_config, label_config, preference, seed_item

ALICE, BOB, CARA = "U01ALICE", "U02BOB", "U03CARA"


@pytest.fixture(autouse=True)
def _fresh_posterior_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def labelled(engine, clock):
    """Two gold items, two consensus items and one a lead decided, one day apart each.

    Alice is right everywhere; Bob misses one gold item and is overturned once; Cara misses
    one gold item, is outvoted once and is overturned once.
    """
    apply(engine, label_config(agreement=0.66))
    plan = [
        ("g-1", "bug", [(ALICE, "bug", 30), (BOB, "bug", 40), (CARA, "billing", 20)]),
        ("g-2", "account", [(ALICE, "account", 50), (BOB, "billing", 60), (CARA, "account", 10)]),
        ("c-1", None, [(ALICE, "billing", 70), (BOB, "billing", 80), (CARA, "billing", 30)]),
        ("c-2", None, [(ALICE, "bug", 90), (BOB, "bug", 100), (CARA, "account", 40)]),
        ("e-1", None, [(ALICE, "billing", 110), (BOB, "bug", 120), (CARA, "account", 50)]),
    ]
    for external_id, gold, answers in plan:
        seed_item(
            engine,
            clock,
            "support-intent",
            external_id=external_id,
            content=chat(),
            answers=answers,
            gold=gold,
        )
        clock.advance(days=1)
    with session_scope(engine) as session:
        escalation = session.exec(select(Escalation)).one()
        alice = session.exec(
            select(Response).where(
                Response.item_id == escalation.item_id, Response.reviewer_id == ALICE
            )
        ).one()
        outcome = resolve_escalation(
            session,
            escalation_id=escalation.id,
            lead="U09LEAD",
            now=clock.now(),
            response_id=alice.id,
        )
        assert outcome.outcome == "resolved"
    return engine


def quality_of(engine, name: str = "support-intent"):
    with Session(engine) as session:
        return project_quality(session, require_project(session, name))


def test_gold_accuracy_comes_from_answers_against_gold_values(labelled):
    by = {s.reviewer: s for s in quality_of(labelled).reviewers}
    assert (by[ALICE].gold_correct, by[ALICE].gold_answered) == (2, 2)
    assert (by[BOB].gold_correct, by[BOB].gold_answered) == (1, 2)
    assert (by[CARA].gold_correct, by[CARA].gold_answered) == (1, 2)
    assert by[BOB].gold_accuracy == 0.5
    with Session(labelled) as session:
        pairs = quality_queries.gold_answers(session, require_project(session, "support-intent").id)
    assert sorted((row.reviewer_id, row.value, gold) for row, gold in pairs)[:2] == [
        (ALICE, "account", "account"),
        (ALICE, "bug", "bug"),
    ]


def test_agreement_with_final_labels_and_lead_overturns(labelled):
    by = {s.reviewer: s for s in quality_of(labelled).reviewers}
    assert (by[ALICE].final_agreed, by[ALICE].final_compared) == (3, 3)
    assert (by[BOB].final_agreed, by[BOB].final_compared) == (2, 3)
    assert (by[CARA].final_agreed, by[CARA].final_compared) == (1, 3)
    assert [(by[r].overturned, by[r].lead_decided) for r in (ALICE, BOB, CARA)] == [
        (0, 1),
        (1, 1),
        (1, 1),
    ]


def test_time_answered_count_and_reliability(labelled):
    by = {s.reviewer: s for s in quality_of(labelled).reviewers}
    assert [by[r].answered for r in (ALICE, BOB, CARA)] == [5, 5, 5]
    assert (by[ALICE].median_seconds, by[BOB].median_seconds, by[CARA].median_seconds) == (
        70.0,
        80.0,
        30.0,
    )
    assert all(0.0 <= by[r].reliability <= 1.0 for r in by)
    assert by[ALICE].reliability > by[CARA].reliability


def test_project_agreement_metrics_and_daily_series(labelled):
    quality = quality_of(labelled)
    assert (quality.items, quality.answers) == (5, 15)
    assert quality.labels_by_method == {"gold": 2, "consensus": 2, "lead": 1}
    with Session(labelled) as session:
        rows = quality_queries.project_answers(
            session, require_project(session, "support-intent").id
        )
    items, _ = encode_labels([r.item_id for r in rows])
    raters, _ = encode_labels([r.reviewer_id for r in rows])
    codes, _ = encode_labels([r.value for r in rows])
    assert math.isclose(quality.alpha["nominal"], krippendorff_alpha(items, raters, codes))
    assert -1.0 <= quality.fleiss_kappa["label"] <= 1.0
    # Items: 2/3, 2/3, 3/3, 2/3, 1/3 agree.
    assert math.isclose(quality.mean_item_agreement, np.mean([2, 2, 3, 2, 1]) / 3)
    assert [p.answers for p in quality.daily] == [3, 3, 3, 3, 3, 0]
    assert [p.signed_off for p in quality.daily] == [1, 1, 1, 1, 0, 1]
    assert quality.position_bias is None


def test_position_bias_for_preferences(engine, clock):
    apply(engine, example_config("code-preference"))
    for n in range(4):  # everyone picks whichever response was shown first
        seed_item(
            engine,
            clock,
            "code-preference",
            external_id=f"p-{n}",
            content=PAIR,
            answers=[
                (ALICE, preference("r-long", "much", "r-long")),
                (BOB, preference("r-short", None, "r-short")),
                (CARA, preference("r-long", "slightly", "r-long")),
            ],
        )
    quality = quality_of(engine, "code-preference")
    bias = quality.position_bias
    assert (bias.n, bias.n_first, bias.rate) == (12, 12, 1.0)
    assert bias.p_value < 0.001


def test_status_prints_reviewers_and_agreement_and_writes_the_plot(
    labelled, database_url, tmp_path
):
    plot = tmp_path / "quality.png"
    result = CliRunner().invoke(
        app,
        ["status", "--project", "support-intent", "--plot", str(plot)],
        env={"DATABASE_URL": database_url, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Items by state" in out and "Reviewers of support-intent" in out
    assert "U01ALICE" in out and "100% (2/2)" in out and "1 of 1 (100%)" in out
    assert "Krippendorff's alpha, nominal" in out and "Fleiss' kappa" in out
    assert plot.exists() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.stat().st_size > 10_000


def test_status_plot_needs_a_project_and_unknown_projects_are_named(
    labelled, database_url, tmp_path
):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    no_project = runner.invoke(app, ["status", "--plot", str(tmp_path / "x.png")], env=env)
    assert no_project.exit_code == 2 and "--plot needs --project" in no_project.output
    unknown = runner.invoke(app, ["status", "--project", "nope"], env=env)
    assert unknown.exit_code == 2 and "support-intent" in unknown.output
    assert not (tmp_path / "x.png").exists()
