"""How the client splits and follows: submit sends at most 1,000 items per POST, each
batch with its own key derived from the caller's Idempotency-Key, and reports a later
batch's refusal in the caller's own item numbers; the labels feed follows `next` and
moves its cursor only when a page has been handed out."""

from __future__ import annotations

import pytest

from quorum_client import Client, QuorumError
from tests.client.conftest import Answer

TOKEN = "qrm_batch-test-token"


def items(count: int) -> list[dict]:
    return [
        {"id": f"t-{n}", "conversation": [{"role": "user", "content": "hi"}]} for n in range(count)
    ]


def test_a_long_list_goes_in_batches_of_1000_with_derived_keys(scripted):
    scripted.answer(
        Answer(201, {"created": 1000, "unchanged": 0}),
        Answer(201, {"created": 990, "unchanged": 10}),
        Answer(200, {"created": 0, "unchanged": 500}),
    )
    with Client(scripted.url, TOKEN) as quorum:
        result = quorum.submit("support-intent", iter(items(2500)), idempotency_key="run-42")
    assert (result.created, result.unchanged, result.batches) == (1990, 510, 3)
    sizes = [len(request.json()["items"]) for request in scripted.seen]
    assert sizes == [1000, 1000, 500]
    assert scripted.seen[1].json()["items"][0]["id"] == "t-1000"
    keys = [request.headers["Idempotency-Key"] for request in scripted.seen]
    assert keys == ["run-42", "run-42:1", "run-42:2"]


def test_without_a_key_no_batch_carries_one(scripted):
    scripted.answer(Answer(201, {"created": 3, "unchanged": 0}))
    with Client(scripted.url, TOKEN) as quorum:
        quorum.submit("support-intent", items(3))
    assert "Idempotency-Key" not in scripted.seen[0].headers


def test_a_later_batch_refused_names_the_callers_index_and_what_was_stored(scripted):
    refusal = {
        "error": {
            "code": "invalid_items",
            "message": "1 item is invalid",
            "details": [{"index": 5, "field": "conversation", "message": "required"}],
        }
    }
    scripted.answer(Answer(201, {"created": 1000, "unchanged": 0}), Answer(422, refusal))
    with Client(scripted.url, TOKEN) as quorum, pytest.raises(QuorumError) as raised:
        quorum.submit("support-intent", items(1500))
    error = raised.value
    assert error.details == [{"index": 1005, "field": "conversation", "message": "required"}]
    assert "batch 2, items 1000 to 1499" in error.message
    assert "the 1000 items before it were accepted: 1000 created, 0 unchanged" in error.message
    assert "items[1005].conversation: required" in str(error)


def test_a_later_batch_refusal_names_the_item_in_its_field_too(scripted):
    refusal = {
        "error": {
            "code": "invalid_items",
            "message": "1 problem(s) in the items; nothing was stored",
            "details": [
                {"index": 3, "field": "items.3.prediction.label", "message": "not a label"},
                {"field": "items", "message": "an id twice"},
            ],
        }
    }
    scripted.answer(Answer(201, {"created": 1000, "unchanged": 0}), Answer(422, refusal))
    with Client(scripted.url, TOKEN) as quorum, pytest.raises(QuorumError) as raised:
        quorum.submit("support-intent", items(1500))
    error = raised.value
    assert error.details == [
        {"index": 1003, "field": "items.1003.prediction.label", "message": "not a label"},
        {"field": "items", "message": "an id twice"},
    ]
    assert "items[1003].items.1003.prediction.label: not a label" in str(error)


def test_a_key_whose_later_batches_would_pass_255_characters_is_refused_first(scripted):
    scripted.answer(Answer(201, {"created": 1000, "unchanged": 0}))
    with Client(scripted.url, TOKEN) as quorum:
        with pytest.raises(ValueError, match="limit of 255: use a key of at most 253"):
            quorum.submit("support-intent", items(2500), idempotency_key="k" * 254)
        with pytest.raises(ValueError, match="at most 248"):
            quorum.submit("support-intent", iter(items(10)), idempotency_key="k" * 249)
        with pytest.raises(ValueError, match="empty"):
            quorum.submit("support-intent", items(10), idempotency_key="")
        assert scripted.seen == []
        quorum.submit("support-intent", items(2500), idempotency_key="k" * 253)
        quorum.submit("support-intent", items(1000), idempotency_key="k" * 255)  # one batch
    keys = [request.headers["Idempotency-Key"] for request in scripted.seen]
    assert [len(key) for key in keys] == [253, 255, 255, 255]
    assert keys[2] == "k" * 253 + ":2"


def test_items_that_json_cannot_carry_are_named_before_anything_is_sent(scripted):
    bad = items(3)
    bad[2]["prediction"] = {"label": "billing", "confidence": float("nan")}
    with Client(scripted.url, TOKEN) as quorum:
        with pytest.raises(ValueError, match=r"items\[2\] is not valid JSON"):
            quorum.submit("support-intent", bad)
        with pytest.raises(TypeError, match="not a single one"):
            quorum.submit("support-intent", bad[0])
        with pytest.raises(ValueError, match="batch_size"):
            quorum.submit("support-intent", bad, batch_size=1001)
    assert scripted.seen == []


def page(ids: list[str], following: str) -> Answer:
    return Answer(200, {"labels": [{"id": i, "value": "billing"} for i in ids], "next": following})


def test_the_feed_follows_next_and_moves_its_cursor_a_page_at_a_time(scripted):
    scripted.answer(page(["a", "b"], "c2"), page(["c"], "c3"), page([], "c3"))
    with Client(scripted.url, TOKEN) as quorum:
        feed = quorum.labels("support-intent", after="c1", limit=2)
        assert feed.cursor == "c1"
        assert next(feed)["id"] == "a"
        assert feed.cursor == "c1"  # resuming here would repeat b, never skip it
        assert next(feed)["id"] == "b"
        assert feed.cursor == "c2"
        assert [label["id"] for label in feed] == ["c"]
        assert feed.cursor == "c3"
    queries = [request.path.split("?", 1)[1] for request in scripted.seen]
    assert queries == ["after=c1&limit=2", "after=c2&limit=2", "after=c3&limit=2"]


def test_the_feed_from_the_start_and_a_page_that_repeats_its_cursor(scripted):
    scripted.answer(page(["a"], "c1"), page(["b"], "c1"))
    with Client(scripted.url, TOKEN) as quorum:
        feed = quorum.labels("support-intent")
        assert next(feed)["id"] == "a"
        with pytest.raises(QuorumError, match="without a new `next`"):
            next(feed)
    assert scripted.seen[0].path == "/api/v1/projects/support-intent/labels"


def test_a_followed_feed_polls_after_an_empty_page(scripted):
    scripted.answer(page([], "c0"), page([], "c0"), page(["a"], "c1"))
    with Client(scripted.url, TOKEN) as quorum:
        feed = quorum.labels("support-intent", follow=True, poll_s=0.01)
        assert next(feed)["id"] == "a"
    assert len(scripted.seen) == 3 and feed.cursor == "c1"
