"""End-to-end fixtures: the real Bolt app over loopback HTTP against the Slack emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.harness import SlackSandbox
from tests.factories import LEADS, REVIEWERS, stop_started_processes


@pytest.fixture(autouse=True)
def no_stray_processes() -> Iterator[None]:
    """Whatever a failing test leaves running is stopped (only processes it started)."""
    yield
    stop_started_processes()


@pytest.fixture
def sandbox(database_url: str, clock) -> Iterator[SlackSandbox]:
    with SlackSandbox(
        database_url,
        users=REVIEWERS + LEADS + ["U99STRANGER"],
        channels=["C0ESCALATE"],
        clock=clock,
    ) as running:
        yield running
