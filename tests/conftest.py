"""Shared fixtures: databases on both backends, contexts, and example projects.

`engine` is parameterised over SQLite and the local PostgreSQL. PostgreSQL tests fail
when the server is unreachable: a run must never silently drop a backend.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from bot import EXAMPLES_DIR
from bot.config.project import ProjectConfig, load_project_file
from bot.runtime.clock import FrozenClock
from bot.runtime.context import QuorumContext
from bot.runtime.settings import Settings
from storage.db import make_engine, session_scope, upgrade_schema

PG_ADMIN_URL = os.environ.get("QUORUM_TEST_PG", "postgresql://127.0.0.1:5432/test")


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    problem = _postgres_available()
    if problem:
        pytest.fail(
            f"PostgreSQL is required but unreachable at {PG_ADMIN_URL} ({problem}). Start it "
            "(`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or "
            "point QUORUM_TEST_PG at one."
        )
    name = f"quorum_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    engine = make_engine(url)
    upgrade_schema(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "quorum.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    _truncate_all(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "slack_bot_token": "xoxb-emulator-token",
        "slack_signing_secret": "test-signing-secret",
        "slack_app_token": None,
        "openai_api_key": None,
        "quorum_delivery_interval_s": 0.05,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def context(engine: Engine, database_url: str, clock: FrozenClock) -> QuorumContext:
    import random

    return QuorumContext(
        engine=engine, settings=make_settings(database_url), clock=clock, rng=random.Random(1)
    )


def example_config(name: str, **changes: object) -> ProjectConfig:
    config = load_project_file(EXAMPLES_DIR / f"{name}.yml")
    return config.model_copy(update=changes) if changes else config


def label_config(**changes: object) -> ProjectConfig:
    base = {
        "name": "support-intent",
        "kind": "label",
        "question": "Which team should handle this conversation?",
        "labels": ["billing", "bug", "account", "other"],
        "reviewers": ["U01ALICE", "U02BOB", "U03CARA", "U04DAN"],
        "leads": ["U09LEAD"],
        "overlap": 3,
        "agreement": 0.67,
        "escalation_channel": "C0ESCALATE",
        "routing": {"confidence_below": 0.8, "audit_rate": 0.0},
    }
    base.update(changes)
    return ProjectConfig.model_validate(base)


def apply(engine: Engine, config: ProjectConfig) -> None:
    from bot.workflow.project_versions import apply_project

    with session_scope(engine) as session:
        apply_project(session, config)
