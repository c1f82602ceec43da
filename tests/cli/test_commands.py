"""The `quorum` commands as a new user runs them."""

from __future__ import annotations

import json

from bot import EXAMPLES_DIR


def test_serve_without_tokens_names_the_variable_and_points_at_demo(quorum):
    result = quorum("serve")
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN is not set" in result.output and "quorum demo" in result.output


def test_apply_import_status_export(quorum, env):
    applied = quorum("project", "apply", str(EXAMPLES_DIR / "support-intent.yml"))
    assert applied.exit_code == 0, applied.output
    assert "Created project support-intent" in applied.output
    imported = quorum(
        "import", "--project", "support-intent", str(EXAMPLES_DIR / "support-intent.jsonl")
    )
    assert imported.exit_code == 0, imported.output
    assert "Imported 40 new item(s)" in imported.output
    status = quorum("status")
    assert "support" in status.output and " 40 │" in status.output
    out = env / "labels.jsonl"
    exported = quorum(
        "export", "--project", "support-intent", "--format", "labels", "--out", str(out)
    )
    assert exported.exit_code == 0, exported.output
    assert out.exists() and all(json.loads(line) for line in out.read_text().splitlines())


def test_invalid_project_file_fails_with_its_name(quorum, env):
    bad = env / "bad.yml"
    bad.write_text("name: Bad Name\nkind: label\n")
    result = quorum("project", "apply", str(bad))
    assert result.exit_code == 2
    assert "bad.yml" in result.output and "`name`" in result.output


def test_import_into_unknown_project_says_how_to_create_one(quorum):
    result = quorum("import", "--project", "nope", str(EXAMPLES_DIR / "support-intent.jsonl"))
    assert result.exit_code == 2
    assert "no project named 'nope'" in result.output and "quorum project apply" in result.output
