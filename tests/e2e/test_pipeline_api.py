"""A model pipeline against a real `quorum serve` process: items pushed over HTTP with the
Python client, answered by reviewers through the Slack emulator, every `label.signed_off`
received on a local receiver and verified with the client's verify_webhook, and every
label read back by cursor, none missed or repeated across pages while new labels arrive.
A receiver that was down gets its webhooks later, once each; examples/pipeline.py runs
the whole loop by webhook and, killed and restarted, by polling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_requests import SlackRequestSender
from quorum_client import Client, verify_webhook
from storage.db import make_engine
from storage.models import WebhookAttempt, WebhookDelivery
from tests.factories import (
    LEAD,
    PROCESS_SECRET,
    REPO,
    STARTED,
    WebhookReceiver,
    add_webhook,
    api_token,
    apply,
    conversation,
    free_port,
    healthy,
    label_config,
    review_dms_sent,
    serve,
    wait_for,
    write_items,
)

PROJECT = "support-intent"
REVIEWERS = ["U0R1", "U0R2", "U0R3", "U0R4"]
PIPELINE = REPO / "examples" / "pipeline.py"


def prediction(item_id: str, confidence: float) -> dict:
    return {
        "id": item_id,
        "conversation": conversation(f"I was charged twice ({item_id})"),
        "prediction": {"label": "billing", "confidence": confidence, "model": "intent-v3"},
    }


@dataclass
class Running:
    """A `quorum serve` process with the label project, its emulator and an API token."""

    engine: Engine
    emulator: SlackEmulator
    url: str
    token: str
    process: subprocess.Popen

    def client(self) -> Client:
        return Client(self.url, self.token)

    def review_requests(self) -> list[tuple[str, dict]]:
        """Every review DM sent so far, with its reviewer."""
        found = []
        for user in REVIEWERS:
            channel = self.emulator.dm_channel(user)
            found += [(user, dict(m, channel=channel)) for m in self.emulator.messages(channel)]
        return found

    def confirm(self, requests: list[tuple[str, dict]]) -> None:
        """The reviewers confirm the model's label: each item signed off by consensus."""
        sender = SlackRequestSender(
            f"{self.url}/slack/events", PROCESS_SECRET, emulator=self.emulator
        )
        for user, message in requests:
            assert sender.click(user, message, text="Confirm: billing").status == 200


@contextmanager
def running_quorum(database_url: str, tmp_path: Path) -> Iterator[Running]:
    engine = make_engine(database_url)  # fresh on either backend (the database_url fixture)
    emulator = SlackEmulator(bot_token="xoxb-emulator-token").start()
    for user in [*REVIEWERS, LEAD]:
        emulator.add_user(user)
    emulator.add_channel("C0ESCALATE", "escalations")
    # At work all day: the process runs on the real clock.
    apply(engine, label_config(reviewers=REVIEWERS, timing={"work_hours": (0, 0)}))
    token = api_token(engine)
    # Slack's pacing sped up (the emulator does not mind); webhooks are retried on the
    # real clock: the first retry within 10 s of a failure.
    process = serve(database_url, emulator, tmp_path, QUORUM_PACING_SCALE="100")
    url = f"http://127.0.0.1:{cast(list[str], process.args)[-1]}"
    try:
        wait_for(lambda: healthy(url), what="quorum serve to answer /healthz")
        yield Running(engine, emulator, url, token, process)
    finally:
        process.terminate()
        process.wait(timeout=30)
        emulator.stop()
        engine.dispose()


def follow_labels(quorum: Running, count: int, seen: list[str]) -> None:
    """A consumer following the feed (a page of two at a time) until `count` labels."""
    with quorum.client() as client:
        for label in client.labels(PROJECT, follow=True, poll_s=0.05, limit=2):
            seen.append(label["id"])
            if len(seen) >= count:
                return


def poll_labels(quorum: Running, count: int, seen: list[str], deadline: float) -> None:
    """A consumer that reads the feed to its end, keeps the cursor, and comes back."""
    cursor = None
    with quorum.client() as client:
        while len(seen) < count and time.monotonic() < deadline:
            feed = client.labels(PROJECT, after=cursor, limit=3)
            seen += [label["id"] for label in feed]
            cursor = feed.cursor
            time.sleep(0.1)


def signed_off_events(receiver: WebhookReceiver) -> list[dict]:
    return [e for e in receiver.bodies() if e["type"] == "label.signed_off"]


def test_items_pushed_over_http_come_back_by_webhook_and_by_cursor(database_url, tmp_path):
    reviewed = [prediction(f"h-{n}", 0.5) for n in range(10)]
    confident = [prediction(f"a-{n}", 0.95) for n in range(4)]  # auto-accepted
    every_id = {item["id"] for item in reviewed + confident}
    receiver = WebhookReceiver().start()
    with running_quorum(database_url, tmp_path) as quorum:
        secret = add_webhook(quorum.engine, f"{receiver.url}/quorum")
        with quorum.client() as client:
            followed: list[str] = []
            polled: list[str] = []
            deadline = time.monotonic() + 90
            consumers = [
                threading.Thread(
                    target=follow_labels, args=(quorum, len(every_id), followed), daemon=True
                ),
                threading.Thread(
                    target=poll_labels, args=(quorum, len(every_id), polled, deadline), daemon=True
                ),
            ]
            for consumer in consumers:
                consumer.start()

            assert client.submit(PROJECT, reviewed[:5] + confident).created == 9
            assert client.submit(PROJECT, reviewed[5:], idempotency_key="second").created == 5
            wait_for(
                lambda: review_dms_sent(quorum.engine, len(reviewed) * 3),
                timeout_s=60,
                what="every review request sent",
            )
            requests = quorum.review_requests()
            assert len(requests) == len(reviewed) * 3
            # Answers come in three waves while both consumers read the feed.
            for wave in range(3):
                quorum.confirm(requests[wave::3])
                time.sleep(0.3)

            wait_for(
                lambda: len(signed_off_events(receiver)) >= len(every_id),
                timeout_s=60,
                what="a label.signed_off per item",
            )
            for consumer in consumers:
                consumer.join(timeout=max(1.0, deadline - time.monotonic()))

            label = client.wait_for_label(PROJECT, "h-3", timeout=10)
            assert (label["value"], label["method"]) == ("billing", "consensus")
            records = {i: client.item(PROJECT, i)["label"] for i in sorted(every_id)}
            order: list[str] = []  # the whole feed read again, from the start
            poll_labels(quorum, len(every_id), order, time.monotonic() + 20)
            time.sleep(0.5)  # no further webhook comes
    receiver.stop()

    # Both consumers saw every label once, in the feed's order.
    assert sorted(order) == sorted(every_id)
    assert followed == order and polled == order

    # One webhook per label, each signed with the printed secret and only that.
    events = signed_off_events(receiver)
    assert Counter(e["data"]["id"] for e in events) == Counter(every_id)
    for request in receiver.received:
        headers, body = request["headers"], request["body"]
        assert verify_webhook(secret, headers, body)
        assert not verify_webhook(secret.replace("whsec_", "whsec_x"), headers, body)
        assert {k.lower(): v for k, v in headers.items()}["quorum-webhook-id"] == (
            json.loads(body)["id"]
        )
    assert len({e["id"] for e in events}) == len(events)
    # The webhook's data is the label exactly as the API (and the labels export) has it.
    assert {e["data"]["id"]: e["data"] for e in events} == records


def delivered_events(receiver: WebhookReceiver) -> list[str]:
    return [e["id"] for e in signed_off_events(receiver)]


def failed_attempts(engine: Engine) -> int:
    with Session(engine) as session:
        attempts = session.exec(select(WebhookAttempt)).all()
    return sum(1 for a in attempts if a.status is None or a.status >= 300)


def events_in_order(engine: Engine) -> list[str]:
    """The event ids in the order Quorum emitted them (its deliveries' order)."""
    with Session(engine) as session:
        return list(
            session.exec(select(WebhookDelivery.event_id).order_by(col(WebhookDelivery.id)))
        )


def test_a_receiver_that_was_down_gets_its_webhooks_later_once_each(database_url, tmp_path):
    receiver = WebhookReceiver(port=free_port()).start()
    with running_quorum(database_url, tmp_path) as quorum, quorum.client() as client:
        secret = add_webhook(quorum.engine, f"{receiver.url}/quorum", events="label.signed_off")
        client.submit(PROJECT, [prediction(f"a-{n}", 0.95) for n in range(2)])
        wait_for(lambda: len(delivered_events(receiver)) == 2, what="the first two webhooks")

        receiver.stop()  # the receiver goes down; labels keep being signed off
        client.submit(PROJECT, [prediction(f"b-{n}", 0.95) for n in range(3)])
        wait_for(lambda: failed_attempts(quorum.engine) >= 1, what="a failed delivery attempt")
        assert len(delivered_events(receiver)) == 2

        receiver.start()  # back on the same port: the retries reach it
        wait_for(
            lambda: len(delivered_events(receiver)) >= 5,
            timeout_s=60,
            what="the webhooks held back while the receiver was down",
        )
        time.sleep(1.0)  # and nothing is sent twice afterwards
        emitted = events_in_order(quorum.engine)
    receiver.stop()

    events = signed_off_events(receiver)
    assert len(events) == 5 and len({e["id"] for e in events}) == 5
    assert [e["id"] for e in events] == emitted  # held back in order, then sent in order
    assert all(verify_webhook(secret, r["headers"], r["body"]) for r in receiver.received)


# -- examples/pipeline.py ----------------------------------------------------------------


def pipeline(quorum: Running, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "QUORUM_URL": quorum.url,
        "QUORUM_TOKEN": quorum.token,
        "PYTHONPATH": str(REPO),
        **env,
    }
    log = (tmp_path / f"pipeline-{time.monotonic_ns()}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(PIPELINE), "--predictions", str(tmp_path / "predictions.jsonl")]
        + ["--out", str(tmp_path / "training.jsonl"), *args],
        env=environment,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    STARTED.append(process)  # stopped by the e2e fixture if the test fails
    return process


def training_rows(tmp_path: Path) -> list[dict]:
    path = tmp_path / "training.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_predictions(tmp_path: Path) -> list[str]:
    """Six predictions, four the model is unsure of (those are sent); their ids."""
    unsure = [prediction(f"u-{n}", 0.4 + n / 10) for n in range(4)]
    sure = [prediction(f"s-{n}", 0.9) for n in range(2)]
    write_items(tmp_path / "predictions.jsonl", unsure + sure)
    return [item["id"] for item in unsure]


def requests_for(requests: list[tuple[str, dict]], item_ids: list[str]) -> list[tuple[str, dict]]:
    """The review requests of these items (their conversation names the id)."""
    return [
        (user, message)
        for user, message in requests
        if any(f"({item_id})" in json.dumps(message["blocks"]) for item_id in item_ids)
    ]


def test_the_example_pipeline_by_webhook(database_url, tmp_path):
    unsure = write_predictions(tmp_path)
    port = free_port()
    with running_quorum(database_url, tmp_path) as quorum:
        secret = add_webhook(
            quorum.engine, f"http://127.0.0.1:{port}/quorum", events="label.signed_off"
        )
        running = pipeline(
            quorum, tmp_path, "--listen", f"127.0.0.1:{port}", QUORUM_WEBHOOK_SECRET=secret
        )
        wait_for(
            lambda: review_dms_sent(quorum.engine, len(unsure) * 3),
            timeout_s=60,
            what="the pipeline's items sent to reviewers",
        )
        quorum.confirm(quorum.review_requests())
        assert running.wait(timeout=60) == 0  # it stops once every sent item is labelled
    rows = training_rows(tmp_path)
    assert sorted(row["id"] for row in rows) == unsure
    for row in rows:
        assert row["label"] == "billing" and row["method"] == "consensus"
        assert row["conversation"][0]["content"].startswith("I was charged twice")
        assert row["model_prediction"]["model"] == "intent-v3"


def test_the_example_pipeline_by_polling_killed_and_restarted(database_url, tmp_path):
    unsure = write_predictions(tmp_path)
    with running_quorum(database_url, tmp_path) as quorum:
        first = pipeline(quorum, tmp_path, "--poll", "--poll-s", "0.1")
        wait_for(
            lambda: review_dms_sent(quorum.engine, len(unsure) * 3),
            timeout_s=60,
            what="the pipeline's items sent to reviewers",
        )
        requests = quorum.review_requests()
        quorum.confirm(requests_for(requests, unsure[:2]))
        wait_for(lambda: len(training_rows(tmp_path)) == 2, timeout_s=30, what="two labels")
        first.kill()  # no goodbye: what it wrote and the cursor it kept are all there is
        first.wait(timeout=10)
        quorum.confirm(requests_for(requests, unsure[2:]))

        second = pipeline(quorum, tmp_path, "--poll", "--poll-s", "0.1")
        assert second.wait(timeout=60) == 0
    rows = training_rows(tmp_path)
    assert sorted(row["id"] for row in rows) == unsure  # every label once
    assert (tmp_path / "training.cursor").read_text()


def test_the_example_pipeline_explains_itself():
    shown = subprocess.run(
        [sys.executable, str(PIPELINE), "--help"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--url", "--token", "--project", "--predictions", "--below", "--out"):
        assert option in shown
    assert "--listen" in shown and "--poll" in shown and "--secret" in shown
    missing = subprocess.run(
        [sys.executable, str(PIPELINE), "--poll"],
        env={
            k: v for k, v in {**os.environ, "PYTHONPATH": str(REPO)}.items() if k != "QUORUM_TOKEN"
        },
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "no token" in missing.stderr
