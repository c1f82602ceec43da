"""End-to-end fixtures: the real Bolt app over loopback HTTP against the Slack emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.harness import SlackSandbox

REVIEWERS = ["U01ALICE", "U02BOB", "U03CARA", "U04DAN"]
LEADS = ["U09LEAD"]


@pytest.fixture
def sandbox(database_url: str, clock) -> Iterator[SlackSandbox]:
    with SlackSandbox(
        database_url,
        users=REVIEWERS + LEADS + ["U99STRANGER"],
        channels=["C0ESCALATE"],
        clock=clock,
    ) as running:
        yield running
