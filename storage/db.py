"""Engine and session setup, and bringing the schema up to date with Alembic."""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite so the
    delivery worker, the scheduler and request threads can share one file."""
    if url.startswith("sqlite"):
        # Pooled: opening a connection costs its pragmas, and closing the last one
        # checkpoints the WAL, ~3 ms of CPU a transaction (each click) with NullPool.
        # No ceiling past the 10 kept: a connection to a file costs nothing to the
        # database, and every thread that waits for a connection holds a request.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=10,
            max_overflow=-1,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # A server that does not answer (an unroutable host) is an error after 10 s, not after
    # the operating system's TCP timeout of minutes; a URL's own connect_timeout wins.
    connect_args = {} if "connect_timeout=" in url else {"connect_timeout": 10}
    # Up to 30 a process: the request, listener, API and background threads that can be in
    # a transaction at once, within PostgreSQL's default 100 for three processes. 20 are
    # kept open: a burst of clicks keeps that many busy, and a connection past the kept
    # ones is closed when returned, so a smaller pool opened and closed one (a server
    # fork and a login) every few clicks.
    engine = create_engine(url, pool_size=20, max_overflow=10, connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


# A pooled connection idle longer than this is pinged before use; a busy one is not.
PING_IDLE_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, but only for connections that sat in the pool a while: a server
    restart or an idle timeout drops those, and under load (a click every few ms) the
    round trip of a ping on every checkout was a good part of a click's time. A
    connection dropped within the last seconds fails its statement instead; the
    workflow's transactions are retried (bot.workflow.transaction) and SQLAlchemy
    then replaces every connection of the pool."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("a pooled connection did not answer its ping") from exc
        if not alive:
            raise DisconnectionError("a pooled connection did not answer its ping")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


MIGRATION_LOCK = 7_147_001  # pg advisory lock id: one migrating process at a time


def upgrade_schema(engine: Engine) -> None:
    """Apply every pending migration; safe to call on each start, also when several
    `quorum serve` processes start at once against one PostgreSQL."""
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), "head")
        return
    with engine.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        try:
            command.upgrade(alembic_config(engine), "head")
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
            connection.commit()


# A writer waits at most this long for its turn, as long as SQLite's own busy timeout; past
# it, it goes without one, to SQLite's lock (which then fails it after its own 30 s): a
# stuck turn holder must not hang every other writer for ever.
TURN_WAIT_S = 30.0


class _WriterTurns:
    """Turns in arrival order for one SQLite database, per process: a finished turn is
    handed to the longest waiting thread alone (waking every waiter to look would cost
    each hand-over a thundering herd). Re-entered freely by the thread holding the turn (a
    step that opens a nested transaction waits on SQLite's lock as it always did, not on
    itself)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: deque[tuple[int, threading.Event]] = deque()
        self._owner: int | None = None
        self._depth = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        me = threading.get_ident()
        handed: threading.Event | None = None
        with self._lock:
            if self._owner == me:
                self._depth += 1
            elif self._owner is None:
                self._owner, self._depth = me, 1
            else:
                handed = threading.Event()
                self._waiting.append((me, handed))
        owns = True
        if handed is not None and not handed.wait(TURN_WAIT_S):
            with self._lock:  # not handed in time: leave the queue, unless handed just now
                if (me, handed) in self._waiting:
                    self._waiting.remove((me, handed))
                    owns = False
        try:
            yield
        finally:
            if owns:
                self._release()

    def _release(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                if self._waiting:
                    self._owner, nxt = self._waiting.popleft()
                    self._depth = 1
                    nxt.set()
                else:
                    self._owner = None


_turns: weakref.WeakKeyDictionary[Engine, _WriterTurns] = weakref.WeakKeyDictionary()
_turns_lock = threading.Lock()


def writer_turn(engine: Engine) -> AbstractContextManager[None]:
    """Wait for this process's turn to write to a SQLite database (nothing to wait for on
    PostgreSQL, whose row locks queue writers). SQLite admits one writer at a time, and a
    writer that finds it locked sleeps and retries (busy_timeout) with growing sleeps and
    no queue: under a burst of clicks, one that kept losing waited seconds while later
    ones went first (p99 1.5-2.5 s at 10 reviewers whose median was 26 ms). With turns,
    transactions that write from their start (review steps, bot.workflow.transaction) go
    in arrival order, and SQLite's lock only arbitrates what has no turn (the delivery
    worker, another process)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _turns_lock:
        turns = _turns.get(engine)
        if turns is None:
            turns = _turns[engine] = _WriterTurns()
    return turns.turn()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
