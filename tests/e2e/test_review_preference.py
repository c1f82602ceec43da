"""Preference items in Slack: A and B in each reviewer's own random order, one tap with
strength, tie and both-bad as the project allows, stored in terms of the real response
ids so position bias can be measured and agreement is about responses, not positions."""

from __future__ import annotations

from sqlmodel import Session

from storage.models import Assignment
from tests.factories import (
    assert_slack_accepted_everything,
    kind_config,
    labels,
    press,
    response_of,
    shown,
    start,
    texts,
)

ITEM = {
    "id": "cp-1",
    "prompt": [{"role": "user", "content": "How do I reverse a list in Python?"}],
    "responses": [
        {"id": "short", "content": "Use `items[::-1]`.", "model": "coder-7b"},
        {
            "id": "long",
            "content": "Call `items.reverse()` to reverse in place.",
            "model": "coder-34b",
        },
    ],
}
CONTENT = {"short": "items[::-1]", "long": "items.reverse()"}


def order_for(sandbox, user: str) -> list[str]:
    with Session(sandbox.ctx.engine) as session:
        from sqlmodel import select

        assignment = session.exec(select(Assignment).where(Assignment.reviewer_id == user)).one()
        return assignment.presentation["order"]


def test_a_and_b_follow_the_recorded_order_and_answers_name_real_responses(sandbox, tmp_path):
    reviewers = start(sandbox, tmp_path, kind_config("code-preference"), [ITEM])
    orders = {}
    for user in reviewers:
        request = sandbox.latest_dm(user)
        order = orders[user] = order_for(sandbox, user)
        text = shown(request)
        assert (
            text.index("*Response A*")
            < text.index(CONTENT[order[0]])
            < text.index("*Response B*")
            < text.index(CONTENT[order[1]])
        )
        assert texts(request, block_prefix="answer:") == [
            "A is much better",
            "A is slightly better",
            "B is slightly better",
            "B is much better",
            "Tie",
            "Both bad",
        ]
        assert "coder-7b" not in text and "coder-34b" not in text  # blind: no model names
        press(sandbox, user, request, "B is slightly better")
        assert response_of(sandbox, user).value == {
            "choice": order[1],
            "strength": "slightly",
            "shown_first": order[0],
        }
    sandbox.settle()
    for user in reviewers:
        assert "Recorded *B is slightly better*" in shown(sandbox.latest_dm(user))
    assert_slack_accepted_everything(sandbox)


def test_agreement_is_about_the_response_not_the_position(sandbox, tmp_path):
    reviewers = start(sandbox, tmp_path, kind_config("code-preference"), [ITEM])
    sides = set()
    for user in reviewers:
        side = "A" if order_for(sandbox, user)[0] == "long" else "B"
        sides.add(side)
        press(sandbox, user, sandbox.latest_dm(user), f"{side} is much better")
    assert sides == {"A", "B"}  # the reviewers saw different orders and pressed different sides
    [label] = labels(sandbox)
    assert label.value == "long"
    assert label.method == "consensus"


def test_buttons_follow_the_project_options(sandbox, tmp_path):
    config = kind_config(
        "code-preference", ask_strength=False, allow_tie=False, allow_both_bad=False
    )
    reviewer = start(sandbox, tmp_path, config, [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    assert texts(request, block_prefix="answer:") == ["A is better", "B is better"]
    press(sandbox, reviewer, request, "A is better")
    order = order_for(sandbox, reviewer)
    assert response_of(sandbox, reviewer).value == {
        "choice": order[0],
        "strength": None,
        "shown_first": order[0],
    }


def test_tie_and_both_bad(sandbox, tmp_path):
    first, second, _ = start(sandbox, tmp_path, kind_config("code-preference"), [ITEM])
    press(sandbox, first, sandbox.latest_dm(first), "Tie")
    press(sandbox, second, sandbox.latest_dm(second), "Both bad")
    assert response_of(sandbox, first).value["choice"] == "tie"
    assert response_of(sandbox, second).value["choice"] == "both_bad"
    assert response_of(sandbox, second).value["strength"] is None


def test_changing_a_preference(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("code-preference"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "A is much better")
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Change my answer")
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Tie")
    response = response_of(sandbox, reviewer)
    assert (response.value["choice"], response.revision) == ("tie", 2)
    sandbox.settle()
    assert "Recorded *Tie*" in shown(sandbox.latest_dm(reviewer))
    assert_slack_accepted_everything(sandbox)
