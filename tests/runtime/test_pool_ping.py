"""A PostgreSQL connection that sat in the pool is pinged before use and replaced when the
server dropped it; a connection in steady use is not pinged (no extra round trip)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import storage.db
from storage.db import make_engine


@pytest.fixture
def pg_engine(postgres_url):  # type: ignore[no-untyped-def]
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(pg_engine, monkeypatch):  # type: ignore[no-untyped-def]
    counted: list[object] = []
    real = pg_engine.dialect.do_ping

    def do_ping(dbapi_connection):  # type: ignore[no-untyped-def]
        counted.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(pg_engine.dialect, "do_ping", do_ping)
    return counted


def backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_dropped_idle_connection_is_replaced_not_an_error(
    pg_engine, pings, postgres_url, monkeypatch
):
    first = backend_pid(pg_engine)
    admin = make_engine(postgres_url)  # another client drops the pooled connection
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()
    monkeypatch.setattr(storage.db, "PING_IDLE_S", 0.0)  # it has been idle "long enough"
    assert backend_pid(pg_engine) != first  # pinged, found dead, replaced: no error
    assert pings


def test_a_busy_connection_is_not_pinged(pg_engine, pings):
    for _ in range(5):
        backend_pid(pg_engine)
    assert pings == []
