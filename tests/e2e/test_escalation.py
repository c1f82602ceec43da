"""Escalations through Slack: the leads' channel message, resolving by button and by modal,
refusals, double clicks, notes to overruled reviewers, reminders and the simulated lead."""

from __future__ import annotations

import json
import random

import pytest
from sqlmodel import Session, select

from bot.sandbox.leads import open_escalations, resolve_escalations
from bot.workflow.decision.escalation import refresh_escalation_message, remind_stale_escalations
from bot.workflow.decision.posterior import clear_cache
from storage.db import session_scope
from storage.models import Escalation, Event, Item, Label
from tests.factories import apply, conversation, import_file, label_config, write_items

REVIEWERS = ("U01ALICE", "U02BOB", "U03CARA", "U04DAN")
ITEM = {
    "id": "t-1",
    "conversation": conversation("I was charged twice <!channel> for <@U0ADMIN>"),
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
}


@pytest.fixture(autouse=True)
def _fresh_posterior_cache():
    clear_cache()
    yield
    clear_cache()


def escalate_split(sandbox, tmp_path, answers=("billing", "billing", "bug"), **config):
    """Three reviewers answer one item; returns {reviewer: answer} and the channel message."""
    config.setdefault("agreement", 0.8)
    apply(sandbox.ctx.engine, label_config(**config))
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [ITEM]))
    sandbox.settle()
    reviewers = [u for u in REVIEWERS if sandbox.dm(u)]
    given = dict(zip(reviewers, answers, strict=True))
    for user, answer in given.items():
        sandbox.clock.advance(minutes=4)
        text = "Confirm: billing" if answer == "billing" else answer
        sandbox.sender.click(user, sandbox.latest_dm(user), text=text)
    sandbox.settle()
    posts = [m for m in sandbox.channel_messages("C0ESCALATE") if not m.get("thread_ts")]
    return given, (posts[-1] if posts else None)


def buttons(message: dict) -> list[str]:
    return [
        e["text"]["text"]
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def current(sandbox, message: dict) -> dict:
    return dict(sandbox.emulator.message("C0ESCALATE", message["ts"]), channel="C0ESCALATE")


def state(sandbox) -> tuple:
    with Session(sandbox.ctx.engine) as session:
        escalation = session.exec(select(Escalation)).one()
        labels = [
            (label.value, label.method, label.signed_off_by)
            for label in session.exec(select(Label))
        ]
        return escalation.status, escalation.resolved_by, labels


def overruled_notes(sandbox, user: str) -> list[dict]:
    return [
        m for m in sandbox.dm(user) if "A lead decided an item you reviewed" in m.get("text", "")
    ]


def test_split_under_threshold_posts_answers_and_buttons_to_the_leads(sandbox, tmp_path):
    given, message = escalate_split(sandbox, tmp_path)
    assert message is not None, "no escalation message in the leads' channel"
    text = json.dumps(message["blocks"])
    for waited, (user, answer) in enumerate(given.items(), start=1):  # 4 minutes apart
        assert f"<@{user}> \\u2014 *{answer}* \\u00b7 {4 * waited} min" in text
    assert "Agreement *0.67* (2 of 3)" in text and "threshold 0.80" in text
    assert "Dawid-Skene posterior" in text
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text and "<@U0ADMIN>" not in text
    assert buttons(message) == ["Accept: billing", "Accept: bug", "Decide…"]
    with Session(sandbox.ctx.engine) as session:
        escalation = session.exec(select(Escalation)).one()
        assert (escalation.channel, escalation.message_ts) == ("C0ESCALATE", message["ts"])
    # Blind review: reviewers got nothing about each other's answers.
    for user in given:
        assert not overruled_notes(sandbox, user)


def test_lead_accepts_an_answer_with_one_click(sandbox, tmp_path):
    given, message = escalate_split(sandbox, tmp_path)
    assert sandbox.sender.click("U09LEAD", message, text="Accept: bug").status == 200
    sandbox.settle()
    assert state(sandbox) == ("resolved", "U09LEAD", [("bug", "lead", "U09LEAD")])
    updated = current(sandbox, message)
    assert buttons(updated) == []
    assert "Resolved by <@U09LEAD>*: *bug*" in json.dumps(updated["blocks"])
    with Session(sandbox.ctx.engine) as session:
        decided = session.exec(
            select(Event).where(Event.kind.in_(["resolved", "signed_off"])).order_by(Event.id)
        ).all()
    assert [(e.kind, e.actor) for e in decided] == [
        ("resolved", "U09LEAD"),
        ("signed_off", "U09LEAD"),
    ]
    assert decided[1].data["method"] == "lead"
    for user, answer in given.items():
        notes = overruled_notes(sandbox, user)
        if answer == "bug":
            assert notes == []
        else:
            (note,) = notes
            assert "You answered *billing*; <@U09LEAD> decided *bug*" in json.dumps(note["blocks"])


def test_lead_decides_in_the_modal_with_a_required_rationale(sandbox, tmp_path):
    given, message = escalate_split(sandbox, tmp_path)
    sandbox.sender.click("U09LEAD", message, text="Decide…")
    (view,) = sandbox.emulator.views_opened()
    assert view["callback_id"] == "quorum_decide"
    missing = sandbox.sender.submit_view(
        "U09LEAD", view, {"decision": {"value": "account"}, "rationale": {"value": "   "}}
    )
    assert missing.json()["response_action"] == "errors"
    assert "rationale" in missing.json()["errors"]
    assert state(sandbox)[0] == "open"
    done = sandbox.sender.submit_view(
        "U09LEAD",
        view,
        {"decision": {"value": "account"}, "rationale": {"value": "Login <b>loop</b> = account"}},
    )
    assert done.status == 200 and not done.body
    sandbox.settle()
    assert state(sandbox) == ("resolved", "U09LEAD", [("account", "lead", "U09LEAD")])
    for user in given:  # everyone answered differently from "account"
        (note,) = overruled_notes(sandbox, user)
        assert "Login &lt;b&gt;loop&lt;/b&gt; = account" in json.dumps(note["blocks"])


def test_someone_who_is_not_a_lead_is_refused_and_nothing_changes(sandbox, tmp_path):
    given, message = escalate_split(sandbox, tmp_path)
    reviewer = next(iter(given))
    for user in ("U99STRANGER", reviewer):
        assert sandbox.sender.click(user, message, text="Accept: billing").status == 200
        sandbox.sender.click(user, message, text="Decide…")
    sandbox.settle()
    assert state(sandbox) == ("open", None, [])
    assert sandbox.emulator.views_opened() == []
    assert buttons(current(sandbox, message)) == ["Accept: billing", "Accept: bug", "Decide…"]
    notices = sandbox.emulator.ephemerals()
    assert sorted({n["user"] for n in notices}) == sorted({"U99STRANGER", reviewer})
    assert all("Only the leads of *support-intent*" in n["text"] for n in notices)


def test_a_second_click_on_a_resolved_escalation_changes_nothing(sandbox, tmp_path):
    _, message = escalate_split(sandbox, tmp_path)
    sandbox.sender.click("U09LEAD", message, text="Accept: billing")
    sandbox.settle()
    before = state(sandbox)
    # A stale copy of the message (another lead's client) still shows the buttons.
    sandbox.sender.click("U09LEAD", message, text="Accept: bug")
    sandbox.sender.click("U09LEAD", message, text="Decide…")
    sandbox.settle()
    assert state(sandbox) == before == ("resolved", "U09LEAD", [("billing", "lead", "U09LEAD")])
    assert sandbox.emulator.views_opened() == []
    notices = [n["text"] for n in sandbox.emulator.ephemerals("U09LEAD")]
    assert len(notices) == 2
    assert all("already resolved by <@U09LEAD>: *billing*" in n for n in notices)


def test_overruled_reviewers_are_not_told_when_the_project_turns_it_off(sandbox, tmp_path):
    given, message = escalate_split(sandbox, tmp_path, sign_off={"notify_overruled": False})
    sandbox.sender.click("U09LEAD", message, text="Accept: bug")
    sandbox.settle()
    assert state(sandbox)[0] == "resolved"
    assert all(not overruled_notes(sandbox, user) for user in given)


def test_ai_summary_is_shown_marked_as_ai_written(sandbox, tmp_path):
    _, message = escalate_split(sandbox, tmp_path)
    now = sandbox.clock.now()
    with session_scope(sandbox.ctx.engine) as session:
        escalation = session.exec(select(Escalation)).one()
        escalation.summary = "Two say billing (double charge); one says bug <!here>."
        session.add(escalation)
        refresh_escalation_message(session, escalation, now)
    sandbox.settle()
    text = json.dumps(current(sandbox, message)["blocks"])
    assert "*AI summary* _(written by an AI model" in text
    assert "&lt;!here&gt;" in text and "<!here>" not in text
    assert buttons(current(sandbox, message))[-1] == "Decide…"


def test_unresolved_escalations_get_a_reminder_then_the_next_lead(sandbox, tmp_path):
    sandbox.emulator.add_user("U08LEAD2")
    _, message = escalate_split(
        sandbox, tmp_path, leads=["U09LEAD", "U08LEAD2"], timing={"escalation_reminder_hours": 24}
    )

    def replies():
        return [
            m["text"]
            for m in sandbox.channel_messages("C0ESCALATE")
            if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]
        ]

    sandbox.clock.advance(hours=23, minutes=59)
    assert remind_stale_escalations(sandbox.ctx) == 0
    sandbox.clock.advance(minutes=1)
    assert remind_stale_escalations(sandbox.ctx) == 1
    assert remind_stale_escalations(sandbox.ctx) == 0  # the same tick twice: one reminder
    sandbox.settle()
    (first,) = replies()
    assert first.startswith("<@U09LEAD> reminder") and "24 h" in first
    sandbox.clock.advance(hours=23)
    assert remind_stale_escalations(sandbox.ctx) == 0
    sandbox.clock.advance(hours=1)
    assert remind_stale_escalations(sandbox.ctx) == 1
    sandbox.settle()
    assert len(replies()) == 2 and replies()[1].startswith("<@U08LEAD2> could you take this one?")
    with Session(sandbox.ctx.engine) as session:
        events = session.exec(select(Event).where(Event.kind == "escalation_reminder")).all()
        assert [(e.data["reminder"], e.data["mentioned"]) for e in events] == [
            (1, "U09LEAD"),
            (2, "U08LEAD2"),
        ]
    # Once resolved, nobody is chased any more.
    sandbox.sender.click("U08LEAD2", message, text="Accept: billing")
    sandbox.clock.advance(hours=48)
    assert remind_stale_escalations(sandbox.ctx) == 0


def test_simulated_lead_settles_every_open_escalation(sandbox, tmp_path):
    apply(sandbox.ctx.engine, label_config(agreement=1.0))
    items = [dict(ITEM, id=f"t-{n}", conversation=conversation(f"Question {n}")) for n in range(4)]
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))
    sandbox.settle()
    rng = random.Random(3)
    for user in REVIEWERS:
        for message in sandbox.dm(user):
            if buttons(message):
                pick = rng.choice(["Confirm: billing", "bug"])
                sandbox.sender.click(user, message, text=pick)
    sandbox.settle()
    with Session(sandbox.ctx.engine) as session:
        escalated = len(session.exec(select(Item).where(Item.status == "escalated")).all())
    assert escalated == len(open_escalations(sandbox)) > 0
    assert (
        resolve_escalations(sandbox, "U09LEAD", rng=random.Random(1), decide_rate=0.5) == escalated
    )
    sandbox.settle()
    assert open_escalations(sandbox) == []
    with Session(sandbox.ctx.engine) as session:
        assert session.exec(select(Item).where(Item.status == "escalated")).all() == []
        methods = {label.method for label in session.exec(select(Label))}
    assert "lead" in methods
