"""One running Quorum for the whole fuzz module (hypothesis runs many examples per test;
a sandbox per example would make the suite slow): the real app on the real HTTP server,
a project with items sent to reviewers, and an open escalation."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.clock import FrozenClock
from bot.sandbox.harness import SlackSandbox
from tests.factories import REVIEWERS, press, slack_world, start_items


@pytest.fixture(scope="module")
def world(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlackSandbox]:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(sqlite_template, folder / "quorum.db")
    with slack_world(f"sqlite:///{folder / 'quorum.db'}", FrozenClock()) as sandbox:
        sandbox.emulator.add_user("U99STRANGER")
        start_items(sandbox, folder, count=2, agreement=0.8)
        sandbox.settle()
        reviewers = [user for user in REVIEWERS if sandbox.dm(user)][:3]
        for user, text in zip(
            reviewers, ("Confirm: billing", "Confirm: billing", "bug"), strict=True
        ):
            press(sandbox, user, sandbox.dm(user)[0], text)
        sandbox.settle()
        yield sandbox
