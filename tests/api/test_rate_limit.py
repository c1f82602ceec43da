"""The rate limit is taken before a request waits for an API thread: a token far over its
rate is answered 429 at once and does not delay another token's requests; a garbage
token and requests without one are limited too."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import storage.api_queries
from bot.api.tokens import token_digest
from tests.api.conftest import PROJECT

FLOODERS = 16
LOOKUP_S = 0.3  # the flooding token's requests each hold the one API thread this long


def test_a_token_far_over_its_rate_does_not_delay_another_token(open_world, monkeypatch):
    with open_world(quorum_api_rate=2, quorum_api_burst=4, quorum_api_threads=1) as world:
        flooding, calm = world.token("read"), world.token("read")
        real = storage.api_queries.token_by_hash
        lookups = [0]  # the flooding token's requests that got an API thread

        def slow_lookup(session, token_hash):
            if token_hash == token_digest(flooding):
                lookups[0] += 1
                time.sleep(LOOKUP_S)
            return real(session, token_hash)

        monkeypatch.setattr(storage.api_queries, "token_by_hash", slow_lookup)
        stop = threading.Event()
        refused: list[tuple[int, str | None, str]] = []

        def flood() -> None:
            with world.client(flooding) as client:
                while not stop.is_set():
                    answer = client.get(f"/projects/{PROJECT}/stats")
                    if answer.status_code != 200:
                        code = answer.json()["error"]["code"]
                        refused.append(
                            (answer.status_code, answer.headers.get("retry-after"), code)
                        )
                    time.sleep(0.01)  # still far over the rate; leaves the server some CPU

        started_flood = time.monotonic()
        with ThreadPoolExecutor(FLOODERS) as pool:
            flooders = [pool.submit(flood) for _ in range(FLOODERS)]
            try:
                deadline = time.monotonic() + 10
                while len(refused) < 50 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert len(refused) >= 50, "the flooding token was never refused"
                took, statuses = [], []
                with world.client(calm) as client:
                    for _ in range(4):  # within its own burst
                        started = time.monotonic()
                        statuses.append(client.get(f"/projects/{PROJECT}/stats").status_code)
                        took.append(time.monotonic() - started)
            finally:
                stop.set()
                flooded_s = time.monotonic() - started_flood
            for flooder in flooders:
                flooder.result(timeout=30)
        assert statuses == [200] * 4
        # Only what the flooding token's bucket allows (burst 4, then 2/s) ever took the API
        # thread; every other request of it was refused before asking for one, so the calm
        # token never queued behind hundreds of them.
        assert len(refused) >= 50
        assert lookups[0] <= 4 + 2 * flooded_s + 2, (lookups[0], flooded_s, took)
        assert {status for status, _, _ in refused} == {429}
        assert {code for _, _, code in refused} == {"rate_limited"}
        assert all(wait is not None and int(wait) >= 1 for _, wait, _ in refused)


def test_a_garbage_token_and_requests_without_one_are_limited_too(open_world):
    with open_world(quorum_api_rate=0.5, quorum_api_burst=2) as world:
        with world.client("qrm_not-a-token") as garbage, world.client() as anonymous:
            for client in (garbage, anonymous):
                answers = [client.get("/projects") for _ in range(3)]
                assert [a.status_code for a in answers] == [401, 401, 429]
                assert answers[-1].json()["error"]["code"] == "rate_limited"
                assert int(answers[-1].headers["retry-after"]) >= 1
        with world.client("qrm_another-garbage-token") as other:
            assert other.get("/projects").status_code == 401  # a bucket of its own
        with world.client(world.token()) as real:
            assert real.get("/projects").status_code == 200
