"""The escalation flow without Slack, for every task kind: what the leads see, the
"Decide…" modal, a decision per kind, and Block Kit limits on long samples."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from bot.config.project import SignOff
from bot.slack.blockkit import validate_message_blocks, validate_view
from bot.workflow.decision import escalation as flow
from bot.workflow.decision.posterior import clear_cache
from storage.db import session_scope
from storage.models import Escalation, Label, OutboxMessage, Response
from tests.factories import (
    LEGAL,
    ORIGINAL,
    PAIR,
    apply,
    chat,
    correction,
    example_config,
    label_config,
    preference,
    seed_item,
)

ALICE, BOB, CARA = "U01ALICE", "U02BOB", "U03CARA"


@pytest.fixture(autouse=True)
def _fresh_posterior_cache():
    clear_cache()
    yield
    clear_cache()


def escalation_message(engine) -> tuple[int, dict]:
    with Session(engine) as session:
        escalation = session.exec(select(Escalation)).one()
        message = flow.build_escalation_message(session, escalation)
    assert validate_message_blocks(message.blocks) == []
    assert len(message.blocks) <= 50
    return escalation.id, {"text": message.text, "blocks": message.blocks}


def modal(engine, lead: str = "U09LEAD") -> dict:
    from bot.runtime.context import QuorumContext
    from tests.factories import make_settings

    ctx = QuorumContext(engine=engine, settings=make_settings(str(engine.url)))
    with Session(engine) as session:
        escalation_id = session.exec(select(Escalation)).one().id
    opened = flow.decision_modal(ctx, escalation_id=escalation_id, lead=lead)
    assert opened.view is not None, opened.refusal
    assert validate_view(opened.view) == []
    return opened.view


def resolve(engine, clock, state_values: dict, lead: str = "U09LEAD"):
    from bot.runtime.clock import FrozenClock
    from bot.runtime.context import QuorumContext
    from tests.factories import make_settings

    ctx = QuorumContext(
        engine=engine,
        settings=make_settings(str(engine.url)),
        clock=FrozenClock(clock.now()),
    )
    with Session(engine) as session:
        escalation_id = session.exec(select(Escalation)).one().id
    return flow.submit_decision(
        ctx, escalation_id=escalation_id, lead=lead, state_values=state_values
    )


def label_value(engine):
    with Session(engine) as session:
        label = session.exec(select(Label)).one()
        return label.value, label.method, label.signed_off_by


def test_message_shows_rationale_time_and_flags_escaped(engine, clock):
    apply(engine, label_config(agreement=0.9))
    item_id, _ = seed_item(
        engine,
        clock,
        "support-intent",
        external_id="t-1",
        content=chat("<!everyone> help"),
        answers=[(ALICE, "billing", 45), (BOB, "bug", 200), (CARA, "billing", 5400)],
    )
    with session_scope(engine) as session:
        bob = session.exec(select(Response).where(Response.reviewer_id == BOB)).one()
        bob.rationale = "Refund *failed* <@U0BOSS> twice"
        bob.flags = [{"reason": "personal_data", "note": None, "at": clock.now().isoformat()}]
        session.add(bob)
    _, message = escalation_message(engine)
    text = json.dumps(message["blocks"])
    assert "<!everyone>" not in text and "&lt;!everyone&gt; help" in text
    assert "<@U02BOB> \\u2014 *bug* \\u00b7 3 min \\u00b7 flagged: personal_data" in text
    assert "Refund *failed* &lt;@U0BOSS&gt; twice" in text
    assert "45 s" in text and "1.5 h" in text


def test_rating_escalation_is_decided_per_criterion(engine, clock):
    apply(engine, example_config("triage-rating", sign_off=SignOff()))
    seed_item(
        engine,
        clock,
        "triage-rating",
        external_id="r-1",
        content=chat(),
        answers=[
            (ALICE, {"helpfulness": 4, "correctness": 5, "safety": 1}),
            (BOB, {"helpfulness": 4, "correctness": 5, "safety": 3}),
            (CARA, {"helpfulness": 4, "correctness": 5, "safety": 5}),
        ],
    )
    _, message = escalation_message(engine)
    text = json.dumps(message["blocks"])
    assert "helpfulness 1.00, correctness 1.00, safety 0.33" in text
    view = modal(engine)
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        "decision:helpfulness",
        "decision:correctness",
        "decision:safety",
        "rationale",
    ]
    missing = resolve(
        engine,
        clock,
        {
            "decision:safety": {"value": {"type": "static_select", "selected_option": None}},
            "rationale": {"value": {"type": "plain_text_input", "value": "ok"}},
        },
    )
    assert "decision:helpfulness" in missing.errors and "decision:safety" in missing.errors
    choose = {"type": "static_select"}
    done = resolve(
        engine,
        clock,
        {
            "decision:helpfulness": {"value": {**choose, "selected_option": {"value": "4"}}},
            "decision:correctness": {"value": {**choose, "selected_option": {"value": "5"}}},
            "decision:safety": {"value": {**choose, "selected_option": {"value": "2"}}},
            "rationale": {"value": {"type": "plain_text_input", "value": "Missed the red flag."}},
        },
    )
    assert done.outcome == "resolved"
    assert label_value(engine) == (
        {"helpfulness": 4, "correctness": 5, "safety": 2},
        "lead",
        "U09LEAD",
    )


def test_preference_escalation_shows_both_responses_and_accepts_by_response(engine, clock):
    apply(engine, example_config("code-preference", allow_both_bad=False))
    seed_item(
        engine,
        clock,
        "code-preference",
        external_id="p-1",
        content=PAIR,
        answers=[
            (ALICE, preference("r-long", "much", "r-long")),
            (BOB, preference("r-short", "slightly", "r-long")),
            (CARA, preference("tie", None, "r-short")),
        ],
    )
    escalation_id, message = escalation_message(engine)
    text = json.dumps(message["blocks"])
    assert "*Response `r-short`* \\u00b7 m1" in text and "*Response `r-long`* \\u00b7 m2" in text
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    labels = [e["text"]["text"] for e in actions["elements"]]
    assert labels == [
        "Accept: Response r-long",
        "Accept: Response r-short",
        "Accept: Tie",
        "Decide…",
    ]
    options = [o["value"] for o in modal(engine)["blocks"][1]["element"]["options"]]
    assert options == ["r-short", "r-long", "tie"]  # no "both bad" in this project
    short = json.loads(actions["elements"][1]["value"])
    with session_scope(engine) as session:
        result = flow.resolve_escalation(
            session,
            escalation_id=escalation_id,
            lead="U08LEAD2",
            now=clock.now(),
            response_id=short["r"],
        )
    assert result.outcome == "resolved"
    assert label_value(engine) == ("r-short", "lead", "U08LEAD2")
    with Session(engine) as session:
        notes = session.exec(
            select(OutboxMessage).where(OutboxMessage.operation == "post_dm")
        ).all()
    assert sorted(n.payload["user"] for n in notes) == [ALICE, CARA]
    assert "You answered *Response r-long*" in json.dumps(
        next(n for n in notes if n.payload["user"] == ALICE).payload["blocks"]
    )


def test_correction_escalation_offers_each_edit_and_a_final_text(engine, clock):
    apply(engine, example_config("legal-correction"))
    fixed = "No. California voids most non-competes (Bus. & Prof. Code §16600)."
    seed_item(
        engine,
        clock,
        "legal-correction",
        external_id="c-1",
        content=LEGAL,
        answers=[
            (ALICE, correction(ORIGINAL, False)),
            (BOB, correction(fixed, True)),
            (CARA, correction("No: §16600 <b>bars</b> them.", True)),
        ],
    )
    _, message = escalation_message(engine)
    text = json.dumps(message["blocks"])
    assert "> No: \\u00a716600 &lt;b&gt;bars&lt;/b&gt; them." in text
    assert "Bus. &amp; Prof. Code" in text
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Accept: Looks right",
        "Accept: edit 2",
        "Accept: edit 3",
        "Decide…",
    ]
    view = modal(engine)
    assert view["blocks"][1]["element"]["initial_value"] == ORIGINAL
    final = fixed + " Check the employee's state too."
    done = resolve(
        engine,
        clock,
        {
            "decision": {"value": {"type": "plain_text_input", "value": final}},
            "rationale": {"value": {"type": "plain_text_input", "value": "Adds the caveat."}},
        },
    )
    assert done.outcome == "resolved"
    assert label_value(engine) == ({"text": final, "changed": True}, "lead", "U09LEAD")


def test_long_samples_and_many_answers_stay_within_block_kit_limits(engine, clock):
    apply(engine, label_config(agreement=1.0, overlap=3))
    long_chat = {
        "conversation": [
            {"role": "user" if n % 2 == 0 else "assistant", "content": f"turn {n} " + "x" * 9000}
            for n in range(30)
        ]
    }
    seed_item(
        engine,
        clock,
        "support-intent",
        external_id="long",
        content=long_chat,
        answers=[(ALICE, "billing"), (BOB, "bug"), (CARA, "account")],
    )
    with session_scope(engine) as session:
        for response in session.exec(select(Response)):
            response.rationale = "because " * 1000
            session.add(response)
    _, message = escalation_message(engine)
    text = json.dumps(message["blocks"])
    assert "24 earlier turn(s) not shown" in text
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in message["blocks"])


def test_decision_modal_refuses_non_leads_and_resolved_escalations(engine, clock):
    apply(engine, label_config(agreement=0.9))
    seed_item(
        engine,
        clock,
        "support-intent",
        external_id="t-1",
        content=chat(),
        answers=[(ALICE, "billing"), (BOB, "bug"), (CARA, "billing")],
    )
    from bot.runtime.context import QuorumContext
    from tests.factories import make_settings

    ctx = QuorumContext(engine=engine, settings=make_settings(str(engine.url)), clock=clock)
    with Session(engine) as session:
        escalation_id = session.exec(select(Escalation)).one().id
    refused = flow.decision_modal(ctx, escalation_id=escalation_id, lead=ALICE)
    assert refused.view is None and "Only the leads" in refused.refusal
    assert flow.accept_answer(
        ctx, escalation_id=escalation_id, response_id=1, lead=ALICE
    ).outcome == ("not_lead")
    assert flow.accept_answer(
        ctx, escalation_id=escalation_id, response_id=2, lead="U09LEAD"
    ).outcome == ("resolved")
    again = flow.decision_modal(ctx, escalation_id=escalation_id, lead="U09LEAD")
    assert again.view is None and "already resolved by <@U09LEAD>: *bug*" in again.refusal
    late = resolve(
        engine,
        clock,
        {
            "decision": {
                "value": {"type": "static_select", "selected_option": {"value": "billing"}}
            },
            "rationale": {"value": {"type": "plain_text_input", "value": "late"}},
        },
    )
    assert late.outcome == "already_resolved" and "rationale" in late.errors
    assert label_value(engine) == ("bug", "lead", "U09LEAD")
