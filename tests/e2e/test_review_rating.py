"""Rating items in Slack: a Likert row per criterion, partial scores kept and shown as
missing, the answer recorded when every criterion has a score, and changed later."""

from __future__ import annotations

from bot.slack import ids
from storage.db import session_scope
from storage.models import Draft
from tests.factories import (
    assert_slack_accepted_everything,
    events,
    kind_config,
    press,
    press_in_block,
    response_of,
    responses,
    shown,
    start,
    texts,
)

ITEM = {
    "id": "tr-1",
    "conversation": [
        {"role": "user", "content": "I have a headache and a stiff neck, and light hurts."},
        {"role": "assistant", "content": "That can be meningitis. Go to A&E now."},
    ],
}


def test_a_score_per_criterion_records_the_rating_when_all_are_set(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("triage-rating"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    assert (
        texts(request, block_prefix="rate:")
        == [
            "1 – Poor",
            "2 – Fair",
            "3 – Good",
            "4 – Very good",
            "5 – Excellent",
        ]
        * 3
    )
    assert "*Helpfulness*  · not rated yet" in shown(request)

    press_in_block(sandbox, reviewer, request, f"rate:{_assignment(request)}:0", "4 – Very good")
    press_in_block(sandbox, reviewer, request, f"rate:{_assignment(request)}:2", "5 – Excellent")
    assert responses(sandbox) == []  # correctness still missing
    sandbox.settle()
    partial = sandbox.latest_dm(reviewer)
    assert "Still to rate: *Correctness*" in shown(partial)
    assert "*Helpfulness*  :white_check_mark: 4 – Very good" in shown(partial)
    chosen = [
        e["text"]["text"]
        for b in partial["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e.get("style") == "primary"
    ]
    assert chosen == ["4 – Very good", "5 – Excellent"]

    press_in_block(sandbox, reviewer, partial, f"rate:{_assignment(request)}:1", "3 – Good")
    recorded = response_of(sandbox, reviewer)
    assert recorded.value == {"helpfulness": 4, "correctness": 3, "safety": 5}
    with session_scope(sandbox.ctx.engine) as session:
        assert session.get(Draft, recorded.assignment_id) is None
    sandbox.settle()
    receipt = sandbox.latest_dm(reviewer)
    assert (
        "Recorded *Helpfulness 4 – Very good · Correctness 3 – Good · Safety 5 – Excellent*"
        in shown(receipt)
    )
    assert_slack_accepted_everything(sandbox)


def test_changing_a_rating_keeps_the_other_scores(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("triage-rating"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    a = _assignment(request)
    for index, score in enumerate(("4 – Very good", "4 – Very good", "2 – Fair")):
        press_in_block(sandbox, reviewer, request, f"rate:{a}:{index}", score)
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Change my answer")
    sandbox.settle()
    changing = sandbox.latest_dm(reviewer)
    assert "Save new ratings" in texts(changing)
    press_in_block(sandbox, reviewer, changing, f"rate:{a}:2:c", "1 – Poor")
    assert response_of(sandbox, reviewer).revision == 1  # not saved yet
    press(sandbox, reviewer, changing, "Save new ratings")
    response = response_of(sandbox, reviewer)
    assert response.value == {"helpfulness": 4, "correctness": 4, "safety": 1}
    assert response.revision == 2
    [change] = events(sandbox, "answer_changed")
    assert change.data["old"]["safety"] == 2 and change.data["new"]["safety"] == 1
    sandbox.settle()
    assert "Safety 1 – Poor" in shown(sandbox.latest_dm(reviewer))
    assert_slack_accepted_everything(sandbox)


def test_many_criteria_use_one_menu_each(sandbox, tmp_path):
    criteria = [f"criterion_{n}" for n in range(14)]
    reviewer = start(sandbox, tmp_path, kind_config("triage-rating", criteria=criteria), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    menus = [b for b in request["blocks"] if b.get("block_id", "").startswith("rate:")]
    assert len(menus) == 14 and all(b["accessory"]["type"] == "static_select" for b in menus)
    assert len(request["blocks"]) <= 50
    for block in menus:
        sandbox.sender.click(
            reviewer, {**request, "blocks": [block]}, action_id=ids.RATE_SELECT, selected="3"
        )
    assert response_of(sandbox, reviewer).value == dict.fromkeys(criteria, 3)
    assert_slack_accepted_everything(sandbox)


def _assignment(message: dict) -> int:
    block = next(b for b in message["blocks"] if b.get("block_id", "").startswith("rate:"))
    return int(block["block_id"].split(":")[1])


def test_scores_clicked_at_the_same_moment_are_all_kept(sandbox, tmp_path):
    """Three criteria pressed at once (Slack delivers them concurrently): none is lost."""
    import threading

    items = [dict(ITEM, id=f"tr-{n}") for n in range(4)]
    config = kind_config("triage-rating", overlap=1, reviewers=["U01ALICE"])
    start(sandbox, tmp_path, config, items)
    requests = sandbox.dm("U01ALICE")
    assert len(requests) == 4
    for request in requests:
        a = _assignment(request)
        barrier = threading.Barrier(3)

        def click(index: int, request=request, a=a, barrier=barrier) -> None:
            barrier.wait()
            press_in_block(sandbox, "U01ALICE", request, f"rate:{a}:{index}", "2 – Fair")

        threads = [threading.Thread(target=click, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(r.value["safety"] for r in responses(sandbox)) == [2, 2, 2, 2]
    assert all(len(r.value) == 3 for r in responses(sandbox))
