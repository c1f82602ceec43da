"""SQLite writers of one process take turns in the order they came: under a burst, none
waits behind later ones (SQLite's own busy handler retries with growing sleeps and no
queue). A thread already holding its turn re-enters it."""

from __future__ import annotations

import threading
import time

import storage.db
from storage.db import make_engine, writer_turn


def test_turns_go_in_arrival_order(sqlite_url):
    engine = make_engine(sqlite_url)
    order: list[int] = []
    holder = writer_turn(engine)
    holder.__enter__()  # the database is busy: everyone below queues

    def writer(n: int) -> None:
        with writer_turn(engine):
            order.append(n)

    threads = []
    for n in range(12):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        time.sleep(0.01)  # arrive one after another
    holder.__exit__(None, None, None)
    for thread in threads:
        thread.join(5)
    assert order == list(range(12))
    engine.dispose()


def test_the_holder_reenters_its_turn(sqlite_url):
    engine = make_engine(sqlite_url)
    done = threading.Event()

    def nested() -> None:
        with writer_turn(engine), writer_turn(engine):
            done.set()

    thread = threading.Thread(target=nested)
    thread.start()
    thread.join(2)
    assert done.is_set()
    with writer_turn(engine):  # and released it whole
        pass
    engine.dispose()


def test_a_stuck_holder_does_not_hang_the_others(sqlite_url, monkeypatch):
    engine = make_engine(sqlite_url)
    monkeypatch.setattr(storage.db, "TURN_WAIT_S", 0.2)
    stuck = writer_turn(engine)
    stuck.__enter__()  # never released while the others wait
    done: list[int] = []

    def writer(n: int) -> None:
        with writer_turn(engine):
            done.append(n)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(done) == [0, 1, 2]  # each went on to SQLite's own lock after the wait
    stuck.__exit__(None, None, None)
    with writer_turn(engine):  # the turn is free again, none left queued
        pass
    engine.dispose()
