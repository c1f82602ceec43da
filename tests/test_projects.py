"""Project files: validation errors a person can act on, and config versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot import EXAMPLES_DIR
from bot.config.project import ProjectConfigError, load_project_file
from bot.workflow.project_versions import apply_project
from storage.db import session_scope
from storage.models import ProjectVersion
from tests.factories import label_config


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
    assert "field `reviewers.0`: must be a Slack member id such as U01ALICE" in message
    assert '(got "alice")' in message
    assert "field `escalation_channel`: must be a Slack channel id" in message
