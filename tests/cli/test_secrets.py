"""The published default QUORUM_AUDIT_KEY and QUORUM_EXPORT_SALT are refused outside
development mode by every command that would sign or pseudonymise with them."""

from __future__ import annotations

import os

import pytest

from bot import EXAMPLES_DIR

OWN_KEY = "5f1c0c8e7d1f4b0a9e6d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f"


@pytest.fixture
def production(monkeypatch):  # type: ignore[no-untyped-def]
    """Development mode off (the suite turns it on in tests/conftest.py)."""
    monkeypatch.delenv("QUORUM_DEV", raising=False)


def refused(result, name: str, command: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert f"{name} is the published default" in result.output
    assert f"`{command}` will not use it" in result.output
    assert f"export {name}=$(python -c 'import secrets; print(secrets.token_hex(32))')" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_serve_and_worker_refuse_the_default_audit_key(quorum, monkeypatch, production, emulator):
    monkeypatch.setenv("SLACK_BOT_TOKEN", emulator.bot_token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "cli-test-signing-secret")
    monkeypatch.setenv("SLACK_API_URL", emulator.api_url)
    refused(quorum("serve", "--port", "0"), "QUORUM_AUDIT_KEY", "quorum serve")
    refused(quorum("worker"), "QUORUM_AUDIT_KEY", "quorum worker")
    assert emulator.calls == []  # refused before anything started


def test_checkpoint_refuses_the_default_key_and_signs_nothing(quorum, monkeypatch, production):
    assert quorum("project", "apply", str(EXAMPLES_DIR / "support-intent.yml")).exit_code == 0
    refused(quorum("audit", "checkpoint"), "QUORUM_AUDIT_KEY", "quorum audit checkpoint")
    monkeypatch.setenv("QUORUM_AUDIT_KEY", "")
    assert "QUORUM_AUDIT_KEY is empty" in quorum("audit", "checkpoint").output
    monkeypatch.setenv("QUORUM_AUDIT_KEY", OWN_KEY)
    signed = quorum("audit", "checkpoint")
    assert signed.exit_code == 0, signed.output
    assert "Checkpoint 1 for support-intent" in signed.output  # the refusals wrote none


def test_pseudonymised_export_refuses_the_default_salt(quorum, monkeypatch, production, env):
    assert quorum("project", "apply", str(EXAMPLES_DIR / "support-intent.yml")).exit_code == 0
    earlier = env / "labels.jsonl"
    earlier.write_text("earlier\n")
    result = quorum("export", "-p", "support-intent", "--pseudonymise", "-o", "labels.jsonl")
    refused(result, "QUORUM_EXPORT_SALT", "quorum export --pseudonymise")
    assert earlier.read_text() == "earlier\n"
    # Without --pseudonymise no salt is used, so the default is no risk.
    assert quorum("export", "-p", "support-intent", "-o", "plain.jsonl").exit_code == 0
    monkeypatch.setenv("QUORUM_EXPORT_SALT", OWN_KEY)
    own = quorum("export", "-p", "support-intent", "--pseudonymise", "-o", "labels.jsonl")
    assert own.exit_code == 0, own.output


def test_development_mode_accepts_the_defaults(quorum, monkeypatch):
    monkeypatch.setenv("QUORUM_DEV", "1")
    assert quorum("project", "apply", str(EXAMPLES_DIR / "support-intent.yml")).exit_code == 0
    assert quorum("audit", "checkpoint").exit_code == 0
    assert quorum("export", "-p", "support-intent", "--pseudonymise").exit_code == 0


def test_the_demo_turns_development_mode_on_for_itself_only(monkeypatch, tmp_path):
    """The demo's sandbox runs with QUORUM_DEV on, without changing the environment."""
    from bot.sandbox import demo
    from bot.sandbox.harness import SlackSandbox

    monkeypatch.delenv("QUORUM_DEV", raising=False)
    seen = {}

    class Stop(Exception):
        pass

    def capture(self, database_url, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs["settings_overrides"])
        raise Stop

    monkeypatch.setattr(SlackSandbox, "__init__", capture)
    with pytest.raises(Stop):
        demo.run_demo(workdir=tmp_path / "demo")
    assert seen["quorum_dev"] is True
    assert "QUORUM_DEV" not in os.environ
