"""`quorum simulate` replays recorded answers through the sign-off rule the bot runs: on
real crowd answers with expert gold (Snow et al. 2008, word senses) it reports what a
lead would check before going live, and item by item it decides as the bot decides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.workflow.decision.simulate import (
    Answer,
    AnswersFileError,
    read_answers,
    replay,
    simulate,
)
from tests.factories import apply, label_config, seed_item

WSD = Path(__file__).resolve().parents[1] / "data" / "crowd" / "snow2008_wsd.tsv"
PROJECT_FILE = Path(__file__).resolve().parents[2] / "examples" / "simulate" / "snow2008-wsd.yml"
REPORT_KEYS = {
    "items",
    "auto_signed_share",
    "auto_signed_accuracy",
    "signed_accuracy",
    "answers_per_item",
    "lead_share",
    "ece",
    "reliability",
}


def wsd_config(**changes):  # type: ignore[no-untyped-def]
    base = {
        "name": "snow2008-wsd",
        "labels": ["1", "2", "3"],
        "reviewers": [],
        "reviewer_group": "S0CROWD",
        "overlap": 3,
        "agreement": 0.67,
    }
    return label_config(**{**base, **changes})


def test_the_crowd_file_reads_with_its_own_column_names():
    answers = read_answers(WSD)
    assert len(answers) == 1770 and len({a.item for a in answers}) == 177
    assert {a.value for a in answers} == {"1", "2", "3"} and all(a.gold for a in answers)


def test_stricter_rules_buy_accuracy_with_lead_time_on_real_answers():
    reports = simulate(
        wsd_config(),
        read_answers(WSD),
        ["agreement=0.5,1", "min_confidence=none,0.99"],
    )
    by_rules = {(r.config["agreement"], r.config["min_confidence"]): r for r in reports}
    loose, unanimous = by_rules[(0.5, None)], by_rules[(1.0, None)]
    assert all(set(r.as_json()) >= REPORT_KEYS for r in reports)
    assert all(r.items == 177 and r.answers_per_item == 3 for r in reports)
    # Majority of three on this set: right on all but one item, nothing for the leads.
    assert loose.auto_signed_share == 1.0 and loose.auto_signed_accuracy == pytest.approx(176 / 177)
    # Unanimity sends the split items to a lead and signs off only right labels.
    assert 0.03 < unanimous.lead_share < 0.05 and unanimous.auto_signed_accuracy == 1.0
    posterior = by_rules[(0.5, 0.99)]
    assert posterior.lead_share > unanimous.lead_share and posterior.auto_signed_accuracy == 1.0
    assert loose.ece is not None and loose.ece < 0.03
    assert sum(b["count"] for b in loose.reliability) == 177


def test_an_item_short_of_answers_is_decided_on_those_it_has():
    answers = [
        Answer("i-1", "r1", "1", gold="1"),
        Answer("i-1", "r2", "1", gold="1"),  # overlap 3, only two answers recorded
        Answer("i-2", "r1", "2", gold="3"),
        Answer("i-2", "r2", "3", gold="3"),
    ]
    first, second = replay(wsd_config(), answers)
    assert (first.method, first.value, first.answers) == ("consensus", "1", 2)
    assert (second.method, second.value) == ("lead", "3")  # a tie: the lead's is the gold


def test_the_simulator_decides_each_item_as_the_bot_does(engine, clock):
    config = wsd_config(sign_off={"min_confidence": 0.9})
    apply(engine, config)
    answers = read_answers(WSD)
    items = list(dict.fromkeys(a.item for a in answers))[:40]
    kept = [a for a in answers if a.item in set(items)]
    by_item: dict[str, list[Answer]] = {}
    for a in kept:
        by_item.setdefault(a.item, []).append(a)
    bot = {}
    for item in items:
        three = by_item[item][:3]
        _, outcome = seed_item(
            engine,
            clock,
            config.name,
            external_id=item,
            content={"conversation": [{"role": "user", "content": item}]},
            answers=[(a.reviewer, a.value) for a in three],
        )
        bot[item] = "consensus" if outcome == "Label" else "lead"
    simulated = {d.item: d.method for d in replay(config, kept)}
    assert simulated == bot
    assert set(bot.values()) == {"consensus", "lead"}  # both outcomes happen in these 40


def test_the_command_writes_the_table_the_json_and_the_plot(tmp_path):
    out, plot = tmp_path / "report.json", tmp_path / "reliability.png"
    args = ["simulate", "--project", str(PROJECT_FILE), "--answers", str(WSD)]
    result = CliRunner().invoke(
        app, [*args, "--grid", "agreement=0.5,1", "--out", str(out), "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert "177 items" in result.output and "leads" in result.output
    report = json.loads(out.read_text())
    assert [r["config"] for r in report] == [{"agreement": 0.5}, {"agreement": 1.0}]
    assert plot.read_bytes().startswith(b"\x89PNG")
    single = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert single.exit_code == 0 and set(json.loads(out.read_text())) >= REPORT_KEYS


def test_a_bad_answers_file_names_its_line_and_field(tmp_path):
    bad = tmp_path / "answers.csv"
    bad.write_text("item,reviewer,value\ni-1,r1,1\ni-2,,2\n")
    with pytest.raises(AnswersFileError, match="line 3: field `reviewer` is empty"):
        read_answers(bad)
    missing = tmp_path / "other.csv"
    missing.write_text("thing,who\n1,2\n")
    with pytest.raises(AnswersFileError, match="no `item` column"):
        read_answers(missing)
    result = CliRunner().invoke(
        app, ["simulate", "-p", str(PROJECT_FILE), "-a", str(bad), "--grid", "overlap=0.5"]
    )
    assert result.exit_code != 0 and "line 3" in result.output
