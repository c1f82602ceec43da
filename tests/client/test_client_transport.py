"""The client's HTTP behaviour where a proxy, a restart or a slow network is involved,
against a scripted server: 429s wait their Retry-After, lost connections and 502/503/504
are retried only when repeating cannot import twice, errors that are not Quorum's
envelope still read well, and the token never shows."""

from __future__ import annotations

import pickle
import time
from email.utils import formatdate
from typing import Any

import pytest

from quorum_client import Client, QuorumError
from quorum_client.sending import retry_after
from tests.client.conftest import DROP, Answer, ScriptedServer
from tests.factories import free_port

TOKEN = "qrm_secret-token-value-0123456789abcdef"
PROJECTS = Answer(200, {"projects": [{"name": "support-intent", "kind": "label"}]})
CREATED = Answer(201, {"created": 1, "unchanged": 0})
ITEM = {"id": "t-1", "conversation": [{"role": "user", "content": "I was charged twice"}]}


def envelope(code: str, message: str, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def busy(retry: str = "1") -> Answer:
    return Answer(429, envelope("rate_limited", "too many requests"), {"Retry-After": retry})


def client(server: ScriptedServer, **options: Any) -> Client:
    return Client(server.url, TOKEN, **options)


def test_requests_carry_the_bearer_token_under_the_api_root(scripted):
    scripted.answer(PROJECTS)
    with Client(f"{scripted.url}/api/v1/", TOKEN) as quorum:
        assert quorum.projects() == [{"name": "support-intent", "kind": "label"}]
        assert TOKEN not in repr(quorum)
    (request,) = scripted.seen
    assert request.path == "/api/v1/projects"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("quorum-client/")


def test_names_and_ids_are_one_path_segment_whatever_they_hold(scripted):
    scripted.answer(Answer(200, {"id": "a/b c?#%", "status": "queued"}))
    with client(scripted) as quorum:
        quorum.item("my project", "a/b c?#%")
    assert scripted.seen[0].path == "/api/v1/projects/my%20project/items/a%2Fb%20c%3F%23%25"


def test_a_429_waits_its_retry_after_and_is_sent_again(scripted):
    scripted.answer(busy("1"), CREATED)
    started = time.monotonic()
    with client(scripted) as quorum:
        result = quorum.submit("support-intent", [ITEM])  # a POST without a key, too
    assert time.monotonic() - started >= 0.95
    assert (result.created, result.unchanged) == (1, 0)
    assert len(scripted.seen) == 2 and scripted.seen[0].body == scripted.seen[1].body


def test_429s_past_the_retries_are_raised_with_their_retry_after(scripted):
    scripted.answer(busy("0"))
    with client(scripted, max_retries=2) as quorum, pytest.raises(QuorumError) as raised:
        quorum.stats("support-intent")
    error = raised.value
    assert (error.status, error.code, error.retry_after) == (429, "rate_limited", 0.0)
    assert len(scripted.seen) == 3


def test_a_retry_after_longer_than_the_client_waits_is_raised_at_once(scripted):
    scripted.answer(busy("3600"), PROJECTS)
    with client(scripted, max_retry_wait_s=30) as quorum, pytest.raises(QuorumError) as raised:
        quorum.projects()
    assert raised.value.status == 429 and raised.value.retry_after == 3600
    assert len(scripted.seen) == 1


def test_retry_after_as_seconds_or_as_an_http_date():
    assert retry_after("7") == 7.0
    assert retry_after(None) is None and retry_after("soon") is None
    in_a_minute = retry_after(formatdate(time.time() + 60, usegmt=True))
    assert in_a_minute is not None and 55 <= in_a_minute <= 60
    assert retry_after(formatdate(time.time() - 60, usegmt=True)) == 0.0


def test_a_get_is_retried_through_a_restarting_proxy(scripted):
    scripted.answer(Answer(502, "<html>Bad Gateway</html>"), DROP, PROJECTS)
    with client(scripted) as quorum:
        assert quorum.projects()[0]["name"] == "support-intent"
    assert len(scripted.seen) == 3


def test_a_post_without_a_key_is_not_sent_twice_after_a_lost_answer(scripted):
    for failure in (DROP, Answer(503, "unavailable")):
        scripted.seen.clear()
        scripted.answer(failure, CREATED)
        with client(scripted) as quorum, pytest.raises(QuorumError) as raised:
            quorum.submit("support-intent", [ITEM])
        assert len(scripted.seen) == 1  # it may have been imported: not repeated
        assert raised.value.status in (0, 503)


def test_a_post_with_an_idempotency_key_is_retried_with_the_same_key(scripted):
    scripted.answer(DROP, Answer(503, "unavailable"), CREATED)
    with client(scripted) as quorum:
        result = quorum.submit("support-intent", [ITEM], idempotency_key="batch-7")
    assert result.created == 1
    assert [r.headers["Idempotency-Key"] for r in scripted.seen] == ["batch-7"] * 3
    assert len({r.body for r in scripted.seen}) == 1


def test_an_unreachable_server_is_a_quorum_error_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with Client(url, TOKEN, max_retries=1) as quorum, pytest.raises(QuorumError) as raised:
        quorum.item("support-intent", "t-1")
    error = raised.value
    assert (error.status, error.code) == (0, "connection_error")
    assert f"GET {url}/api/v1/projects/support-intent/items/t-1 failed after 2 attempts" in str(
        error
    )
    assert TOKEN not in str(error)


def test_the_error_envelope_becomes_the_error_fields(scripted):
    details = [
        {"index": 0, "field": "conversation", "message": "required"},
        {"index": 2, "field": "prediction.confidence", "message": "must be between 0 and 1"},
    ]
    scripted.answer(Answer(422, envelope("invalid_items", "2 items are invalid", details)))
    with client(scripted) as quorum, pytest.raises(QuorumError) as raised:
        quorum.submit("support-intent", [ITEM, ITEM, ITEM])
    error = raised.value
    assert (error.status, error.code, error.message) == (
        422,
        "invalid_items",
        "2 items are invalid",
    )
    assert error.details == details
    assert str(error) == (
        "422 invalid_items: 2 items are invalid; items[0].conversation: required; "
        "items[2].prediction.confidence: must be between 0 and 1"
    )
    assert pickle.loads(pickle.dumps(error)).details == details


def test_an_error_that_is_not_the_envelope_still_says_what_came(scripted):
    scripted.answer(
        Answer(404, "<html><body>\n  Not Found  </body></html>", {"Content-Type": "text/html"})
    )
    with client(scripted) as quorum, pytest.raises(QuorumError) as raised:
        quorum.stats("support-intent")
    error = raised.value
    assert (error.status, error.code, error.details) == (404, "http_404", [])
    assert "GET" in error.message and "/api/v1/projects/support-intent/stats" in error.message
    assert "<html><body> Not Found </body></html>" in error.message


def test_a_success_that_is_not_json_is_an_error(scripted):
    scripted.answer(Answer(200, "ok", {"Content-Type": "text/plain"}))
    with client(scripted) as quorum, pytest.raises(QuorumError) as raised:
        quorum.projects()
    assert raised.value.code == "invalid_response" and "'ok'" in raised.value.message


def test_a_client_without_a_usable_url_or_token_says_so():
    with pytest.raises(ValueError, match="http:// or https://"):
        Client("localhost:3000", TOKEN)
    with pytest.raises(ValueError, match="token is empty"):
        Client("http://localhost:3000", " ")
