"""Delivery fixtures: the real Bolt app and delivery worker against the Slack emulator,
with reviewers in chosen time zones and a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.harness import SlackSandbox
from tests.factories import slack_world


@pytest.fixture
def world(database_url: str, clock) -> Iterator[SlackSandbox]:  # type: ignore[no-untyped-def]
    with slack_world(database_url, clock) as sandbox:
        yield sandbox
