"""Label items in Slack: one button per label (or a menu), multi-label checkboxes, the
model's prediction offered as "Confirm", the AI suggestion, and changing an answer until
the item is signed off."""

from __future__ import annotations

from bot.slack import ids
from bot.slack.payloads import label_token
from tests.factories import (
    assert_slack_accepted_everything,
    conversation,
    events,
    item_status,
    kind_config,
    labels,
    press,
    response_of,
    responses,
    shown,
    start,
    texts,
)

ITEM = {
    "id": "si-1",
    "conversation": conversation("I was charged twice for March <!here>"),
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
}


def test_buttons_answer_in_one_tap_and_the_dm_shows_what_was_recorded(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    assert texts(request, block_prefix="answer:") == [
        "Confirm: billing",
        "bug",
        "account",
        "feature_request",
        "other",
    ]
    assert texts(request, block_prefix="tools:") == ["Add rationale", "Skip", "Flag"]
    assert "Model prediction: *billing* (0.55, intent-v3)" in shown(request)
    assert "&lt;!here&gt;" in shown(request) and "<!here>" not in shown(request)

    press(sandbox, reviewer, request, "bug")
    sandbox.settle()
    receipt = sandbox.latest_dm(reviewer)
    assert "Recorded *bug*" in shown(receipt)
    assert texts(receipt, block_prefix="answer:") == []
    assert texts(receipt, block_prefix="tools:")[0] == "Change my answer"
    assert response_of(sandbox, reviewer).value == "bug"
    assert_slack_accepted_everything(sandbox)


def test_change_my_answer_works_before_sign_off_and_is_refused_after(sandbox, tmp_path):
    first, second, third = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])
    press(sandbox, first, sandbox.latest_dm(first), "bug")
    sandbox.settle()

    press(sandbox, first, sandbox.latest_dm(first), "Change my answer")
    sandbox.settle()
    reopened = sandbox.latest_dm(first)
    assert "You are changing your answer (recorded: *bug*)" in shown(reopened)
    assert texts(reopened, block_prefix="answer:")[0] == "Confirm: billing"
    assert texts(reopened, block_prefix="tools:") == ["Keep my answer"]
    press(sandbox, first, reopened, "Confirm: billing")
    sandbox.settle()
    changed = sandbox.latest_dm(first)
    assert "Recorded *billing*" in shown(changed)
    assert "Changed 1 time since your first answer" in shown(changed)
    response = response_of(sandbox, first)
    assert (response.value, response.revision) == ("billing", 2)
    [change] = events(sandbox, "answer_changed")
    assert (change.data["old"], change.data["new"], change.data["revision"]) == (
        "bug",
        "billing",
        2,
    )

    for user in (second, third):
        press(sandbox, user, sandbox.latest_dm(user), "Confirm: billing")
    sandbox.settle()
    assert item_status(sandbox) == "signed_off"
    assert [label.value for label in labels(sandbox)] == ["billing"]

    # The first reviewer's DM still offers the button; pressing it now is refused.
    press(sandbox, first, sandbox.latest_dm(first), "Change my answer")
    [refusal] = sandbox.emulator.ephemerals(first)
    assert "already signed off" in refusal["text"]
    sandbox.settle()
    closed = sandbox.latest_dm(first)
    assert "can no longer change" in shown(closed)
    assert "Change my answer" not in texts(closed)
    assert response_of(sandbox, first).revision == 2
    assert len(events(sandbox, "answer_changed")) == 1
    # The reviewer whose answer closed the item sees it closed straight away.
    assert "can no longer change" in shown(sandbox.latest_dm(third))
    assert_slack_accepted_everything(sandbox)


def test_keep_my_answer_leaves_it_unchanged(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "other")
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Change my answer")
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Keep my answer")
    sandbox.settle()
    assert "Recorded *other*" in shown(sandbox.latest_dm(reviewer))
    assert response_of(sandbox, reviewer).revision == 1
    assert events(sandbox, "answer_changed") == []


def test_a_second_different_click_points_to_change_my_answer(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    press(sandbox, reviewer, request, "bug")
    press(sandbox, reviewer, request, "bug")  # a double click: silent
    assert sandbox.emulator.ephemerals(reviewer) == []
    press(sandbox, reviewer, request, "account")  # a stale message: says what to do
    [notice] = sandbox.emulator.ephemerals(reviewer)
    assert "Change my answer" in notice["text"]
    assert [r.value for r in responses(sandbox)] == ["bug"]


def test_many_labels_come_as_a_menu_with_confirm_for_the_prediction(sandbox, tmp_path):
    many = ["billing", "bug", "account", "feature_request", "security", "sales", "other"]
    reviewer = start(sandbox, tmp_path, kind_config("support-intent", labels=many), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    answer_block = next(b for b in request["blocks"] if b.get("block_id", "").startswith("answer:"))
    kinds = [e["type"] for e in answer_block["elements"]]
    assert kinds == ["button", "static_select"]
    assert [o["text"]["text"] for o in answer_block["elements"][1]["options"]] == many
    sandbox.sender.click(reviewer, request, action_id=ids.PICK_LABEL, selected="security")
    assert response_of(sandbox, reviewer).value == "security"
    sandbox.settle()
    assert "Recorded *security*" in shown(sandbox.latest_dm(reviewer))
    assert_slack_accepted_everything(sandbox)


def test_long_label_names_travel_as_tokens(sandbox, tmp_path):
    long_name = "the customer asks about " + "a very specific contract clause " * 5
    config = kind_config("support-intent", labels=["billing", long_name, "other"])
    reviewer = start(sandbox, tmp_path, config, [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    sandbox.sender.click(
        reviewer, request, action_id=ids.PICK_LABEL, selected=label_token(long_name)
    )
    assert response_of(sandbox, reviewer).value == long_name
    assert_slack_accepted_everything(sandbox)


def test_multi_label_ticks_then_submit(sandbox, tmp_path):
    config = kind_config("support-intent", multi_label=True)
    item = dict(ITEM, prediction={"label": ["billing", "account"], "confidence": 0.5})
    reviewer = start(sandbox, tmp_path, config, [item])[0]
    request = sandbox.latest_dm(reviewer)
    picker_block = next(b for b in request["blocks"] if b["block_id"].startswith("labels:"))
    assert picker_block["elements"][0]["type"] == "checkboxes"
    assert texts(request, block_prefix="submit:") == ["Submit", "Confirm: billing, account"]

    press(sandbox, reviewer, request, "Submit")  # nothing ticked
    [notice] = sandbox.emulator.ephemerals(reviewer)
    assert "Tick at least one label" in notice["text"]
    assert responses(sandbox) == []

    ticks = {picker_block["block_id"]: {ids.TICK_LABELS: ["bug", "billing"]}}
    sandbox.sender.click(reviewer, request, action_id=ids.TICK_LABELS, selected=["bug", "billing"])
    press(sandbox, reviewer, request, "Submit", values=ticks)
    assert response_of(sandbox, reviewer).value == ["billing", "bug"]
    sandbox.settle()
    assert "Recorded *billing, bug*" in shown(sandbox.latest_dm(reviewer))
    assert_slack_accepted_everything(sandbox)


def test_multi_label_confirm_takes_the_prediction(sandbox, tmp_path):
    config = kind_config("support-intent", multi_label=True)
    item = dict(ITEM, prediction={"label": ["billing", "account"], "confidence": 0.5})
    reviewer = start(sandbox, tmp_path, config, [item])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Confirm: billing, account")
    assert response_of(sandbox, reviewer).value == ["billing", "account"]
