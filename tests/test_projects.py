"""Project files: validation errors a person can act on, and config versions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot import EXAMPLES_DIR
from bot.cli.main import app as cli_app
from bot.config.project import ProjectConfigError, load_project_file
from bot.workflow.intake.preflight import preflight
from bot.workflow.project_versions import apply_project
from storage.db import make_engine, session_scope
from storage.models import Item, ItemStatus, ProjectVersion
from tests.factories import kind_config, label_config


@pytest.mark.parametrize(
    "name",
    ["support-intent", "triage-rating", "code-preference", "legal-correction", "answer-ranking"],
)
def test_every_example_project_loads(name):
    config = load_project_file(EXAMPLES_DIR / f"{name}.yml")
    assert config.name == name


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.yml"
    path.write_text(text)
    return path


def test_invalid_file_names_file_field_value_and_what_is_allowed(tmp_path):
    path = write(
        tmp_path, "name: demo\nkind: labelling\nquestion: Q?\nlabels: [a, b]\nreviewers: [U1AA]\n"
    )
    with pytest.raises(ProjectConfigError) as error:
        load_project_file(path)
    message = str(error.value)
    assert str(path) in message
    assert "`kind`" in message and '"labelling"' in message
    allowed = message.split("must be one of ")[1]
    for kind in ("label", "rating", "preference", "correction", "ranking"):
        assert kind in allowed


def test_unknown_setting_and_missing_labels_are_reported_together(tmp_path):
    path = write(
        tmp_path, "name: demo\nkind: label\nquestion: Q?\nreviewers: [U1AA]\noverlapp: 2\n"
    )
    message = str(pytest.raises(ProjectConfigError, load_project_file, path).value)
    assert "`overlapp` is not a project setting" in message and "allowed:" in message


def test_overlap_larger_than_pool_is_refused(tmp_path):
    path = write(
        tmp_path,
        "name: demo\nkind: label\nquestion: Q?\nlabels: [a, b]\nreviewers: [U1AA, U2BB]\noverlap: 3\n",
    )
    assert "only 2 reviewers" in str(
        pytest.raises(ProjectConfigError, load_project_file, path).value
    )


def test_broken_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "name: demo\nkind: [label\n")
    assert "line" in str(pytest.raises(ProjectConfigError, load_project_file, path).value)


def test_each_config_change_is_a_new_version(engine):
    with session_scope(engine) as session:
        assert apply_project(session, label_config()).version == 1
        assert apply_project(session, label_config()).changed is False
        assert apply_project(session, label_config(overlap=2)).version == 2
    with Session(engine) as session:
        versions = session.exec(select(ProjectVersion).order_by(ProjectVersion.version)).all()
        assert [v.config["overlap"] for v in versions] == [3, 2]


def test_kind_cannot_change(engine):
    with session_scope(engine) as session:
        apply_project(session, label_config())
    with pytest.raises(ValueError, match="kind cannot change"), session_scope(engine) as session:
        apply_project(session, label_config(kind="rating", criteria=["helpfulness"]))


def test_slack_ids_get_a_hint_on_where_to_find_them(tmp_path):
    path = write(
        tmp_path,
        "name: demo\nkind: label\nquestion: Q?\nlabels: [a, b]\nreviewers: [alice]\n"
        "escalation_channel: '#leads'\n",
    )
    message = str(pytest.raises(ProjectConfigError, load_project_file, path).value)
    assert "field `reviewers[0]`: must be a Slack member id such as U01ALICE" in message
    assert '(got "alice")' in message
    assert "field `escalation_channel`: must be a Slack channel id" in message


# --- files whose messages Slack would refuse ------------------------------------------------

RATING_FILE = """\
name: triage
kind: rating
question: How good is the reply?
criteria: [helpfulness, correctness, safety]
scale: {min: 1, max: 5}
reviewers: [U01ALICE, U02BOB, U03CARA]
leads: [U09LEAD]
overlap: 2
"""
LABEL_FILE = """\
name: intents
kind: label
question: Which team should handle this?
labels: [billing, bug, other]
reviewers: [U01ALICE, U02BOB]
overlap: 2
"""
runner = CliRunner()


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """`quorum` run as a person runs it, on a SQLite file of its own."""
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return lambda *args: runner.invoke(cli_app, list(args))


def with_changes(text: str, **changes: object) -> str:
    data = yaml.safe_load(text)
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


BAD_FILES = {
    "scale label over 75 characters": (
        with_changes(RATING_FILE, scale={"min": 1, "max": 5, "labels": {3: "fine " * 16}}),
        "`scale.labels[3]`: 80 characters; Slack shows at most 70",
    ),
    "criterion name near 2,000 characters": (
        with_changes(RATING_FILE, criteria=["helpfulness", "correctness", "safety", "x" * 1990]),
        "`criteria[3]`: 1,990 characters; Slack shows at most 150",
    ),
    "40 criteria": (
        with_changes(RATING_FILE, criteria=[f"criterion_{n}" for n in range(40)]),
        "`criteria`: 40 criteria; one review message holds at most 38",
    ),
    "an empty label": (
        with_changes(LABEL_FILE, labels=["billing", "", "other"]),
        "`labels[1]`: empty; Slack refuses",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_project_apply_refuses_a_file_slack_would_refuse_naming_the_field(cli, tmp_path, case):
    text, expected = BAD_FILES[case]
    path = tmp_path / "project.yml"
    path.write_text(text)
    result = cli("project", "apply", str(path))
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split()), result.output
    assert "project.yml" in result.output
    assert "Created project" not in result.output
    listed = cli("status")
    assert "triage" not in listed.output and "intents" not in listed.output


def test_the_preflight_renders_every_example_project_cleanly():
    for name in ("support-intent", "triage-rating", "code-preference", "legal-correction"):
        assert preflight(load_project_file(EXAMPLES_DIR / f"{name}.yml")) == [], name
    assert preflight(load_project_file(EXAMPLES_DIR / "answer-ranking.yml")) == []


def test_long_labels_fit_every_message_as_tokens():
    # Cut in menus and on buttons; their values are tokens, the decision modal's too.
    assert preflight(label_config(labels=["bug", "billing", "x" * 3000])) == []
    assert preflight(label_config(labels=["x" * 3000, "bug", "billing"])) == []  # predicted


def test_the_preflight_names_the_message_and_the_field():
    # What the schema would refuse today, as a config that skipped it (an older release
    # stored it): the rendered messages show where Slack would refuse it.
    config = kind_config("triage-rating")
    problems = preflight(config.model_copy(update={"criteria": ["helpfulness", "x" * 1990]}))
    assert problems == [
        "criteria[1]: value attribute cannot exceed 2000 characters (in the review message, "
        "review message with an AI suggestion, review message while changing an answer)"
    ]
    assert any("(in the review message, " in line for line in problems)


def test_status_shows_a_failed_item_with_its_reason(cli, tmp_path):
    path = tmp_path / "intents.yml"
    path.write_text(LABEL_FILE)
    assert cli("project", "apply", str(path)).exit_code == 0
    items = tmp_path / "items.jsonl"
    items.write_text(
        '{"id": "t-1", "conversation": [{"role": "user", "content": "hi"}]}\n'
        '{"id": "t-2", "conversation": [{"role": "user", "content": "hello"}]}\n'
    )
    assert cli("import", "--project", "intents", str(items)).exit_code == 0, "import"
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with session_scope(engine) as session:  # as dispatch leaves a poison item
        item = session.exec(select(Item).where(Item.external_id == "t-2")).one()
        item.status, item.failure = ItemStatus.FAILED, "SlackObjectFormationError: too long"
        session.add(item)
    engine.dispose()
    shown = " ".join(cli("status").output.split())
    assert "Failed items (1)" in shown
    assert "t-2" in shown and "SlackObjectFormationError: too long" in shown
