"""Webhook fixtures: a local receiver, a sender on the test's frozen clock, and
`quorum webhook …` run in-process through the same error boundary as the real CLI."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from bot.cli import webhooks
from bot.cli.main import QuorumGroup
from bot.runtime.clock import FrozenClock
from bot.webhooks.sender import WebhookSender
from tests.factories import WebhookReceiver, apply, label_config


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver().start()
    yield running
    running.stop()


@pytest.fixture
def sender(engine: Engine, clock: FrozenClock) -> Iterator[WebhookSender]:
    made = WebhookSender(engine, clock=clock, timeout_s=5.0)
    yield made
    made.stop()


@pytest.fixture
def project(engine: Engine) -> str:
    apply(engine, label_config())
    return "support-intent"


def _root() -> typer.Typer:
    # bot/cli/main.py registers the sub-app as `quorum webhook`; this mirrors it.
    root = typer.Typer(cls=QuorumGroup)
    root.callback()(lambda: None)
    root.add_typer(webhooks.app, name="webhook")
    return root


@pytest.fixture
def quorum_webhook(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`quorum webhook ARGS…` against the test's database; output holds stdout+stderr."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: no folded ids
    monkeypatch.delenv("QUORUM_WEBHOOK_ALLOW_PRIVATE", raising=False)
    runner = CliRunner()
    root = _root()

    def run(*args: str, **env: str) -> Result:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runner.invoke(root, ["webhook", *args])

    return run


@dataclass(frozen=True)
class Added:
    id: int
    secret: str
    output: str


ADDED = re.compile(r"Added webhook (\d+) ")
SECRET = re.compile(r"^(whsec_\S+)$", re.MULTILINE)


@pytest.fixture
def add_webhook(quorum_webhook: Callable[..., Result]) -> Callable[..., Added]:
    """Add a webhook through the CLI; its id and the secret it printed."""

    def add(url: str, *args: str, project: str = "support-intent") -> Added:
        result = quorum_webhook("add", "--project", project, url, *args)
        assert result.exit_code == 0, result.output
        found, secret = ADDED.search(result.output), SECRET.search(result.output)
        assert found and secret, result.output
        return Added(int(found.group(1)), secret.group(1), result.output)

    return add
