"""Imports land whole or not at all, with every bad line named."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, func, select

from bot import EXAMPLES_DIR
from bot.intake.importer import ImportRejected, import_records, validate_file
from bot.workflow.project_versions import project_config, require_project
from storage.db import session_scope
from storage.models import Event, Item
from tests.factories import apply, conversation, example_config, label_config, write_items


def run_import(engine, path, name="support-intent"):
    with session_scope(engine) as session:
        project = require_project(session, name)
        records = validate_file(path, project_config(session, project))
        return import_records(session, project, records, source=str(path))


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def good(i: int) -> dict:
    return {
        "id": f"t-{i}",
        "conversation": conversation(f"question {i}"),
        "prediction": {"label": "billing", "confidence": 0.5},
    }


def test_bad_lines_are_listed_and_nothing_is_stored(engine, tmp_path):
    apply(engine, label_config())
    lines = [
        json.dumps(good(1)),
        "{not json",
        json.dumps({**good(3), "prediction": {"label": "billing", "confidence": 1.5}}),
        json.dumps({"id": "t-4"}),
        json.dumps(good(1)),
        json.dumps({**good(6), "prediction": {"label": "refund"}}),
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportRejected) as error:
        run_import(engine, path)
    message = str(error.value)
    assert "nothing was imported" in message
    assert "line 2: not valid JSON" in message
    assert (
        "line 3: field `prediction.confidence`: Input should be less than or equal to 1 (got 1.5)"
        in message
    )
    assert "line 6: field `prediction.label`: 'refund' is not a label of support-intent" in message
    assert "line 4: field `conversation`: Field required" in message
    assert "line 5: id 't-1' repeats line 1" in message
    assert count(engine, Item) == 0 and count(engine, Event) == 1  # only project_applied


def test_only_first_twenty_problems_are_shown(engine, tmp_path):
    apply(engine, label_config())
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"id": f"x{i}"}) + "\n" for i in range(30)))
    with pytest.raises(ImportRejected) as error:
        run_import(engine, path)
    assert len(error.value.problems) == 30
    assert "… and 10 more" in str(error.value)


def test_reimport_same_is_noop_and_changed_content_is_refused(engine, tmp_path):
    apply(engine, label_config())
    path = write_items(tmp_path / "a.jsonl", [good(1), good(2)])
    assert run_import(engine, path).created == 2
    report = run_import(engine, path)
    assert (report.created, report.unchanged) == (0, 2)
    changed = write_items(
        tmp_path / "b.jsonl", [good(3), {**good(2), "metadata": {"source": "email"}}]
    )
    with pytest.raises(ImportRejected, match="t-2' was imported before with different content"):
        run_import(engine, changed)
    assert count(engine, Item) == 2  # t-3 did not land either: all or nothing


def test_csv_import(engine):
    apply(engine, example_config("support-intent"))
    report = run_import(engine, EXAMPLES_DIR / "support-intent.csv")
    assert report.created == 5
    with Session(engine) as session:
        item = session.exec(select(Item).order_by(Item.id)).first()
        assert item.content["conversation"][0]["role"] == "user"


@pytest.mark.parametrize(
    "name", ["support-intent", "triage-rating", "code-preference", "legal-correction"]
)
def test_every_example_imports(sqlite_engine, name):
    apply(sqlite_engine, example_config(name))
    records = validate_file(EXAMPLES_DIR / f"{name}.jsonl", example_config(name))
    assert 20 <= len(records) <= 50
    assert run_import(sqlite_engine, EXAMPLES_DIR / f"{name}.jsonl", name).created == len(records)


def test_update_changed_replaces_waiting_items_and_refuses_reviewed_ones(engine, tmp_path):
    apply(engine, label_config())
    run_import(engine, write_items(tmp_path / "a.jsonl", [good(1), good(2)]))
    with session_scope(engine) as session:  # t-1 goes out for review; t-2 still waits
        item = session.exec(select(Item).where(Item.external_id == "t-1")).one()
        item.status = "assigned"
        item.route_reason = "confidence 0.50 < 0.80"
    fixed = {**good(2), "prediction": {"label": "bug", "confidence": 0.4}}
    with session_scope(engine) as session:
        project = require_project(session, "support-intent")
        path = write_items(tmp_path / "b.jsonl", [fixed])
        records = validate_file(path, project_config(session, project))
        report = import_records(session, project, records, source=str(path), update_changed=True)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    with Session(engine) as session:
        item = session.exec(select(Item).where(Item.external_id == "t-2")).one()
        assert item.content["prediction"]["label"] == "bug" and item.confidence == 0.4
        (event,) = session.exec(select(Event).where(Event.kind == "item_updated")).all()
        assert event.data["content_hash"] == item.content_hash != event.data["old_content_hash"]
    reviewed = write_items(tmp_path / "c.jsonl", [{**good(1), "metadata": {"fixed": True}}])
    with (
        pytest.raises(ImportRejected, match="'t-1' changed but is already assigned"),
        session_scope(engine) as session,
    ):
        project = require_project(session, "support-intent")
        records = validate_file(reviewed, project_config(session, project))
        import_records(session, project, records, source=str(reviewed), update_changed=True)
