"""Fixtures for running `quorum` in-process as a new user would, and a Slack emulator
for the commands that talk to Slack."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli.main import app
from bot.sandbox.slack_emulator import SlackEmulator

SETTINGS_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "QUORUM_AUDIT_KEY",
    "QUORUM_EXPORT_SALT",
    "QUORUM_LOG_LEVEL",
    "QUORUM_DEBUG",
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working folder with a SQLite database and no Slack settings."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


@pytest.fixture
def quorum(env: Path) -> Callable[..., Result]:
    """`quorum ARGS…` in-process; the result's output holds stdout and stderr."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return run


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as running:
        yield running


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and the libraries' loggers back as they were."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ("slack_bolt", "slack_sdk", "urllib3", "uvicorn", "httpx", "httpcore", "openai")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
