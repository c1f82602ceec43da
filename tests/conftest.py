"""Shared fixtures: databases on both backends and contexts (the builders tests share,
example projects among them, are in tests/factories.py).

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
from sqlalchemy import Engine

from bot.runtime.clock import FrozenClock
from bot.runtime.context import QuorumContext
from storage.db import make_engine, upgrade_schema
from tests.factories import make_settings, truncate_all

PG_ADMIN_URL = os.environ.get("QUORUM_TEST_PG", "postgresql://127.0.0.1:5432/test")

# Development mode for the whole suite, and for the `quorum` processes tests start (they
# inherit the environment): the published default audit key and export salt are
# accepted. Tests of the refusal outside dev mode delete it with monkeypatch.
os.environ["QUORUM_DEV"] = "1"


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(autouse=True)
def media_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own media store (never the working folder): what one test stores is
    not another's, and `quorum` processes a test starts inherit it."""
    folder = tmp_path_factory.mktemp("media")
    monkeypatch.setenv("QUORUM_MEDIA_STORE", str(folder))
    return folder


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
    truncate_all(engine)
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


@pytest.fixture
def context(engine: Engine, database_url: str, clock: FrozenClock) -> QuorumContext:
    import random

    return QuorumContext(
        engine=engine, settings=make_settings(database_url), clock=clock, rng=random.Random(1)
    )
