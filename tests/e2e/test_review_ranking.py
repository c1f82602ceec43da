"""Ranking items in Slack, end to end through the emulator: a menu per rank in each
reviewer's own order, a response given twice refused in place, the last rank filled by
itself, Kendall's W and a Borda sign-off, a Borda tie escalated and settled by a lead,
and the ranking and pairwise dpo exports."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from bot.exports.run import ExportRequest, run_export
from bot.exports.writers import JsonlSink
from storage.models import Assignment, Escalation, Label
from tests.factories import (
    assert_slack_accepted_everything,
    events,
    kind_config,
    response_of,
    shown,
    start,
)

ITEM = {
    "id": "rk-1",
    "prompt": [{"role": "user", "content": "How do I reset my password?"}],
    "responses": [
        {"id": "best", "content": "Use 'Forgot password' on the sign-in page.", "model": "m1"},
        {"id": "ok", "content": "Settings, then Security, then Reset.", "model": "m2"},
        {"id": "bad", "content": "Send me your password <!channel>.", "model": "m3"},
    ],
}
LETTERS = "ABC"


def order_for(sandbox, user: str) -> list[str]:
    with Session(sandbox.ctx.engine) as session:
        assignment = session.exec(select(Assignment).where(Assignment.reviewer_id == user)).one()
        return list(assignment.presentation["order"])


def pick(sandbox, user: str, slot: int, response: str) -> None:
    """Choose `response` in the menu of rank `slot` of the reviewer's current DM."""
    message = sandbox.latest_dm(user)
    (block,) = [
        b
        for b in message["blocks"]
        if (b.get("accessory") or {}).get("action_id") == f"quorum_step:{slot}"
    ]
    reply = sandbox.sender.click(
        user, {**message, "blocks": [block]}, action_id=f"quorum_step:{slot}", selected=response
    )
    assert reply.status == 200, reply.body
    sandbox.settle()


def rank(sandbox, user: str, order: list[str]) -> None:
    for slot, response in enumerate(order[:-1]):  # the last rank fills itself
        pick(sandbox, user, slot, response)


def labels(sandbox) -> list[Label]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Label)))


def export(sandbox, tmp_path, fmt: str) -> list[dict]:
    path = tmp_path / f"{fmt}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        run_export(
            sandbox.ctx.engine,
            ExportRequest(project="answer-ranking", format=fmt),
            sink=JsonlSink(handle),
            now=sandbox.clock.now(),
            salt=sandbox.ctx.settings.quorum_export_salt,
        )
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_reviewers_rank_in_their_own_order_and_a_repeated_response_is_refused(sandbox, tmp_path):
    reviewers = start(sandbox, tmp_path, kind_config("answer-ranking"), [ITEM])
    assert len(reviewers) == 3
    user = reviewers[0]
    order = order_for(sandbox, user)
    request = sandbox.latest_dm(user)
    text = shown(request)
    # Responses appear under letters in this reviewer's order, without model names.
    positions = [text.index(f"*Response {letter}*") for letter in LETTERS]
    assert positions == sorted(positions)
    contents = {r["id"]: r["content"] for r in ITEM["responses"]}
    first_shown = text.index(contents[order[0]][:20])
    assert positions[0] < first_shown < positions[1]
    assert "m1" not in text and "m3" not in text
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    menus = [
        b for b in request["blocks"] if (b.get("accessory") or {}).get("type") == "static_select"
    ]
    assert [b["text"]["text"] for b in menus] == ["*1st*", "*2nd*", "*3rd*"]
    assert [o["text"]["text"] for o in menus[0]["accessory"]["options"]] == [
        "Response A",
        "Response B",
        "Response C",
    ]

    pick(sandbox, user, 0, "best")
    assert response_of(sandbox, user) is None
    assert "Still to rank: 2nd, 3rd" in shown(sandbox.latest_dm(user))
    pick(sandbox, user, 1, "best")  # already 1st: refused where it was chosen
    refused = shown(sandbox.latest_dm(user))
    letter = LETTERS[order.index("best")]
    assert f"Response {letter} is ranked 1st already" in refused
    assert response_of(sandbox, user) is None
    pick(sandbox, user, 1, "ok")  # the 3rd rank is the one response left
    recorded = response_of(sandbox, user)
    assert recorded is not None
    assert recorded.value == {"order": ["best", "ok", "bad"], "shown": order}
    answer = " > ".join(LETTERS[order.index(r)] for r in ["best", "ok", "bad"])
    assert f"Recorded *{answer}*" in shown(sandbox.latest_dm(user))
    assert_slack_accepted_everything(sandbox)


def test_agreeing_rankings_sign_off_the_borda_order_and_export_as_rankings_and_pairs(
    sandbox, tmp_path
):
    reviewers = start(sandbox, tmp_path, kind_config("answer-ranking"), [ITEM])
    given = [["best", "ok", "bad"], ["best", "ok", "bad"], ["ok", "best", "bad"]]
    for user, order in zip(reviewers, given, strict=True):
        rank(sandbox, user, order)
    (label,) = labels(sandbox)
    assert label.value == ["best", "ok", "bad"]
    assert label.method == "consensus"
    # Kendall's W of these three rankings: 7/9.
    assert round(label.agreement, 3) == 0.778
    (signed,) = events(sandbox, "signed_off")
    assert "Kendall's W 0.78" in signed.data["reason"]

    (row,) = export(sandbox, tmp_path, "ranking")
    assert [(r["id"], r["rank"]) for r in row["responses"]] == [("best", 1), ("ok", 2), ("bad", 3)]
    pairs = export(sandbox, tmp_path, "dpo")
    assert [p["id"] for p in pairs] == ["rk-1:best>ok", "rk-1:best>bad", "rk-1:ok>bad"]
    contents = {r["id"]: r["content"] for r in ITEM["responses"]}
    for pair in pairs:
        better, worse = pair["id"].split(":")[1].split(">")
        assert pair["chosen"] == [{"role": "assistant", "content": contents[better]}]
        assert pair["rejected"] == [{"role": "assistant", "content": contents[worse]}]
        assert pair["prompt"] == ITEM["prompt"]
    assert_slack_accepted_everything(sandbox)


def test_a_borda_tie_goes_to_the_lead_who_decides_the_order_in_the_modal(sandbox, tmp_path):
    reviewers = start(sandbox, tmp_path, kind_config("answer-ranking"), [ITEM])
    cyclic = [["best", "ok", "bad"], ["ok", "bad", "best"], ["bad", "best", "ok"]]
    for user, order in zip(reviewers, cyclic, strict=True):
        rank(sandbox, user, order)
    assert labels(sandbox) == []
    with Session(sandbox.ctx.engine) as session:
        escalation = session.exec(select(Escalation)).one()
    assert escalation.reason == "tie between answers"
    (post,) = [m for m in sandbox.channel_messages("C0ESCALATE") if not m.get("thread_ts")]
    post = {**post, "channel": "C0ESCALATE"}
    assert "best &gt; ok &gt; bad" in shown(post)  # each answer, in response ids

    sandbox.sender.click("U09LEAD", post, text="Decide…")
    (view,) = sandbox.emulator.views_opened()
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert inputs == ["decision:0", "decision:1", "decision:2", "rationale"]
    twice = sandbox.sender.submit_view(
        "U09LEAD",
        view,
        {
            "decision:0": {"value": "best"},
            "decision:1": {"value": "best"},
            "decision:2": {"value": "bad"},
            "rationale": {"value": "The safe answer first."},
        },
    )
    assert twice.json()["response_action"] == "errors"
    assert "ranked 1st already" in twice.json()["errors"]["decision:1"]
    assert labels(sandbox) == []
    done = sandbox.sender.submit_view(
        "U09LEAD",
        view,
        {
            "decision:0": {"value": "best"},
            "decision:1": {"value": "ok"},
            "decision:2": {"value": "bad"},
            "rationale": {"value": "The safe answer first."},
        },
    )
    assert done.status == 200
    sandbox.settle()
    (label,) = labels(sandbox)
    assert (label.value, label.method, label.signed_off_by) == (
        ["best", "ok", "bad"],
        "lead",
        "U09LEAD",
    )
    assert_slack_accepted_everything(sandbox)


def test_the_completing_rank_clicked_twice_records_once_and_says_nothing(sandbox, tmp_path):
    reviewers = start(sandbox, tmp_path, kind_config("answer-ranking"), [ITEM])
    user = reviewers[0]
    pick(sandbox, user, 0, "ok")
    request = sandbox.latest_dm(user)  # still showing the menus, as a slow client would
    (block,) = [
        b
        for b in request["blocks"]
        if (b.get("accessory") or {}).get("action_id") == "quorum_step:1"
    ]
    for _ in range(2):
        sandbox.sender.click(
            user, {**request, "blocks": [block]}, action_id="quorum_step:1", selected="best"
        )
        sandbox.settle()
    assert response_of(sandbox, user).value["order"] == ["ok", "best", "bad"]
    ephemerals = [c for c in sandbox.emulator.calls_to("chat.postEphemeral")]
    assert ephemerals == []
