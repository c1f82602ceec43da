"""The client against the real server: the Starlette app of `quorum serve` over loopback
HTTP, on SQLite and PostgreSQL, its items sent to the Slack emulator and answered there.
Submit and resubmit, an item's status and label, waiting for a label, the labels feed over
several pages and resumed from its cursor, every refusal as a QuorumError with the
server's code and fields, and a 429 waited out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.runtime.clock import Clock
from bot.sandbox.harness import SlackSandbox
from quorum_client import Client, ItemFailedError, LabelTimeoutError, QuorumError
from tests.factories import (
    LEADS,
    REVIEWERS,
    api_token,
    apply,
    conversation,
    label_config,
    press,
    revoke_api_tokens,
)

PROJECT = "support-intent"


def prediction(item_id: str, confidence: float, label: str = "billing") -> dict:
    return {
        "id": item_id,
        "conversation": conversation(f"question {item_id}"),
        "prediction": {"label": label, "confidence": confidence, "model": "intent-v3"},
    }


def confident(count: int, prefix: str = "a") -> list[dict]:
    """Items the model is sure of: auto-accepted, so signed off as soon as dispatched."""
    return [prediction(f"{prefix}-{n}", 0.95) for n in range(count)]


@dataclass
class Served:
    """The sandbox: the real Bolt app and the API served over loopback HTTP as `quorum
    serve` serves them, the emulator, and the workflow run on demand (`settle`)."""

    sandbox: SlackSandbox

    @property
    def url(self) -> str:
        assert self.sandbox.runtime is not None and self.sandbox.runtime.http is not None
        return self.sandbox.runtime.http.url

    @property
    def engine(self) -> Engine:
        return self.sandbox.ctx.engine

    def settle(self) -> None:
        self.sandbox.settle()

    def stop(self) -> None:
        self.sandbox.stop()


def serve_api(database_url: str, clock: Clock, **settings: Any) -> Served:
    sandbox = SlackSandbox(
        database_url,
        users=REVIEWERS + LEADS,
        channels=["C0ESCALATE"],
        clock=clock,
        settings_overrides=settings,
    ).start()
    apply(sandbox.ctx.engine, label_config())
    return Served(sandbox)


@pytest.fixture
def served(database_url: str, clock) -> Iterator[Served]:
    running = serve_api(database_url, clock)
    yield running
    running.stop()


@pytest.fixture
def quorum(served: Served) -> Iterator[Client]:
    with Client(served.url, api_token(served.engine)) as client:
        yield client


def test_submit_is_all_new_then_unchanged_and_items_show_their_state(served, quorum):
    assert [p["name"] for p in quorum.projects()] == [PROJECT]
    items = [prediction("t-1", 0.55), prediction("t-2", 0.95)]
    first = quorum.submit(PROJECT, items)
    assert (first.created, first.unchanged, first.batches) == (2, 0, 1)
    again = quorum.submit(PROJECT, items)
    assert (again.created, again.unchanged) == (0, 2)

    assert quorum.item(PROJECT, "t-1")["status"] == "queued"
    served.settle()
    in_review = quorum.item(PROJECT, "t-1")
    assert in_review["status"] == "in_review" and in_review.get("label") is None
    accepted = quorum.item(PROJECT, "t-2")
    assert accepted["status"] == "auto_accepted"
    assert accepted["label"]["id"] == "t-2" and accepted["label"]["value"] == "billing"
    assert accepted["label"]["method"] == "auto"

    stats = quorum.stats(PROJECT)
    assert "in_review" in str(stats) and "auto_accepted" in str(stats)


def test_the_same_idempotency_key_returns_the_first_answer(served, quorum):
    items = [prediction("t-1", 0.55)]
    assert quorum.submit(PROJECT, items, idempotency_key="run-1").created == 1
    replayed = quorum.submit(PROJECT, items, idempotency_key="run-1")
    assert (replayed.created, replayed.unchanged) == (1, 0)  # the first answer, not a re-import
    assert quorum.submit(PROJECT, items).unchanged == 1


def test_more_than_1000_items_go_in_batches_all_stored(served, quorum):
    many = [prediction(f"b-{n}", 0.55) for n in range(1203)]
    result = quorum.submit(PROJECT, many, idempotency_key="bulk")
    assert (result.created, result.unchanged, result.batches) == (1203, 0, 2)
    assert quorum.item(PROJECT, "b-1202")["status"] == "queued"


def read_labels(
    quorum: Client, count: int, *, after: str | None = None, limit: int = 3
) -> tuple[list[str], str | None]:
    """Read the feed to its end and come back from its cursor until `count` labels came
    (on PostgreSQL a label is served once no older transaction can still commit before
    it, a moment after its own commit); the ids in order and the last cursor."""
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while len(seen) < count and time.monotonic() < deadline:
        feed = quorum.labels(PROJECT, after=after, limit=limit)
        seen += [label["id"] for label in feed]
        after = feed.cursor
        time.sleep(0.05)
    return seen, after


def test_the_labels_feed_reads_every_page_and_resumes_from_its_cursor(served, quorum):
    quorum.submit(PROJECT, confident(7))
    served.settle()
    first_run, saved = read_labels(quorum, 7)
    assert sorted(first_run) == sorted(f"a-{n}" for n in range(7))  # none missed or repeated
    assert saved
    assert [label["id"] for label in quorum.labels(PROJECT, after=saved)] == []

    quorum.submit(PROJECT, confident(4, prefix="b"))
    served.settle()
    resumed, later = read_labels(quorum, 4, after=saved)
    assert sorted(resumed) == [f"b-{n}" for n in range(4)]
    assert later != saved
    everything, _ = read_labels(quorum, 11, limit=1000)
    assert everything == first_run + resumed


def test_a_followed_feed_waits_for_labels_to_come(served, quorum):
    got: list[str] = []

    def consume() -> None:
        for label in quorum.labels(PROJECT, follow=True, poll_s=0.05, limit=2):
            got.append(label["id"])
            if len(got) == 5:
                return

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    time.sleep(0.3)
    assert got == []  # nothing signed off yet: it waits, it does not end
    for wave in range(5):
        quorum.submit(PROJECT, [prediction(f"w-{wave}", 0.95)])
        served.settle()
    consumer.join(timeout=20)
    assert sorted(got) == [f"w-{n}" for n in range(5)]


def test_wait_for_label_returns_once_reviewers_agree(served, quorum):
    quorum.submit(PROJECT, [prediction("t-1", 0.55)])
    served.settle()
    sandbox = served.sandbox
    reviewers = [user for user in REVIEWERS if sandbox.dm(user)]
    assert len(reviewers) == 3

    def reviewers_answer() -> None:
        time.sleep(0.3)
        for user in reviewers:
            press(sandbox, user, sandbox.latest_dm(user), "bug")
        sandbox.settle()

    answering = threading.Thread(target=reviewers_answer)
    answering.start()
    label = quorum.wait_for_label(PROJECT, "t-1", timeout=30, poll_s=0.1)
    answering.join()
    assert (label["id"], label["value"], label["method"]) == ("t-1", "bug", "consensus")
    assert label["provenance"]


def test_wait_for_label_times_out_naming_the_item_and_its_status(served, quorum):
    quorum.submit(PROJECT, [prediction("t-1", 0.55)])
    served.settle()
    started = time.monotonic()
    with pytest.raises(LabelTimeoutError) as raised:
        quorum.wait_for_label(PROJECT, "t-1", timeout=0.5, poll_s=0.1)
    assert 0.5 <= time.monotonic() - started < 5
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.last_status == "in_review"
    assert str(raised.value) == (
        "no label for item 't-1' of project 'support-intent' after 0.5 s (last status: in_review)"
    )


# Thirty long labels: a "Confirm" button predicting all of them would carry a value over
# Slack's 2,000 characters, so the item cannot be sent and becomes `failed`.
LONG_LABELS = [f"{n:02d} refund for a duplicate charge".ljust(90, ".") for n in range(30)]


def test_wait_for_label_raises_when_the_item_failed(served, quorum):
    apply(served.engine, label_config(multi_label=True, labels=LONG_LABELS))
    poison = {
        "id": "p-0",
        "conversation": conversation("charged twice"),
        "prediction": {"label": LONG_LABELS, "confidence": 0.1},
    }
    quorum.submit(PROJECT, [poison])
    served.settle()
    with pytest.raises(ItemFailedError) as raised:
        quorum.wait_for_label(PROJECT, "p-0", timeout=10, poll_s=0.1)
    error = raised.value
    assert isinstance(error, QuorumError) and error.code == "item_failed"
    assert error.item["status"] == "failed" and error.reason != "no reason given"
    assert "item 'p-0' of project 'support-intent' failed: " in str(error)


def test_refused_items_come_back_with_their_index_and_field_and_nothing_is_stored(served, quorum):
    items = [prediction("t-1", 0.55), {"id": "t-2"}, prediction("t-3", 0.55)]
    with pytest.raises(QuorumError) as raised:
        quorum.submit(PROJECT, items)
    error = raised.value
    assert error.status == 422
    assert [d["index"] for d in error.details] == [1]
    assert error.details[0]["field"]
    assert "items[1]" in str(error)
    with pytest.raises(QuorumError) as missing:
        quorum.item(PROJECT, "t-1")  # all or nothing: the valid ones were not stored either
    assert missing.value.status == 404


def test_changed_content_under_a_known_id_is_a_409(served, quorum):
    quorum.submit(PROJECT, [prediction("t-1", 0.55)])
    with pytest.raises(QuorumError) as raised:
        quorum.submit(PROJECT, [prediction("t-1", 0.55, label="bug")])
    assert raised.value.status == 409 and raised.value.details


def test_unknown_projects_revoked_and_read_tokens_are_refused(served, quorum):
    with pytest.raises(QuorumError) as unknown:
        quorum.stats("someone-elses-project")
    assert unknown.value.status == 404 and unknown.value.code

    engine = served.engine
    with Client(served.url, api_token(engine, scope="read")) as reader:
        assert reader.stats(PROJECT)
        with pytest.raises(QuorumError) as forbidden:
            reader.submit(PROJECT, [prediction("t-1", 0.55)])
    assert forbidden.value.status == 403

    revoke_api_tokens(engine)
    with pytest.raises(QuorumError) as revoked:
        quorum.projects()
    assert revoked.value.status == 401


def test_a_429_is_waited_out_and_the_call_succeeds(database_url, clock):
    running = serve_api(database_url, clock, quorum_api_rate=1.0, quorum_api_burst=2)
    try:
        token = api_token(running.engine)
        with Client(running.url, token, max_retries=0) as impatient:
            impatient.projects()
            impatient.projects()
            with pytest.raises(QuorumError) as raised:
                impatient.projects()
        assert raised.value.status == 429
        assert raised.value.retry_after is not None and raised.value.retry_after >= 1

        time.sleep(2.1)  # the bucket is full again
        started = time.monotonic()
        with Client(running.url, token) as patient:
            for _ in range(3):
                assert patient.projects()[0]["name"] == PROJECT
        assert time.monotonic() - started >= 0.9  # the third call waited its Retry-After
    finally:
        running.stop()
