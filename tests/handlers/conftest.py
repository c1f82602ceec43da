"""A running Quorum (the real app over loopback HTTP, the Slack emulator) for the tests of
what listeners accept and refuse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.harness import SlackSandbox
from tests.factories import slack_world


@pytest.fixture
def sandbox(database_url: str, clock) -> Iterator[SlackSandbox]:  # type: ignore[no-untyped-def]
    with slack_world(database_url, clock) as running:
        yield running


@pytest.fixture
def sqlite_sandbox(sqlite_url: str, clock) -> Iterator[SlackSandbox]:  # type: ignore[no-untyped-def]
    with slack_world(sqlite_url, clock) as running:
        yield running
