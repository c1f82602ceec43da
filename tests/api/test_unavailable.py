"""A database that cannot serve the request (down, a dropped connection, or every pooled
connection busy past the pool's timeout) is 503 with Retry-After in the error shape, and
the log names the failure without its message: no token, no item text."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

import bot.api.items
import bot.api.stats
from tests.api.conftest import PROJECT, item

SECRET_TEXT = "my card number is 4111 1111 1111 1111"


def pool_exhausted(*_args, **_kwargs):
    raise PoolTimeout(
        f"QueuePool limit of size 5 overflow 10 reached, connection timed out: {SECRET_TEXT}"
    )


def dropped(*_args, **_kwargs):
    raise DisconnectionError(f"connection dropped while sending {SECRET_TEXT}")


def down(*_args, **_kwargs):
    raise OperationalError("INSERT ...", {"content": SECRET_TEXT}, Exception("server closed"))


@pytest.mark.parametrize("failure", [pool_exhausted, dropped, down])
def test_a_database_that_cannot_serve_is_503_with_retry_after(world, monkeypatch, caplog, failure):
    token = world.token("write")
    monkeypatch.setattr(bot.api.items, "import_records", failure)
    monkeypatch.setattr(bot.api.stats, "project_stats", failure)
    caplog.set_level(logging.DEBUG)
    with world.client(token) as client:
        answers = [
            client.post(f"/projects/{PROJECT}/items", json={"items": [item(1, SECRET_TEXT)]}),
            client.get(f"/projects/{PROJECT}/stats"),
        ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert int(answer.headers["retry-after"]) >= 1
        error = answer.json()["error"]
        assert error["code"] == "unavailable" and "retry later" in error["message"]
        assert SECRET_TEXT not in answer.text
    logged = caplog.text
    expected = {
        pool_exhausted: "TimeoutError",
        dropped: "DisconnectionError",
        down: "OperationalError",
    }
    assert expected[failure] in logged
    # Not a bare "4111": the test server's port may contain it.
    assert SECRET_TEXT not in logged and "4111 1111" not in logged
    assert token not in logged and token[8:] not in logged
