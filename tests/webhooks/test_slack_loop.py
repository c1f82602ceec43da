"""The whole loop as `quorum serve` runs it: reviewers answer in (emulated) Slack, the
item is signed off, and the runtime's own webhook sender, woken by the commit, POSTs the
signed `label.signed_off` to a local receiver within moments; the receiver verifies it
with the client's helper."""

from __future__ import annotations

import json
import time

from bot.runtime.clock import SYSTEM_CLOCK
from bot.sandbox.harness import SlackSandbox
from quorum_client import verify_webhook
from tests.factories import LEADS, REVIEWERS, conversation, kind_config, press, start, wait_for

ITEM = {
    "id": "si-1",
    "conversation": conversation("I was charged twice for March"),
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
}


def test_answers_in_slack_reach_the_receiver_as_one_signed_event(
    database_url, tmp_path, receiver, add_webhook
):
    with SlackSandbox(
        database_url,
        users=REVIEWERS + LEADS,
        channels=["C0ESCALATE"],
        clock=SYSTEM_CLOCK,
        background=True,  # the runtime's loops: dispatch, Slack delivery, webhooks
    ) as sandbox:
        # The real clock: work hours off, or the DMs wait for 09:00 when this runs late.
        config = kind_config("support-intent")
        config = config.model_copy(
            update={"timing": config.timing.model_copy(update={"work_hours": (0, 0)})}
        )
        start(sandbox, tmp_path, config, [ITEM])
        # The runtime's own delivery thread may be the one posting the DMs: wait for them.
        reviewers = wait_for(
            lambda: (sent := [u for u in REVIEWERS if sandbox.dm(u)]) and len(sent) == 3 and sent,
            timeout_s=20,
            what="three review DMs",
        )
        added = add_webhook(f"{receiver.url}/quorum")
        for reviewer in reviewers:
            press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Confirm: billing")
        signed_off_at = time.monotonic()
        (request,) = wait_for(lambda: receiver.received, timeout_s=20, what="the webhook")
        latency = time.monotonic() - signed_off_at
        time.sleep(0.3)  # nothing else follows
        assert len(receiver.received) == 1

    assert verify_webhook(added.secret, request["headers"], request["body"])
    event = json.loads(request["body"])
    assert event["type"] == "label.signed_off"
    data = event["data"]
    assert (data["id"], data["value"], data["method"]) == ("si-1", "billing", "consensus")
    assert sorted(r["reviewer"] for r in data["provenance"]["responses"]) == sorted(reviewers)
    assert latency < 5  # woken by the commit, not waiting for a poll
