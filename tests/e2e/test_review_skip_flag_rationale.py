"""What every kind offers besides answering: "Skip" (the item goes to someone else),
"Flag" (a note for the leads, not an answer) and "Add rationale" (a modal)."""

from __future__ import annotations

from bot.slack import ids
from tests.factories import (
    REVIEWERS,
    assert_slack_accepted_everything,
    assignments,
    conversation,
    events,
    item_status,
    kind_config,
    labels,
    last_modal,
    press,
    response_of,
    responses,
    shown,
    start,
    texts,
)

ITEM = {
    "id": "si-1",
    "conversation": conversation("My card was charged twice, card ending 4242"),
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
}


def test_skip_hands_the_item_to_another_reviewer(sandbox, tmp_path):
    first, *_ = given = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])
    spare = next(user for user in REVIEWERS if user not in given)
    assert sandbox.dm(spare) == []
    request = sandbox.latest_dm(first)
    press(sandbox, first, request, "Skip")
    sandbox.settle()
    assert "You skipped this item" in shown(sandbox.latest_dm(first))
    assert texts(sandbox.latest_dm(first)) == []
    assert "Confirm: billing" in texts(sandbox.latest_dm(spare))
    statuses = {a.reviewer_id: a.status for a in assignments(sandbox)}
    assert statuses[first] == "skipped" and statuses[spare] == "pending"
    assert [e.data["reviewer"] for e in events(sandbox, "skipped")] == [first]
    # Answering from the copy of the message they had before skipping changes nothing.
    press(sandbox, first, request, "Confirm: billing")
    assert response_of(sandbox, first) is None
    [notice] = sandbox.emulator.ephemerals(first)
    assert "no longer yours to review (skipped)" in notice["text"]
    assert_slack_accepted_everything(sandbox)


def test_when_nobody_is_left_the_item_is_decided_on_the_answers_it_has(sandbox, tmp_path):
    first, second, third = given = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])
    spare = next(user for user in REVIEWERS if user not in given)
    press(sandbox, first, sandbox.latest_dm(first), "Confirm: billing")
    press(sandbox, second, sandbox.latest_dm(second), "Confirm: billing")
    press(sandbox, third, sandbox.latest_dm(third), "Skip")
    sandbox.settle()
    press(sandbox, spare, sandbox.latest_dm(spare), "Skip")
    assert events(sandbox, "understaffed")
    assert item_status(sandbox) == "signed_off"
    assert [label.value for label in labels(sandbox)] == ["billing"]


def test_skip_after_answering_is_refused(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    press(sandbox, reviewer, request, "bug")
    press(sandbox, reviewer, request, "Skip")  # from the stale copy
    [notice] = sandbox.emulator.ephemerals(reviewer)
    assert "already answered" in notice["text"]
    assert [a.status for a in assignments(sandbox) if a.reviewer_id == reviewer] == ["answered"]


def test_flag_is_a_note_for_leads_and_does_not_answer(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Flag")
    modal = last_modal(sandbox)
    reasons = next(b for b in modal["blocks"] if b.get("block_id") == ids.FLAG_REASON_BLOCK)
    assert [o["text"]["text"] for o in reasons["element"]["options"]] == [
        "Unsafe or harmful content",
        "Unclear or impossible to judge",
        "Contains personal data",
        "Something else",
    ]
    no_reason = sandbox.sender.submit_view(reviewer, modal, {})
    assert no_reason.json()["errors"] == {
        ids.FLAG_REASON_BLOCK: "Choose what is wrong with this item."
    }
    values = {
        ids.FLAG_REASON_BLOCK: {ids.CHOICE_INPUT: "personal_data"},
        ids.FLAG_NOTE_BLOCK: {ids.TEXT_INPUT: "Card number in the first turn"},
    }
    assert sandbox.sender.submit_view(reviewer, modal, values).json() is None
    [flag] = events(sandbox, "flagged")
    assert (flag.data["reason"], flag.data["note"]) == (
        "personal_data",
        "Card number in the first turn",
    )
    assert responses(sandbox) == []  # flagging is not answering
    sandbox.settle()
    request = sandbox.latest_dm(reviewer)
    assert "You flagged this item: Contains personal data" in shown(request)
    assert "Confirm: billing" in texts(request)

    press(sandbox, reviewer, request, "Confirm: billing")
    assert [f["reason"] for f in response_of(sandbox, reviewer).flags] == ["personal_data"]
    assert_slack_accepted_everything(sandbox)


def test_flag_after_answering_is_kept_on_the_response(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "bug")
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Flag")
    modal = last_modal(sandbox)
    sandbox.sender.submit_view(
        reviewer, modal, {ids.FLAG_REASON_BLOCK: {ids.CHOICE_INPUT: "unsafe"}}
    )
    assert [f["reason"] for f in response_of(sandbox, reviewer).flags] == ["unsafe"]
    assert response_of(sandbox, reviewer).value == "bug"


def test_rationale_before_answering_is_attached_to_the_answer(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Add rationale")
    modal = last_modal(sandbox)
    empty = sandbox.sender.submit_view(
        reviewer, modal, {ids.RATIONALE_BLOCK: {ids.TEXT_INPUT: "  "}}
    )
    assert empty.json()["response_action"] == "errors"
    note = "Double charge <!channel> is a refund: billing."
    ok = sandbox.sender.submit_view(reviewer, modal, {ids.RATIONALE_BLOCK: {ids.TEXT_INPUT: note}})
    assert ok.json() is None
    sandbox.settle()
    request = sandbox.latest_dm(reviewer)
    assert "Your rationale: Double charge &lt;!channel&gt; is a refund" in shown(request)
    assert "Edit rationale" in texts(request)

    press(sandbox, reviewer, request, "Confirm: billing")
    assert response_of(sandbox, reviewer).rationale == note
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Edit rationale")
    modal = last_modal(sandbox)
    field = next(b for b in modal["blocks"] if b.get("block_id") == ids.RATIONALE_BLOCK)
    assert field["element"]["initial_value"] == note
    sandbox.sender.submit_view(reviewer, modal, {ids.RATIONALE_BLOCK: {ids.TEXT_INPUT: "Refund."}})
    assert response_of(sandbox, reviewer).rationale == "Refund."
    assert [e.data["replaced"] for e in events(sandbox, "rationale_added")] == [False, True]
    assert_slack_accepted_everything(sandbox)


def test_someone_else_cannot_skip_or_flag(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    press(sandbox, "U99STRANGER", request, "Skip")
    press(sandbox, "U99STRANGER", request, "Flag")
    assert sandbox.emulator.views_opened() == []
    assert len(sandbox.emulator.ephemerals("U99STRANGER")) == 2
    assert [a.status for a in assignments(sandbox)] == ["pending"] * 3
    assert events(sandbox, "skipped") == [] and events(sandbox, "flagged") == []
