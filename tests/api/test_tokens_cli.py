"""`quorum token create | list | revoke`: the token printed once with its id, stored as
a SHA-256 only, listed without it, refused by the API as soon as it is revoked, and both
actions recorded on the project's audit chain (without the token or its hash).

bot/cli/main.py registers the group as `quorum token`; until then the tests mount
bot.cli.tokens.app on a `quorum`-like app of their own (the same QuorumGroup)."""

from __future__ import annotations

import hashlib
import re

import pytest
import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.audit.chain import project_chain
from bot.audit.verify import verify_trail
from bot.cli import tokens
from bot.cli.main import QuorumGroup
from bot.workflow.project_versions import require_project
from storage import audit_queries
from storage.models import ApiToken
from tests.api.conftest import PROJECT

TOKEN = re.compile(r"^(qrm_[A-Za-z0-9_-]{32,})$", re.MULTILINE)


@pytest.fixture
def quorum(world, database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    app = typer.Typer(cls=QuorumGroup)
    app.add_typer(tokens.app, name="token")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["token", *args])


def test_create_prints_the_token_once_and_stores_only_its_hash(world, quorum):
    made = quorum("create", "--project", PROJECT, "--scope", "write", "--name", "pipeline")
    assert made.exit_code == 0, made.output
    assert "Created write token 1 (pipeline) for project support-intent" in made.output
    (token,) = TOKEN.findall(made.output)
    with Session(world.sandbox.ctx.engine) as session:
        row = session.exec(select(ApiToken)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:8] and row.scope == "write" and row.name == "pipeline"

    with world.client(token) as client:
        assert client.get("/projects").status_code == 200
    listed = quorum("list")
    assert listed.exit_code == 0
    assert "pipeline" in listed.output and "write" in listed.output
    assert token not in listed.output and token[:12] not in listed.output
    assert quorum("list", "--project", PROJECT).exit_code == 0

    revoked = quorum("revoke", "1")
    assert revoked.exit_code == 0 and "Revoked token 1 (pipeline)" in revoked.output
    with world.client(token) as client:
        assert client.get("/projects").status_code == 401
    assert "revoked already" in quorum("revoke", "1").output


def test_mistakes_are_one_line_errors(quorum):
    cases = {
        ("create", "--project", "nope"): "no project named 'nope'",
        ("create", "--project", PROJECT, "--scope", "admin"): "--scope 'admin'",
        ("revoke", "42"): "no token with id 42",
        ("list", "--project", "nope"): "no project named 'nope'",
    }
    for args, expected in cases.items():
        result = quorum(*args)
        assert result.exit_code == 2, result.output
        assert expected in result.output and "Traceback" not in result.output


def test_a_read_token_is_the_default(world, quorum):
    (token,) = TOKEN.findall(quorum("create", "--project", PROJECT).output)
    with world.client(token) as client:
        refused = client.post(f"/projects/{PROJECT}/items", json={"items": []})
    assert refused.status_code == 403


def test_creating_and_revoking_a_token_are_audit_events_on_the_projects_chain(world, quorum):
    (token,) = TOKEN.findall(
        quorum("create", "--project", PROJECT, "--scope", "write", "--name", "nightly").output
    )
    assert quorum("revoke", "1").exit_code == 0
    assert quorum("revoke", "1").exit_code == 0  # revoked already: no second event
    engine = world.sandbox.ctx.engine
    with Session(engine) as session:
        project_id = require_project(session, PROJECT).id
        events = audit_queries.chain_events(session, project_chain(project_id))
    tokens_events = [e for e in events if e.kind.startswith("api_token_")]
    expected = {"token_id": 1, "name": "nightly", "scope": "write", "prefix": token[:8]}
    assert [(e.kind, e.data) for e in tokens_events] == [
        ("api_token_created", expected),
        ("api_token_revoked", expected),
    ]
    digest = hashlib.sha256(token.encode()).hexdigest()
    for event in tokens_events:
        assert token not in str(event.data) and digest not in str(event.data)
    report = verify_trail(engine, key="any key: no checkpoints yet", project_id=project_id)
    assert report.intact and report.events == len(events)
