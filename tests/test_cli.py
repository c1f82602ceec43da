"""The `quorum` commands as a new user runs them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot import EXAMPLES_DIR
from bot.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def test_serve_without_tokens_names_the_variable_and_points_at_demo(env):
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN is not set" in result.output and "quorum demo" in result.output


def test_apply_import_status_export(env):
    applied = runner.invoke(app, ["project", "apply", str(EXAMPLES_DIR / "support-intent.yml")])
    assert applied.exit_code == 0, applied.output
    assert "Created project support-intent" in applied.output
    imported = runner.invoke(
        app, ["import", "--project", "support-intent", str(EXAMPLES_DIR / "support-intent.jsonl")]
    )
    assert imported.exit_code == 0, imported.output
    assert "Imported 40 new item(s)" in imported.output
    status = runner.invoke(app, ["status"])
    assert "support" in status.output and " 40 │" in status.output
    out = env / "labels.jsonl"
    exported = runner.invoke(
        app, ["export", "--project", "support-intent", "--format", "labels", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    assert out.exists() and all(json.loads(line) for line in out.read_text().splitlines())


def test_invalid_project_file_fails_with_its_name(env):
    bad = env / "bad.yml"
    bad.write_text("name: Bad Name\nkind: label\n")
    result = runner.invoke(app, ["project", "apply", str(bad)])
    assert result.exit_code == 2
    assert "bad.yml" in result.output and "`name`" in result.output


def test_import_into_unknown_project_says_how_to_create_one(env):
    result = runner.invoke(
        app, ["import", "--project", "nope", str(EXAMPLES_DIR / "support-intent.jsonl")]
    )
    assert result.exit_code == 2
    assert "no project named 'nope'" in result.output and "quorum project apply" in result.output
