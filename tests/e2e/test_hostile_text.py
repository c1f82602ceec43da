"""A hostile item end to end pings nobody: an item whose external id and response ids are
`<!here>`, `<!channel>`, `<@U123>`, links and `&`, with a rationale and a flag note to
match, is reviewed, flagged, escalated, reminded, decided in the "Decide…" modal with a
hostile rationale, and reported in the digest and the reviewers' reminders, through the
real Bolt app and the Slack emulator. No chat.postMessage, chat.update,
chat.postEphemeral, views.* call or response_url body contains an unescaped mention,
ping or link in its text or blocks; only the bot's own mentions of real members and
links to its channels."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from bot.delivery.digest import send_digests
from bot.delivery.reminders import send_reminders
from bot.slack import ids
from bot.workflow.decision.escalation import remind_stale_escalations
from storage.models import Assignment, Escalation, Item
from tests.factories import (
    HOSTILE,
    LEAD,
    REVIEWERS,
    assert_slack_accepted_everything,
    import_file,
    kind_config,
    last_modal,
    press,
    slack_world,
    start,
    unsafe_text,
    write_items,
)

CHANNELS = ("C0ESCALATE", "C0DIGEST")
SENT = {
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "views.open",
    "views.push",
    "views.update",
    "views.publish",
}
ID_A, ID_B = "<!channel> a", "<@U123> & b"
ITEM = {
    "id": "<!here> item",
    "prompt": [{"role": "user", "content": "Reverse a list " + f"{HOSTILE}\n" * 100}],
    "responses": [
        {"id": ID_A, "content": f"Use items[::-1] {HOSTILE}", "model": "<https://evil.example|m>"},
        {"id": ID_B, "content": f"Call items.reverse() {HOSTILE}", "model": "<!everyone>"},
    ],
}
OPEN_ITEM = {**ITEM, "id": "<!everyone> <#C123> still open"}


@pytest.fixture
def world(database_url: str, clock) -> Iterator:
    with slack_world(database_url, clock) as sandbox:
        yield sandbox


def order_of(sandbox, user: str, external_id: str) -> list[str]:
    with Session(sandbox.ctx.engine) as session:
        item = session.exec(select(Item).where(Item.external_id == external_id)).one()
        assignment = session.exec(
            select(Assignment).where(Assignment.item_id == item.id, Assignment.reviewer_id == user)
        ).one()
        return assignment.presentation["order"]


def pick(sandbox, user: str, response_id: str) -> None:
    side = "A" if order_of(sandbox, user, ITEM["id"])[0] == response_id else "B"
    press(sandbox, user, sandbox.latest_dm(user), f"{side} is much better")


def sent_payloads(sandbox) -> list[tuple[str, dict]]:
    calls = [(c.method, c.args) for c in sandbox.emulator.calls if c.method in SENT]
    return calls + [("response_url", body) for body in sandbox.emulator.response_posts()]


def test_a_hostile_item_pings_nobody_from_import_to_digest(world, tmp_path):
    sandbox = world
    config = kind_config(
        "code-preference",
        agreement=0.9,
        escalation_channel="C0ESCALATE",
        digest_channel="C0DIGEST",
    )
    reviewers = start(sandbox, tmp_path, config, [ITEM])
    assert len(reviewers) == 3
    first, second, third = reviewers

    # Notes with hostile text before answering: a rationale and a flag.
    press(sandbox, first, sandbox.latest_dm(first), "Add rationale")
    note = {ids.RATIONALE_BLOCK: {ids.TEXT_INPUT: f"Prefer a {HOSTILE}"}}
    assert sandbox.sender.submit_view(first, last_modal(sandbox), note).status == 200
    press(sandbox, second, sandbox.latest_dm(second), "Flag")
    flag = {
        ids.FLAG_REASON_BLOCK: {ids.CHOICE_INPUT: "other"},
        ids.FLAG_NOTE_BLOCK: {ids.TEXT_INPUT: f"Odd ids {HOSTILE}"},
    }
    assert sandbox.sender.submit_view(second, last_modal(sandbox), flag).status == 200
    press(sandbox, third, sandbox.latest_dm(third), "Show full conversation")
    sandbox.settle()

    # Two prefer one response, one the other: agreement 0.67 < 0.9 goes to the leads.
    for user, response_id in ((first, ID_A), (second, ID_A), (third, ID_B)):
        sandbox.clock.advance(minutes=3)
        pick(sandbox, user, response_id)
    sandbox.settle()
    (post,) = [m for m in sandbox.channel_messages("C0ESCALATE") if not m.get("thread_ts")]
    assert "&lt;!here&gt; item" in post["text"]

    # A reminder in the escalation's thread, the Home tabs, a slash command with junk.
    sandbox.clock.advance(hours=25)
    assert remind_stale_escalations(sandbox.ctx) == 1
    for user in (LEAD, first):
        assert sandbox.sender.app_home_opened(user).status == 200
    assert sandbox.sender.slash_command(first, "<!here> next").status == 200
    sandbox.settle()

    # The lead decides for the minority in the modal, with a hostile rationale: the two
    # overruled reviewers get a DM naming the item and both responses.
    assert sandbox.sender.click(LEAD, post, text="Decide…").status == 200
    decided = sandbox.sender.submit_view(
        LEAD,
        last_modal(sandbox),
        {"decision": {"value": ID_B}, "rationale": {"value": f"B is right {HOSTILE}"}},
    )
    assert decided.status == 200 and not decided.body
    sandbox.settle()
    with Session(sandbox.ctx.engine) as session:
        assert session.exec(select(Escalation)).one().status == "resolved"
    overruled = [m for m in sandbox.dm(first) if "A lead decided" in m.get("text", "")]
    assert overruled and "&lt;@U123&gt; &amp; b" in overruled[0]["text"]

    # Another hostile item left open: reminders to its reviewers, then the digest.
    import_file(sandbox.ctx.engine, write_items(tmp_path / "open.jsonl", [OPEN_ITEM]), config.name)
    sandbox.settle()
    sandbox.clock.advance(hours=25)
    assert send_reminders(sandbox.ctx.engine, now=sandbox.clock.now()) == 3
    assert send_digests(sandbox.ctx.engine, now=sandbox.clock.now(), hour_utc=0) == 1
    sandbox.settle()
    (digest,) = sandbox.channel_messages("C0DIGEST")
    assert "&lt;!everyone&gt; &lt;#C123&gt; still open" in json.dumps(digest["blocks"])
    assert sandbox.sender.app_home_opened(LEAD).status == 200
    sandbox.settle()

    payloads = sent_payloads(sandbox)
    methods = {method for method, _ in payloads}
    assert {"chat.postMessage", "chat.update", "views.open", "views.publish"} <= methods
    problems = [
        (method, problem)
        for method, args in payloads
        for problem in unsafe_text(args, people=(*REVIEWERS, LEAD), channels=CHANNELS)
    ]
    assert problems == []
    # The hostile ids were shown, escaped, not dropped.
    everything = json.dumps([args for _, args in payloads])
    for shown in ("&lt;!here&gt; item", "&lt;!channel&gt; a", "&lt;@U123&gt; &amp; b"):
        assert shown in everything
    assert_slack_accepted_everything(sandbox)
