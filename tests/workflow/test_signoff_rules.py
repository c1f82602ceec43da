"""Sign-off rules per task kind, on both databases: consensus, thresholds, ties, gold items,
the posterior bound and "a lead signs off everything"."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.config.project import SignOff
from bot.workflow.decision.posterior import clear_cache
from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.project_versions import project_config, require_project
from bot.workflow.review.answer import record_answer
from storage.db import session_scope
from storage.models import (
    Assignment,
    Escalation,
    Event,
    Label,
    OutboxMessage,
)
from tests.factories import (
    LEGAL,
    ORIGINAL,
    PAIR,
    apply,
    chat,
    conversation,
    correction,
    example_config,
    import_file,
    label_config,
    preference,
    seed_item,
    write_items,
)

REVIEWERS = ["U01ALICE", "U02BOB", "U03CARA", "U04DAN", "U05ERIN"]


@pytest.fixture(autouse=True)
def _fresh_posterior_cache():
    clear_cache()  # each test has its own database; never reuse a fit across them
    yield
    clear_cache()


def label_of(engine, item_id: int) -> Label | None:
    with Session(engine) as session:
        return session.exec(select(Label).where(Label.item_id == item_id)).first()


def escalation_of(engine, item_id: int) -> Escalation | None:
    with Session(engine) as session:
        return session.exec(select(Escalation).where(Escalation.item_id == item_id)).first()


def channel_posts(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(
            session.exec(select(OutboxMessage).where(OutboxMessage.operation == "post_message"))
        )


# --------------------------------------------------------------------------- labels, end to end


@pytest.fixture
def one_label_item(engine, context, tmp_path):
    def start(**config):
        apply(engine, label_config(**config))
        item = {
            "id": "t-1",
            "conversation": conversation("I was charged twice"),
            "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
        }
        import_file(engine, write_items(tmp_path / "items.jsonl", [item]))
        dispatch_queued(engine, clock=context.clock, rng=context.rng)
        with Session(engine) as session:
            return list(session.exec(select(Assignment).order_by(Assignment.id)))

    return start


def answer_all(engine, clock, assignments, values):
    for assignment, value in zip(assignments, values, strict=True):
        clock.advance(minutes=2)
        with session_scope(engine) as session:
            record_answer(
                session,
                assignment_id=assignment.id,
                user_id=assignment.reviewer_id,
                value=value,
                now=clock.now(),
            )


def test_unanimous_answers_sign_off_without_a_lead(engine, context, one_label_item):
    assignments = one_label_item(agreement=0.8)
    answer_all(engine, context.clock, assignments, ["billing"] * 3)
    label = label_of(engine, assignments[0].item_id)
    assert (label.value, label.method, label.agreement) == ("billing", "consensus", 1.0)
    assert escalation_of(engine, assignments[0].item_id) is None
    assert channel_posts(engine) == []


def test_two_to_one_under_a_higher_threshold_goes_to_the_leads_channel(
    engine, context, one_label_item
):
    assignments = one_label_item(agreement=0.8)
    answer_all(engine, context.clock, assignments, ["billing", "billing", "bug"])
    item_id = assignments[0].item_id
    assert label_of(engine, item_id) is None
    escalation = escalation_of(engine, item_id)
    assert escalation.reason == "agreement 0.67 < 0.80"
    (post,) = channel_posts(engine)
    assert post.payload["channel"] == "C0ESCALATE" and post.escalation_id == escalation.id
    buttons = [
        e["text"]["text"]
        for b in post.payload["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["Accept: billing", "Accept: bug", "Decide…"]


def test_two_to_one_meets_a_two_thirds_threshold(engine, context, one_label_item):
    assignments = one_label_item(agreement=0.67)
    answer_all(engine, context.clock, assignments, ["billing", "bug", "billing"])
    label = label_of(engine, assignments[0].item_id)
    assert (label.value, label.method, round(label.agreement, 4)) == (
        "billing",
        "consensus",
        0.6667,
    )


def test_a_tie_escalates_even_under_a_low_threshold(engine, clock):
    apply(engine, label_config(overlap=2, agreement=0.5))
    item_id, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id="t-1",
        content=chat(),
        answers=[("U01ALICE", "billing"), ("U02BOB", "bug")],
    )
    assert outcome == "Escalation"
    assert escalation_of(engine, item_id).reason == "tie between answers"


def test_multi_label_answers_agree_only_on_the_same_set(engine, clock):
    apply(engine, label_config(multi_label=True, agreement=1.0))
    same, _ = seed_item(
        engine,
        clock,
        "support-intent",
        external_id="m-1",
        content=chat(),
        answers=[
            ("U01ALICE", ["bug", "billing"]),
            ("U02BOB", ["billing", "bug"]),
            ("U03CARA", ["billing", "bug"]),
        ],
    )
    assert label_of(engine, same).value == ["billing", "bug"]
    subset, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id="m-2",
        content=chat(),
        answers=[
            ("U01ALICE", ["billing"]),
            ("U02BOB", ["billing", "bug"]),
            ("U03CARA", ["billing"]),
        ],
    )
    assert outcome == "Escalation" and label_of(engine, subset) is None


# --------------------------------------------------------------------------- other kinds


def test_rating_agreement_is_the_lowest_criterion(engine, clock):
    apply(engine, example_config("triage-rating", sign_off=SignOff()))
    agreed, _ = seed_item(
        engine,
        clock,
        "triage-rating",
        external_id="r-1",
        content=chat(),
        answers=[
            ("U01ALICE", {"helpfulness": 4, "correctness": 5, "safety": 5}),
            ("U02BOB", {"helpfulness": 4, "correctness": 5, "safety": 5}),
            ("U03CARA", {"helpfulness": 4, "correctness": 2, "safety": 5}),
        ],
    )
    label = label_of(engine, agreed)
    assert label.value == {"helpfulness": 4, "correctness": 5, "safety": 5}
    assert round(label.agreement, 2) == 0.67  # correctness: 2 of 3, the lowest criterion
    split, outcome = seed_item(
        engine,
        clock,
        "triage-rating",
        external_id="r-2",
        content=chat(),
        answers=[
            ("U01ALICE", {"helpfulness": 4, "correctness": 5, "safety": 1}),
            ("U02BOB", {"helpfulness": 4, "correctness": 5, "safety": 3}),
            ("U03CARA", {"helpfulness": 4, "correctness": 5, "safety": 5}),
        ],
    )
    assert outcome == "Escalation"
    assert escalation_of(engine, split).reason == "tie between answers"


def test_preferences_agree_on_the_response_not_its_position_or_strength(engine, clock):
    apply(engine, example_config("code-preference"))
    item_id, _ = seed_item(
        engine,
        clock,
        "code-preference",
        external_id="p-1",
        content=PAIR,
        answers=[
            ("U01ALICE", preference("r-long", "much", "r-long")),  # picked A
            ("U02BOB", preference("r-long", "slightly", "r-short")),  # picked B
            ("U03CARA", preference("r-short", "much", "r-short")),
        ],
    )
    label = label_of(engine, item_id)
    assert (label.value, label.method, round(label.agreement, 2)) == ("r-long", "consensus", 0.67)


FIXED = "No. California voids non-competes (Bus. & Prof. Code §16600)."


def test_corrections_sign_off_only_when_every_reviewer_gives_the_same_answer(engine, clock):
    apply(engine, example_config("legal-correction", agreement=0.66, sign_off=SignOff()))
    kept, _ = seed_item(
        engine,
        clock,
        "legal-correction",
        external_id="c-1",
        content=LEGAL,
        answers=[(r, correction(ORIGINAL, False)) for r in REVIEWERS[:3]],
    )
    assert label_of(engine, kept).value == {"text": ORIGINAL, "changed": False}
    # Two "Looks right" and one edit reach 0.66, but an edit means a lawyer saw a problem.
    one_edit, outcome = seed_item(
        engine,
        clock,
        "legal-correction",
        external_id="c-2",
        content=LEGAL,
        answers=[
            ("U01ALICE", correction(ORIGINAL, False)),
            ("U02BOB", correction(ORIGINAL, False)),
            ("U03CARA", correction(FIXED, True)),
        ],
    )
    assert outcome == "Escalation"
    assert escalation_of(engine, one_edit).reason == "reviewers edited the response differently"
    # The same edit from everyone (up to whitespace) is a consensus on that text.
    same_edit, _ = seed_item(
        engine,
        clock,
        "legal-correction",
        external_id="c-3",
        content=LEGAL,
        answers=[
            ("U01ALICE", correction(FIXED, True)),
            ("U02BOB", correction(FIXED + "  ", True)),
            ("U03CARA", correction(FIXED.replace(" ", "  "), True)),
        ],
    )
    assert label_of(engine, same_edit).value == {"text": FIXED, "changed": True}


# --------------------------------------------------------------------------- gold, posterior, leads


def test_gold_items_sign_off_to_their_gold_value_and_score_the_reviewers(engine, clock):
    apply(engine, label_config(agreement=0.9))
    item_id, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id="g-1",
        content=chat(),
        gold="bug",
        answers=[("U01ALICE", "bug"), ("U02BOB", "billing"), ("U03CARA", "billing")],
    )
    assert outcome == "Label"
    label = label_of(engine, item_id)
    assert (label.value, label.method) == ("bug", "gold")
    assert escalation_of(engine, item_id) is None  # a disagreement on gold needs no lead
    with Session(engine) as session:
        event = session.exec(
            select(Event).where(Event.item_id == item_id, Event.kind == "signed_off")
        ).one()
    assert event.data["gold_correct"] == {"U01ALICE": True, "U02BOB": False, "U03CARA": False}


def _history(engine, clock, count: int) -> None:
    """Items where Alice and Bob agree and Cara mostly agrees with them."""
    for n in range(count):
        value = ["billing", "bug", "account"][n % 3]
        cara = value if n % 4 else "other"
        seed_item(
            engine,
            clock,
            "support-intent",
            external_id=f"h-{n}",
            content=chat(),
            answers=[("U01ALICE", value), ("U02BOB", value), ("U03CARA", cara)],
        )


def test_min_confidence_escalates_an_agreed_item_whose_posterior_is_low(engine, clock):
    apply(engine, label_config(agreement=0.66, sign_off={"min_confidence": 0.999}))
    _history(engine, clock, 12)
    # Alice and Bob agree, but they are outvoted in Dawid-Skene terms by nothing: the
    # posterior of a 2-1 split stays below a 0.999 bound, so a lead looks at it.
    item_id, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id="t-1",
        content=chat(),
        answers=[("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "account")],
    )
    assert outcome == "Escalation"
    reason = escalation_of(engine, item_id).reason
    assert reason.startswith("posterior 0.") and reason.endswith(" < 0.999")


def test_min_confidence_passes_a_confident_consensus_and_stores_its_posterior(engine, clock):
    apply(engine, label_config(agreement=0.66, sign_off={"min_confidence": 0.9}))
    _history(engine, clock, 12)
    item_id, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id="t-1",
        content=chat(),
        answers=[("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "bug")],
    )
    assert outcome == "Label"
    label = label_of(engine, item_id)
    assert label.method == "consensus" and 0.9 <= label.confidence <= 1.0


def test_posterior_follows_reviewer_reliability(engine, clock):
    """The same 2-1 vote is more credible when the two agreeing reviewers are the ones
    Dawid-Skene found reliable than when the lone dissenter is."""
    from bot.workflow.decision.posterior import consensus_confidence

    apply(engine, label_config(agreement=0.66))
    _history(engine, clock, 24)
    with Session(engine) as session:
        target = require_project(session, "support-intent")
        config = project_config(session, target)
        reliable_pair = consensus_confidence(
            session,
            target,
            config,
            content={},
            consensus="bug",
            answers=[("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "account")],
        )
        shaky_pair = consensus_confidence(
            session,
            target,
            config,
            content={},
            consensus="bug",
            answers=[("U01ALICE", "account"), ("U02BOB", "bug"), ("U03CARA", "bug")],
        )
    assert reliable_pair > shaky_pair


def test_lead_signs_off_all_escalates_agreed_items_with_the_consensus_as_default(engine, clock):
    apply(engine, label_config(sign_off={"lead_signs_off_all": True}))
    item_id, outcome = seed_item(
        engine,
        clock,
        "support-intent",
        external_id="t-1",
        content=chat(),
        answers=[("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "billing")],
    )
    assert outcome == "Escalation" and label_of(engine, item_id) is None
    assert escalation_of(engine, item_id).reason == "project asks a lead to sign off every item"
    (post,) = channel_posts(engine)
    text = str(post.payload["blocks"])
    assert "Sign-off needed" in text and "Reviewers' consensus: *bug*" in text
    actions = next(b for b in post.payload["blocks"] if b["type"] == "actions")
    first = actions["elements"][0]
    assert (first["text"]["text"], first.get("style")) == ("Accept: bug", "primary")
