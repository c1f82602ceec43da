"""A review stage through the real Bolt app and the Slack emulator: a reproducible 20%
sample of what the reviewers agreed on reaches a senior reviewer in their DM, who
accepts the consensus or fixes it (overruling, with provenance and a private note to the
overruled reviewers); only that senior can settle it; the leads are not involved."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from bot.exports.records import label_records
from bot.sandbox.harness import SlackSandbox
from bot.workflow.intake.routing import audit_draw
from bot.workflow.quality_report import load_project_quality
from storage.models import Escalation, Event, Item, Label
from tests.factories import (
    LEADS,
    REVIEWERS,
    apply,
    assert_slack_accepted_everything,
    conversation,
    import_file,
    kind_config,
    shown,
    write_items,
)

SENIOR, SECOND, AUDITOR = "U05SENIOR", "U06SENIOR", "U07AUDIT"
STAGES = [
    {"name": "annotate", "who": "reviewers", "overlap": 2},
    {
        "name": "review",
        "who": "senior_reviewers",
        "when": {"sample": 0.2},
        "action": "accept_or_fix",
    },
    {"name": "sign_off", "who": "leads", "when": "disagreement"},
]


@pytest.fixture
def sandbox(database_url: str, clock) -> Iterator[SlackSandbox]:  # type: ignore[no-untyped-def]
    with SlackSandbox(
        database_url,
        users=[*REVIEWERS, *LEADS, SENIOR, SECOND, AUDITOR],
        channels=["C0ESCALATE"],
        clock=clock,
    ) as running:
        yield running


def items(count: int) -> list[dict]:
    return [
        {
            "id": f"s-{n}",
            "conversation": conversation(f"Question number {n}"),
            "prediction": {"label": "billing", "confidence": 0.5, "model": "intent-v3"},
        }
        for n in range(count)
    ]


def answered_unanimously(sandbox, tmp_path, count: int, **config) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every item answered "billing" by its two reviewers; the senior's review DMs."""
    config.setdefault("senior_reviewers", [SENIOR])
    project = kind_config(
        "support-intent",
        auditors=[AUDITOR],
        stages=STAGES,
        escalation_channel="C0ESCALATE",
        **config,
    )
    apply(sandbox.ctx.engine, project)
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items(count)))
    sandbox.settle()
    for user in REVIEWERS:
        for message in list(sandbox.dm(user)):
            sandbox.sender.click(user, message, text="Confirm: billing")
    sandbox.settle()
    return sandbox.dm(SENIOR)


def labels(sandbox) -> dict[str, Label]:  # type: ignore[no-untyped-def]
    with Session(sandbox.ctx.engine) as session:
        rows = session.exec(select(Label, Item).where(Label.item_id == Item.id)).all()
        return {item.external_id: label for label, item in rows}


def test_a_20_percent_sample_reaches_the_senior_and_the_rest_signs_off(sandbox, tmp_path):
    reviews = answered_unanimously(sandbox, tmp_path, 30)
    sampled = {
        f"s-{n}" for n in range(30) if audit_draw("support-intent", f"s-{n}", "stage:review") < 0.2
    }
    assert 0 < len(sampled) < 30
    assert len(reviews) == len(sampled)
    assert {m for m in sampled if any(f"`{m}`" in shown(r) for r in reviews)} == sampled
    review = reviews[0]
    assert "Review what the reviewers agreed on" in shown(review)
    assert "Reviewers' consensus: *billing*" in shown(review)
    texts = [
        e["text"]["text"] for b in review["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert texts == ["Accept: billing", "Fix…"]
    signed = labels(sandbox)
    assert set(signed) == {f"s-{n}" for n in range(30)} - sampled  # the sample waits
    with Session(sandbox.ctx.engine) as session:
        waiting = session.exec(select(Item).where(Item.external_id.in_(sampled))).all()
        requested = session.exec(select(Event).where(Event.kind == "review_requested")).all()
    assert {i.status for i in waiting} == {"answered"}
    assert {e.data["reason"] for e in requested} == {"review sample (rate 20%)"}
    assert sandbox.channel_messages("C0ESCALATE") == []  # nothing for the leads
    assert_slack_accepted_everything(sandbox)


def test_the_seniors_fix_overrules_with_provenance_and_private_notes(sandbox, tmp_path):
    accepted, fixed = answered_unanimously(sandbox, tmp_path, 30)[:2]
    untouched = copy.deepcopy(fixed)
    for user in (AUDITOR, LEADS[0], REVIEWERS[0]):  # none of them is this review's senior
        sandbox.sender.click(user, untouched, text="Accept: billing")
        sandbox.sender.click(user, untouched, text="Fix…")
    sandbox.settle()
    assert sandbox.emulator.views_opened() == []
    refusals = [
        n["text"] for u in (AUDITOR, LEADS[0], REVIEWERS[0]) for n in sandbox.emulator.ephemerals(u)
    ]
    assert len(refusals) == 6 and all("only they can accept or fix it" in r for r in refusals)

    sandbox.sender.click(SENIOR, accepted, text="Accept: billing")
    sandbox.sender.click(SENIOR, fixed, text="Fix…")
    (view,) = sandbox.emulator.views_opened()
    assert view["title"]["text"] == "Fix"
    done = sandbox.sender.submit_view(
        SENIOR,
        view,
        {"decision": {"value": "account"}, "rationale": {"value": "It is a login loop"}},
    )
    assert done.status == 200 and not done.body
    sandbox.settle()

    with Session(sandbox.ctx.engine) as session:
        reviews = session.exec(select(Escalation).order_by(Escalation.id)).all()
        by_item = {session.get(Item, r.item_id).external_id: r for r in reviews}
    first = next(k for k, r in by_item.items() if r.resolved_value == "billing")
    second = next(k for k, r in by_item.items() if r.resolved_value == "account")
    signed = labels(sandbox)
    assert (signed[first].value, signed[first].method, signed[first].signed_off_by) == (
        "billing",
        "consensus",
        SENIOR,
    )
    assert (signed[second].value, signed[second].method, signed[second].signed_off_by) == (
        "account",
        "review",
        SENIOR,
    )
    with Session(sandbox.ctx.engine) as session:
        reviewed = session.exec(select(Event).where(Event.kind == "reviewed")).all()
        signed_off = session.exec(
            select(Event).where(Event.kind == "signed_off", Event.actor == SENIOR)
        ).all()
    assert sorted(e.data["action"] for e in reviewed) == ["accepted", "fixed"]
    assert {e.data["stage"] for e in reviewed} == {"review"}
    assert sorted(e.data["review"]["action"] for e in signed_off) == ["accepted", "fixed"]
    assert all(e.data["review"]["reviewer"] == SENIOR for e in signed_off)

    with Session(sandbox.ctx.engine) as session:
        label = signed[second]
        [record] = label_records(session, label.project_id, [label.id])
    provenance = record["provenance"]
    assert provenance["escalation"]["stage"] == "review"
    assert provenance["escalation"]["reviewer"] == SENIOR
    assert provenance["escalation"]["rationale"] == "It is a login loop"
    assert provenance["sign_off"]["method"] == "review"

    # The reviewers of the fixed item hear of it privately, with the senior's rationale.
    notes = [
        m
        for u in REVIEWERS
        for m in sandbox.dm(u)
        if "A senior reviewer decided an item you reviewed" in m.get("text", "")
    ]
    assert len(notes) == 2
    assert all("It is a login loop" in json.dumps(n["blocks"]) for n in notes)
    assert "Reviewed by <@U05SENIOR>*: *account*" in json.dumps(
        sandbox.emulator.message(fixed["channel"], fixed["ts"])["blocks"]
    )
    assert sandbox.channel_messages("C0ESCALATE") == []
    # The reviewer metrics count the overrule in the review stage, apart from the leads'.
    quality = load_project_quality(sandbox.ctx.engine, "support-intent")
    overruled = [(s.review_overruled, s.review_decided, s.overturned) for s in quality.reviewers]
    assert sorted(overruled, reverse=True)[:2] == [(1, 1, 0), (1, 1, 0)]
    assert sum(o for o, _, _ in overruled) == 2
    assert_slack_accepted_everything(sandbox)


def test_low_agreement_goes_to_review_and_a_disagreement_to_the_leads(sandbox, tmp_path):
    stages = copy.deepcopy(STAGES)
    stages[0]["overlap"] = 3
    stages[1]["when"] = {"or": ["low_agreement"]}
    project = kind_config(
        "support-intent",
        senior_reviewers=[SENIOR],
        stages=stages,
        agreement=0.6,
        escalation_channel="C0ESCALATE",
    )
    apply(sandbox.ctx.engine, project)
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items(2)))
    sandbox.settle()
    answers = {"s-0": ["billing", "billing", "bug"], "s-1": ["billing", "bug", "account"]}
    for external_id, values in answers.items():
        given = [
            (user, m)
            for user in REVIEWERS
            for m in sandbox.dm(user)
            if f"Question number {external_id[-1]}" in shown(m)
        ]
        for (user, message), value in zip(given, values, strict=True):
            sandbox.sender.click(
                user, message, text="Confirm: billing" if value == "billing" else value
            )
    sandbox.settle()
    with Session(sandbox.ctx.engine) as session:
        stages_of = {
            session.get(Item, e.item_id).external_id: e.stage
            for e in session.exec(select(Escalation))
        }
    assert stages_of == {"s-0": "review", "s-1": "sign_off"}
    [lead_message] = [m for m in sandbox.channel_messages("C0ESCALATE") if not m.get("thread_ts")]
    assert "s-1" in shown(lead_message)
    [review] = sandbox.dm(SENIOR)
    assert "agreement 0.67 &lt; 1.00" in shown(review) or "agreement 0.67 < 1.00" in shown(review)


def test_a_paused_seniors_reviews_go_to_another_senior_or_else_to_the_leads(sandbox, tmp_path):
    reviews = answered_unanimously(sandbox, tmp_path, 30)
    assert reviews
    assert sandbox.sender.slash_command(SENIOR, "pause").status == 200
    sandbox.settle()
    with Session(sandbox.ctx.engine) as session:
        moved = session.exec(select(Escalation)).all()
        events = session.exec(select(Event).where(Event.kind == "escalated")).all()
    # The only senior paused: every review went to the leads, with the reason.
    assert {(e.stage, e.assignee) for e in moved} == {("sign_off", None)}
    assert len(events) == len(reviews)
    assert all("its senior reviewer paused" in e.reason for e in moved)
    posts = [m for m in sandbox.channel_messages("C0ESCALATE") if not m.get("thread_ts")]
    assert len(posts) == len(reviews)
    # The senior's old DM no longer settles anything.
    sandbox.sender.click(SENIOR, reviews[0], text="Accept: billing")
    sandbox.settle()
    assert labels(sandbox).keys().isdisjoint({session_item(sandbox, e.item_id) for e in moved})
    assert_slack_accepted_everything(sandbox)


def session_item(sandbox, item_id: int) -> str:  # type: ignore[no-untyped-def]
    with Session(sandbox.ctx.engine) as session:
        found = session.get(Item, item_id)
        assert found is not None
        return found.external_id


def test_a_paused_seniors_reviews_go_to_the_other_senior(sandbox, tmp_path):
    answered_unanimously(sandbox, tmp_path, 30, senior_reviewers=[SENIOR, SECOND])
    with Session(sandbox.ctx.engine) as session:
        before = {e.id: e.assignee for e in session.exec(select(Escalation))}
    mine = [i for i, who in before.items() if who == SENIOR]
    assert mine and len(mine) < len(before)  # the reviews were shared by load
    sent_to_second = len(sandbox.dm(SECOND))
    assert sandbox.sender.slash_command(SENIOR, "pause").status == 200
    sandbox.settle()
    with Session(sandbox.ctx.engine) as session:
        after = {e.id: (e.stage, e.assignee) for e in session.exec(select(Escalation))}
        moved = session.exec(select(Event).where(Event.kind == "review_reassigned")).all()
    assert set(after.values()) == {("review", SECOND)}
    assert sorted(e.data["escalation_id"] for e in moved) == sorted(mine)
    assert len(sandbox.dm(SECOND)) == sent_to_second + len(mine)
    assert sandbox.channel_messages("C0ESCALATE") == []
    sandbox.sender.click(SECOND, sandbox.dm(SECOND)[-1], text="Accept: billing")
    sandbox.settle()
    with Session(sandbox.ctx.engine) as session:
        accepted = session.exec(select(Escalation).where(Escalation.status == "resolved")).all()
    assert [e.resolved_by for e in accepted] == [SECOND]
    assert_slack_accepted_everything(sandbox)
