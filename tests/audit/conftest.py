"""A small project with a real audit trail: items imported, routed, assigned, answered,
signed off or escalated through the workflow (no hand-made events)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.runtime.settings import get_settings
from bot.workflow.intake.dispatch import dispatch_queued
from storage.models import Assignment, Item
from tests.factories import answer, apply, conversation, import_file, label_config, write_items

AUDIT_KEY = "test-audit-key"


@dataclass
class Trail:
    engine: Engine
    database_url: str
    clock: object

    def item_id(self, external_id: str) -> int:
        with Session(self.engine) as session:
            return session.exec(select(Item.id).where(Item.external_id == external_id)).one()


def build_trail(engine: Engine, database_url: str, clock, tmp_path) -> Trail:  # type: ignore[no-untyped-def]
    import random

    apply(engine, label_config())
    items = [
        {"id": f"t-{n}", "conversation": conversation(f"case {n}"), "prediction": p}
        for n, p in enumerate(
            [
                {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
                {"label": "bug", "confidence": 0.40, "model": "intent-v3"},
                {"label": "account", "confidence": 0.97, "model": "intent-v3"},
            ],
            start=1,
        )
    ]
    import_file(engine, write_items(tmp_path / "items.jsonl", items))
    clock.advance(minutes=1)
    dispatch_queued(engine, clock=clock, rng=random.Random(3))
    answers = {"t-1": ["billing", "billing", "billing"], "t-2": ["bug", "account", "other"]}
    for external_id, values in answers.items():
        with Session(engine) as session:
            item_id = session.exec(select(Item.id).where(Item.external_id == external_id)).one()
            assignments = list(
                session.exec(select(Assignment).where(Assignment.item_id == item_id))
            )
        for assignment, value in zip(assignments, values, strict=True):
            clock.advance(minutes=7)
            answer(engine, clock, assignment, value)
    return Trail(engine, database_url, clock)


@pytest.fixture
def trail(engine, database_url, clock, tmp_path) -> Trail:  # type: ignore[no-untyped-def]
    return build_trail(engine, database_url, clock, tmp_path)


@pytest.fixture
def quorum(monkeypatch, database_url, tmp_path):  # type: ignore[no-untyped-def]
    """Run `quorum …` in-process against the test database; returns the CliRunner result."""
    from bot.cli.main import app

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("QUORUM_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.chdir(tmp_path)  # no stray .env
    getattr(get_settings, "cache_clear", lambda: None)()  # if settings are cached
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield run
    getattr(get_settings, "cache_clear", lambda: None)()  # if settings are cached
