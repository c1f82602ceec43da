"""Reviewers with languages, skills and max_open in a project file, items that require
them (imported `requires`, or a project's `route` rule on metadata), and the errors a
person gets for each when something is wrong."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.cli.main import app as cli_app
from bot.config.people import Person, Requirements
from bot.config.project import ProjectConfigError, parse_project
from bot.intake.importer import ImportRejected
from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.intake.groups import store_group
from bot.workflow.quality_report import load_project_quality
from storage.db import session_scope
from storage.models import Assignment, Event, Item
from tests.factories import (
    REVIEWERS,
    answer,
    apply,
    conversation,
    import_file,
    kind_config,
    write_items,
)

BASE = {"name": "demo", "kind": "label", "question": "Which team?", "labels": ["a", "b"]}


def problems(**fields: object) -> str:
    with pytest.raises(ProjectConfigError) as error:
        parse_project({**BASE, **fields}, source="demo.yml")
    return str(error.value)


def test_reviewers_are_plain_ids_or_entries_with_attributes():
    config = parse_project(
        {
            **BASE,
            "overlap": 2,
            "reviewers": [
                "U01ALICE",
                {"id": "U02BOB", "languages": ["de", "pt-BR"], "skills": ["Cardiology"]},
                {"id": "U03CARA", "max_open": 5},
            ],
        }
    )
    assert config.reviewer_ids == ["U01ALICE", "U02BOB", "U03CARA"]
    assert config.people["U01ALICE"] == Person(id="U01ALICE")
    assert config.people["U02BOB"].languages == ["de", "pt-br"]
    assert config.people["U02BOB"].skills == ["cardiology"]
    assert config.people["U03CARA"].max_open == 5


@pytest.mark.parametrize(
    ("reviewers", "says"),
    [
        (["u01alice"], "field `reviewers[0]`: must be a Slack member id"),
        ([{"id": "U01A", "languages": ["german!"]}], "`reviewers[0].languages[0]`: must be a language tag"),
        ([{"id": "U01A", "lang": ["de"]}], "`reviewers[0].lang` is not a reviewer setting (allowed: id, languages, max_open, skills)"),
        ([{"id": "U01A", "max_open": 0}], "`reviewers[0].max_open`: Input should be greater than or equal to 1"),
        ([3], "`reviewers[0]`: must be a Slack member id or an entry {id, languages, skills, max_open}"),
        (["U01A", {"id": "U01A"}], "reviewers: U01A listed more than once"),
    ],
)  # fmt: skip
def test_a_bad_reviewer_entry_is_named_with_what_is_allowed(reviewers, says):
    message = problems(reviewers=reviewers, overlap=1)
    assert message.startswith("demo.yml: invalid project configuration")
    assert says in message
    assert "constrained-str" not in message and ".entry" not in message


def test_a_route_rule_must_name_a_metadata_path():
    assert "route.languages" in problems(reviewers=["U01A"], overlap=1, route={"languages": "lang"})


def test_a_language_requirement_is_met_by_its_regional_variants_only_one_way():
    german = Requirements(languages=["de"])
    assert german.met_by(Person(id="U01A", languages=["de-AT"]))
    assert not Requirements(languages=["de-AT"]).met_by(Person(id="U01A", languages=["de"]))
    assert not german.met_by(Person(id="U01A", languages=["den"]))
    both = Requirements(languages=["de"], skills=["cardiology"])
    assert not both.met_by(Person(id="U01A", languages=["de"]))
    assert both.describe() == "de + cardiology"


def item(n: int, **fields: object) -> dict:
    return {
        "id": f"q-{n}",
        "conversation": conversation(f"question {n}"),
        "prediction": {"label": "billing", "confidence": 0.5, "model": "m"},
        **fields,
    }


def test_an_import_with_a_bad_requirement_names_its_line_and_field(engine, tmp_path):
    apply(engine, kind_config("support-intent"))
    path = write_items(
        tmp_path / "items.jsonl",
        [item(1, requires={"languages": ["de"]}), item(2, requires={"languages": ["deutsch!"]})],
    )
    with pytest.raises(ImportRejected) as error:
        import_file(engine, path)
    assert (
        "line 2: field `requires.languages.0`: must be a language tag such as de or pt-BR "
        "(got 'deutsch!')"
    ) in str(error.value)
    with Session(engine) as session:
        assert session.exec(select(Item)).all() == []  # all or nothing


def test_requirements_are_kept_apart_from_what_reviewers_see(engine, tmp_path):
    apply(engine, kind_config("support-intent"))
    import_file(
        engine, write_items(tmp_path / "items.jsonl", [item(1, requires={"skills": ["ECG"]})])
    )
    with Session(engine) as session:
        stored = session.exec(select(Item)).one()
    assert stored.requires == {"languages": [], "skills": ["ecg"]}
    assert "requires" not in stored.content
    [created] = events_of(engine, "item_created")
    assert created.data["requires"] == {"languages": [], "skills": ["ecg"]}


def events_of(engine: Engine, kind: str) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)))


def test_metadata_a_route_rule_cannot_read_fails_that_item_alone(engine, tmp_path, clock):
    config = kind_config(
        "support-intent",
        reviewers=[{"id": r, "languages": ["de"]} for r in REVIEWERS],
        route={"languages": "metadata.lang"},
    )
    apply(engine, config)
    records = [item(1, metadata={"lang": {"code": "de"}}), item(2, metadata={"lang": "de"})]
    import_file(engine, write_items(tmp_path / "items.jsonl", records))
    report = dispatch_queued(engine, clock=clock)
    assert (report.failed, report.sent_to_reviewers) == (1, 1)
    with Session(engine) as session:
        first, second = session.exec(select(Item).order_by(col(Item.id))).all()
    assert first.status == "failed" and "route.languages: metadata.lang" in (first.failure or "")
    assert second.status == "assigned"
    assert [e.data["reason"] for e in events_of(engine, "dispatch_failed")] == [first.failure]


def test_a_group_member_not_listed_takes_only_items_that_require_nothing(engine, tmp_path, clock):
    config = kind_config(
        "support-intent",
        reviewers=[{"id": "U01ALICE", "languages": ["de"]}],
        reviewer_group="S0REVIEWERS",
        overlap=1,
    )
    apply(engine, config)
    with session_scope(engine) as session:
        store_group(
            session, "S0REVIEWERS", ["U05GRETA"], error=None, project_ids=[], now=clock.now(),
            rng=random.Random(1),
        )  # fmt: skip
    records = [item(n, requires={"languages": ["de"]}) for n in range(3)] + [item(9)]
    import_file(engine, write_items(tmp_path / "items.jsonl", records))
    dispatch_queued(engine, clock=clock, rng=random.Random(3))
    with Session(engine) as session:
        rows = session.exec(
            select(Item.external_id, Assignment.reviewer_id).join(
                Assignment, col(Assignment.item_id) == Item.id
            )
        ).all()
    given: dict[str, list[str]] = {}
    for external_id, reviewer in rows:
        given.setdefault(external_id, []).append(reviewer)
    assert all(given[f"q-{n}"] == ["U01ALICE"] for n in range(3))
    assert len(given["q-9"]) == 1


def test_quality_is_reported_by_requirement(engine, tmp_path, clock):
    config = kind_config(
        "support-intent",
        reviewers=[{"id": r, "languages": ["de", "en"], "skills": ["billing"]} for r in REVIEWERS],
        overlap=2,
    )
    apply(engine, config)
    records = [
        item(1, requires={"languages": ["de"]}, gold="billing"),
        item(2, requires={"languages": ["de"], "skills": ["billing"]}),
        item(3),
    ]
    import_file(engine, write_items(tmp_path / "items.jsonl", records))
    dispatch_queued(engine, clock=clock, rng=random.Random(5))
    with Session(engine) as session:
        given = session.exec(select(Assignment).order_by(col(Assignment.id))).all()
    for number, assignment in enumerate(given):
        answer(engine, clock, assignment, "bug" if number == 0 else "billing")
    quality = load_project_quality(engine, "support-intent")
    rows = {g.requirement: g for g in quality.by_requirement}
    assert list(rows) == ["de", "billing", "none"]
    assert (rows["de"].items, rows["de"].answered, rows["de"].reviewers) == (
        2,
        4,
        len({a.reviewer_id for a in given[:4]}),
    )
    assert (rows["de"].gold_correct, rows["de"].gold_answered) == (1, 2)  # the "bug" missed gold
    assert (rows["billing"].items, rows["billing"].answered) == (1, 2)
    assert (rows["none"].items, rows["none"].answered) == (1, 2)

    output = CliRunner().invoke(
        cli_app,
        ["status", "--project", "support-intent"],
        env={"DATABASE_URL": str(engine.url.render_as_string(hide_password=False))},
    )
    assert output.exit_code == 0, output.output
    assert "Answers by requirement in support-intent" in output.output
