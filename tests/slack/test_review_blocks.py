"""The review request of every kind and state passes Slack's Block Kit rules, at the edges
of what a project may configure (many labels, long names, many criteria, 11-point scales)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.config.project import ProjectConfig
from bot.content.candidates import CANDIDATES
from bot.kinds.registry import kind_named
from bot.slack import views
from bot.slack.blockkit import validate_message_blocks, validate_view
from bot.slack.conversation import Part
from bot.slack.home import EscalationEntry, HomeData, QueueEntry, ReviewerStats, build_home
from bot.slack.review import ReviewState, build_answered, build_closed, build_review_request
from tests.factories import kind_settings

AT = datetime(2026, 1, 5, 9, tzinfo=UTC)
PEOPLE = {"reviewers": ["U01ALICE", "U02BOB", "U03CARA"], "leads": ["U09LEAD"], "overlap": 3}
CONVERSATION = [
    {"role": "user", "content": "Help <!channel> & me " * 300},
    {"role": "assistant", "content": "```\n" + "x = 1\n" * 800 + "```"},
]


def config(kind: str, **fields) -> ProjectConfig:
    base = {"name": "p", "kind": kind, "question": "Q?", **PEOPLE, **kind_settings(kind)}
    base.update(fields)
    return ProjectConfig.model_validate(base)


def content_for(kind: str) -> dict:
    if kind_named(kind).content is CANDIDATES:
        return {
            "prompt": CONVERSATION[:1],
            "responses": [{"id": "a", "content": "A " * 3000}, {"id": "b", "content": "B"}],
        }
    return {"conversation": CONVERSATION, "prediction": {"label": "bug", "confidence": 0.4}}


VALUES = {
    "label": "bug",
    "rating": None,
    "preference": {"choice": "b", "strength": "much", "shown_first": "a"},
    "correction": {"text": "fixed " * 900, "changed": True, "diff": "-a\n+b\n"},
}
CASES = [
    ("label", {}),
    ("label", {"labels": [f"label_{n}" for n in range(100)]}),
    ("label", {"labels": ["x" * 300, "y" * 300]}),
    ("label", {"labels": [f"l{n}" for n in range(8)], "multi_label": True}),
    ("label", {"labels": [f"label_{n}" for n in range(60)], "multi_label": True}),
    ("rating", {"criteria": ["helpfulness", "correctness", "safety"]}),
    ("rating", {"criteria": [f"c{n}" for n in range(12)], "scale": {"min": 0, "max": 10}}),
    ("rating", {"criteria": [f"criterion_{n}" for n in range(38)]}),
    ("preference", {"ask_strength": True, "allow_both_bad": True}),
    ("preference", {"allow_tie": False}),
    ("correction", {}),
]


@pytest.mark.parametrize(("kind", "fields"), CASES)
def test_every_state_of_the_request_is_valid_block_kit(kind, fields):
    cfg = config(kind, **fields)
    assignment = SimpleNamespace(id=12, presentation={"order": ["b", "a"]})
    content = content_for(kind)
    value = VALUES[kind] or {c: cfg.scale.min for c in cfg.criteria}
    states = [
        ReviewState(),
        ReviewState(draft={"scores": {cfg.criteria[0]: cfg.scale.max}} if cfg.criteria else {}),
        ReviewState(rationale="because " * 400, flags=("unsafe", "personal_data"), notice="n"),
        ReviewState(changing=value),
    ]
    for state in states:
        message = build_review_request(
            cfg,
            assignment,
            content,
            state=state,
            suggestion={"value": "bug", "confidence": 0.5, "model": "m"},
        )
        assert validate_message_blocks(message.blocks) == []
    for status in (None, "signed_off", "escalated"):
        answered = build_answered(
            cfg,
            assignment,
            content,
            value,
            AT,
            rationale="r" * 5000,
            revision=3,
            item_status=status,
        )
        assert validate_message_blocks(answered.blocks) == []
    assert (
        validate_message_blocks(build_closed(cfg, assignment, status="skipped", at=AT).blocks) == []
    )


def test_too_many_criteria_are_refused_with_a_readable_error():
    # The project schema refuses 39 criteria too; the builder does not rely on it.
    cfg = config("rating").model_copy(update={"criteria": [f"c{n}" for n in range(39)]})
    with pytest.raises(ValueError, match="39 criteria do not fit"):
        build_review_request(cfg, SimpleNamespace(id=1, presentation=None), content_for("rating"))


def test_modals_are_valid_block_kit():
    cfg = config("correction")
    long_text = "\n".join("paragraph " * 40 for _ in range(60))
    checks = [
        views.correction_modal(
            cfg,
            assignment_id=1,
            content=content_for("correction"),
            current_text=long_text,
            change=False,
        ),
        views.rationale_modal(
            cfg, assignment_id=1, external_id="x" * 300, current="r" * 4000, answer="bug"
        ),
        views.flag_modal(cfg, assignment_id=1, external_id="x"),
    ]
    parts = [Part(None, CONVERSATION * 5)]
    checks += [views.conversation_modal(parts, ref={"a": 1}, page=p) for p in range(3)]
    for view in checks:
        assert validate_view(view) == []


def test_long_text_round_trips_through_several_inputs():
    text = ("word " * 700 + "\n") * 6 + "z" * 7000
    parts, joiners = views.split_for_inputs(text)
    assert len(parts) > 3 and all(len(p) <= views.PART_CHARS for p in parts)
    assert views.join_inputs(parts, joiners) == text


def test_home_is_valid_block_kit_with_a_long_queue():
    data = HomeData(
        user="U01ALICE",
        stats=ReviewerStats(
            pending=60, today=3, week=9, total=40, agreement=0.8, compared=20, paused=True
        ),
        queue=[QueueEntry(n, "support-intent", f"si-{n}", AT, n % 2 == 0) for n in range(20)],
        is_lead=True,
        escalations=[
            EscalationEntry("support-intent", f"si-{n}", "tie", AT, "C0ESC") for n in range(15)
        ],
        escalations_total=40,
    )
    view = build_home(data)
    assert validate_view(view) == []
    assert len(view["blocks"]) <= 100


SUGGESTION = {"value": "bug", "confidence": 0.62, "model": "gpt-4o-mini"}


@pytest.mark.parametrize(
    ("kind", "show", "expected"),
    [
        ("label", True, True),
        ("label", False, False),
        ("correction", True, True),
        ("rating", True, False),  # a shown score anchors a reviewer's own judgement
        ("preference", True, False),
    ],
)
def test_ai_suggestion_shown_for_labels_and_corrections_unless_hidden(kind, show, expected):
    cfg = config(kind, llm={"enabled": True, "show_suggestion": show})
    assignment = SimpleNamespace(id=1, presentation={"order": ["a", "b"]})
    # A suggested correction is a text, like the kind's own answers.
    edits = isinstance(VALUES[kind], dict) and "text" in VALUES[kind]
    suggestion = dict(SUGGESTION, value={"text": "bug"}) if edits else SUGGESTION
    message = build_review_request(cfg, assignment, content_for(kind), suggestion=suggestion)
    text = str(message.blocks)
    assert ("AI suggests: *bug* (0.62) · gpt-4o-mini" in text) is expected
