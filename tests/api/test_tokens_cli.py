"""`quorum token create | list | revoke`: the token printed once with its id, stored as
a SHA-256 only, listed without it, and refused by the API as soon as it is revoked.

bot/cli/main.py registers the group as `quorum token`; until then the tests mount
bot.cli.tokens.app on a `quorum`-like app of their own (the same QuorumGroup)."""

from __future__ import annotations

import hashlib
import re

import pytest
import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import tokens
from bot.cli.main import QuorumGroup
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
