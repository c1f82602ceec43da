"""Bearer tokens: 401 without a valid one (missing, unknown, revoked), 404 for another
project's names (the same answer as a project that does not exist), 403 for a read token
that writes, the per-token rate limit (429 + Retry-After), and `last_used_at` written
about once a minute, not once a request, and never in the request's way."""

from __future__ import annotations

import time

from sqlalchemy import update
from sqlmodel import Session, select

from bot.api.tokens import revoke_token
from storage.db import session_scope
from storage.models import ApiToken
from tests.api.conftest import PROJECT, item
from tests.factories import apply, label_config, wait_for

PATHS = [
    ("GET", f"/projects/{PROJECT}/labels"),
    ("GET", f"/projects/{PROJECT}/stats"),
    ("GET", f"/projects/{PROJECT}/items/t-1"),
    ("POST", f"/projects/{PROJECT}/items"),
]


def call(client, method: str, path: str):
    if method == "POST":
        return client.post(path, json={"items": [item(1)]})
    return client.request(method, path)


def test_no_token_an_unknown_one_and_a_revoked_one_are_401(world):
    token = world.token("write")
    with world.client() as anonymous, world.client("qrm_not-a-token") as unknown:
        for method, path in [("GET", "/projects"), *PATHS]:
            for client in (anonymous, unknown):
                refused = call(client, method, path)
                assert refused.status_code == 401, (method, path)
                assert refused.headers["www-authenticate"].startswith("Bearer")
                assert refused.json()["error"]["details"][0]["field"] == "Authorization"
    with world.client(token) as client:
        assert client.get("/projects").status_code == 200
        with session_scope(world.sandbox.ctx.engine) as session:
            revoke_token(session, 1, now=world.sandbox.clock.now())
        revoked = client.get("/projects")
        assert revoked.status_code == 401
        assert revoked.json()["error"]["code"] == "unauthorized"
    with world.client(token[:-1]) as almost:  # no partial credit for a near miss
        assert almost.get("/projects").status_code == 401


def test_a_token_neither_reads_nor_writes_another_project_and_its_names_do_not_leak(world):
    apply(world.sandbox.ctx.engine, label_config(name="other-project"))
    theirs = world.token("write", project="other-project")
    with world.client(theirs) as client:
        listed = client.get("/projects").json()["projects"]
        assert [p["name"] for p in listed] == ["other-project"]
        for method, path in PATHS:
            refused = call(client, method, path)
            unknown = call(client, method, path.replace(PROJECT, "no-such-project"))
            assert refused.status_code == unknown.status_code == 404, (method, path)
            assert refused.json()["error"]["details"] == [
                {"field": "project", "message": f"no project named {PROJECT!r}"}
            ]
            assert unknown.json()["error"]["code"] == refused.json()["error"]["code"]


def test_a_read_token_reads_but_may_not_write(world):
    with world.client(world.token("read")) as reader:
        refused = reader.post(f"/projects/{PROJECT}/items", json={"items": [item(1)]})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert "write token" in refused.json()["error"]["message"]
        for method, path in PATHS[:2]:
            assert call(reader, method, path).status_code == 200
        assert reader.get(f"/projects/{PROJECT}/items/t-1").status_code == 404


def test_over_the_rate_limit_a_token_gets_429_with_retry_after(open_world):
    with open_world(quorum_api_rate=0.5, quorum_api_burst=3) as world:
        busy, calm = world.token(), world.token()
        with world.client(busy) as client, world.client(calm) as other:
            answers = [client.get("/projects") for _ in range(4)]
            assert [a.status_code for a in answers] == [200, 200, 200, 429]
            limited = answers[-1]
            assert limited.json()["error"]["code"] == "rate_limited"
            wait = int(limited.headers["retry-after"])
            assert 1 <= wait <= 2
            assert other.get("/projects").status_code == 200  # each token has its own bucket
            time.sleep(wait)
            assert client.get("/projects").status_code == 200


def test_last_used_is_recorded_once_a_minute_not_once_a_request(world):
    token = world.token("read")

    def last_used():
        with Session(world.sandbox.ctx.engine) as session:
            return session.exec(select(ApiToken.last_used_at)).one()

    assert last_used() is None
    with world.client(token) as client:
        assert client.get("/projects").status_code == 200
        first = wait_for(last_used, timeout_s=10, what="last_used_at")  # written in the background
        world.sandbox.clock.advance(seconds=30)
        for _ in range(5):
            assert client.get("/projects").status_code == 200
        time.sleep(0.3)  # time enough for a write that should not happen
        assert last_used() == first


def test_a_read_is_answered_while_another_writer_holds_the_token_row(world):
    """Recording `last used` waits for the lock (SQLite's busy timeout is 30 s; on
    PostgreSQL the row lock), but in the background: the request does not."""
    token = world.token("read")
    engine = world.sandbox.ctx.engine

    def last_used():
        with Session(engine) as session:
            return session.exec(select(ApiToken.last_used_at)).one()

    with engine.connect() as writer:
        writer.execute(update(ApiToken).values(name=ApiToken.name))  # holds the write lock
        with world.client(token) as client:
            started = time.monotonic()
            assert client.get("/projects").status_code == 200
            assert client.get(f"/projects/{PROJECT}/stats").status_code == 200
            took = time.monotonic() - started
        time.sleep(0.5)
        assert last_used() is None  # the background write still waits for the lock
        writer.rollback()
    assert took < 5, f"the reads took {took:.1f} s"
    assert wait_for(last_used, timeout_s=30, what="last_used_at once the lock is released")
