"""The API runs in threads of its own: with every API thread held by a slow request (and
more API requests waiting), a reviewer's click is still answered at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bot.api.stats
from tests.api.conftest import PROJECT, item
from tests.factories import press, response_of


def test_a_click_is_answered_while_the_api_threads_are_all_busy(open_world, monkeypatch):
    # Two Slack threads: an API that borrowed them would leave the click none.
    with open_world(quorum_api_threads=1, quorum_http_threads=2) as world:
        sandbox = world.sandbox
        with world.client(world.token()) as client:
            assert (
                client.post(f"/projects/{PROJECT}/items", json={"items": [item(1)]}).status_code
                == 201
            )
        sandbox.settle()
        reviewer = next(u for u in ("U01ALICE", "U02BOB", "U03CARA", "U04DAN") if sandbox.dm(u))

        entered, release = threading.Event(), threading.Event()
        real = bot.api.stats.project_stats

        def slow_stats(ctx, caller):  # a slow query, held until the click is answered
            entered.set()
            release.wait(30)
            return real(ctx, caller)

        monkeypatch.setattr(bot.api.stats, "project_stats", slow_stats)
        token = world.token()

        def stats() -> int:
            with world.client(token) as client:
                return client.get(f"/projects/{PROJECT}/stats").status_code

        with ThreadPoolExecutor(6) as pool:
            try:
                held = pool.submit(stats)
                assert entered.wait(10), "the slow API request never started"
                waiting = [pool.submit(stats) for _ in range(5)]  # queued behind it
                started = time.monotonic()
                press(sandbox, reviewer, sandbox.latest_dm(reviewer), "bug")
                took = time.monotonic() - started
                assert not held.done() and not any(w.done() for w in waiting)
            finally:
                release.set()
            assert held.result(timeout=30) == 200
            assert [w.result(timeout=30) for w in waiting] == [200] * 5
        assert took < 3.0, f"the click took {took:.1f} s"
        assert response_of(sandbox, reviewer).value == "bug"
