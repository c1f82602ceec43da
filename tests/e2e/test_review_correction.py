"""Correction items in Slack: "Edit response" opens a modal with the response prefilled,
the corrected text is stored with a diff, "Looks right" answers with no change, and empty
or unchanged submissions are refused inside the modal."""

from __future__ import annotations

import json

from bot.slack import ids
from tests.factories import (
    assert_slack_accepted_everything,
    events,
    kind_config,
    last_modal,
    press,
    response_of,
    responses,
    shown,
    start,
    texts,
)

ORIGINAL = "The cap is the fees paid over the whole contract.\nIt covers data loss."
ITEM = {
    "id": "lc-1",
    "conversation": [
        {"role": "user", "content": "Summarise clause 12 for sales."},
        {"role": "assistant", "content": ORIGINAL},
    ],
}
FIXED = "The cap is the fees paid in the 12 months before the claim.\nIt covers data loss."


def submit(sandbox, user: str, modal: dict, text: str | None, rationale: str | None = None):
    values = {ids.correction_block(0): {ids.TEXT_INPUT: text}}
    if rationale is not None:
        values[ids.RATIONALE_BLOCK] = {ids.TEXT_INPUT: rationale}
    response = sandbox.sender.submit_view(user, modal, values)
    assert response.status == 200, response.body
    return response.json()


def test_edit_response_in_the_modal_stores_the_text_and_a_diff(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("legal-correction"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    assert texts(request, block_prefix="answer:") == ["Edit response", "Looks right"]
    press(sandbox, reviewer, request, "Edit response")
    modal = last_modal(sandbox)
    assert modal["title"]["text"] == "Edit response"
    field = next(b for b in modal["blocks"] if b.get("block_id") == ids.correction_block(0))
    assert field["element"]["multiline"] is True
    assert field["element"]["initial_value"] == ORIGINAL

    assert (
        submit(sandbox, reviewer, modal, FIXED, rationale="Clause 12.1 says twelve months.") is None
    )
    assert not sandbox.emulator.is_view_open(modal["id"])
    response = response_of(sandbox, reviewer)
    assert response.value["text"] == FIXED and response.value["changed"] is True
    assert "-The cap is the fees paid over the whole contract." in response.value["diff"]
    assert "+The cap is the fees paid in the 12 months before the claim." in response.value["diff"]
    assert response.rationale == "Clause 12.1 says twelve months."
    assert [e.data["rationale"] for e in events(sandbox, "rationale_added")] == [
        "Clause 12.1 says twelve months."
    ]
    sandbox.settle()
    receipt = sandbox.latest_dm(reviewer)
    assert "Recorded *edited the response (+1 −1 lines)*" in shown(receipt)
    assert "*Your version:*" in shown(receipt) and "12 months before the claim" in shown(receipt)
    assert_slack_accepted_everything(sandbox)


def test_empty_or_unchanged_text_is_refused_in_the_modal(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("legal-correction"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Edit response")
    modal = last_modal(sandbox)

    answer = submit(sandbox, reviewer, modal, None)
    assert answer["response_action"] == "errors"
    assert "Write the corrected response" in answer["errors"][ids.correction_block(0)]
    assert sandbox.emulator.is_view_open(modal["id"])

    answer = submit(sandbox, reviewer, modal, ORIGINAL.replace("\n", "  \n") + "\n")
    assert answer["response_action"] == "errors"
    assert "same as the original" in answer["errors"][ids.correction_block(0)]
    assert responses(sandbox) == []

    assert submit(sandbox, reviewer, modal, FIXED) is None
    assert response_of(sandbox, reviewer).value["changed"] is True


def test_looks_right_answers_with_no_change(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("legal-correction"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Looks right")
    assert response_of(sandbox, reviewer).value == {"text": ORIGINAL, "changed": False, "diff": ""}
    sandbox.settle()
    assert "Recorded *looks right, no change*" in shown(sandbox.latest_dm(reviewer))


def test_changing_looks_right_into_an_edit(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("legal-correction"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Looks right")
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Change my answer")
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Edit response")
    modal = last_modal(sandbox)
    assert submit(sandbox, reviewer, modal, FIXED) is None
    response = response_of(sandbox, reviewer)
    assert (response.value["text"], response.revision) == (FIXED, 2)
    [change] = events(sandbox, "answer_changed")
    assert change.data["old"]["changed"] is False and change.data["new"]["changed"] is True

    # Changing again opens the reviewer's own correction, and the same text is refused.
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Change my answer")
    sandbox.settle()
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Edit response")
    modal = last_modal(sandbox)
    field = next(b for b in modal["blocks"] if b.get("block_id") == ids.correction_block(0))
    assert field["element"]["initial_value"] == FIXED
    answer = submit(sandbox, reviewer, modal, FIXED)
    assert "already submitted" in answer["errors"][ids.correction_block(0)]
    assert_slack_accepted_everything(sandbox)


def test_a_response_longer_than_one_input_is_split_and_joined_back(sandbox, tmp_path):
    paragraphs = [f"Paragraph {n}: " + "the clause limits liability. " * 30 for n in range(12)]
    long_text = "\n".join(paragraphs)
    item = dict(
        ITEM, conversation=[ITEM["conversation"][0], {"role": "assistant", "content": long_text}]
    )
    reviewer = start(sandbox, tmp_path, kind_config("legal-correction"), [item])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Edit response")
    modal = last_modal(sandbox)
    inputs = [b for b in modal["blocks"] if b.get("block_id", "").startswith("correction")]
    assert len(inputs) > 1
    assert all(len(b["element"]["initial_value"]) <= 3000 for b in inputs)
    values = {b["block_id"]: {ids.TEXT_INPUT: b["element"]["initial_value"]} for b in inputs}
    response = sandbox.sender.submit_view(reviewer, modal, values)
    assert "same as the original" in response.json()["errors"][ids.correction_block(0)]

    last = inputs[-1]["block_id"]
    values[last] = {ids.TEXT_INPUT: values[last][ids.TEXT_INPUT] + " Subject to clause 9."}
    assert sandbox.sender.submit_view(reviewer, modal, values).json() is None
    assert response_of(sandbox, reviewer).value["text"] == long_text + " Subject to clause 9."
    assert_slack_accepted_everything(sandbox)


def test_a_forged_edit_of_many_boxes_is_refused_in_the_modal(sandbox, tmp_path):
    """Each input box is capped by Slack, but a submission claiming a hundred boxes could
    still carry 300 kB: an edit may add at most 3,000 characters to the response."""
    reviewer = start(sandbox, tmp_path, kind_config("legal-correction"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Edit response")
    modal = last_modal(sandbox)
    parts = 100
    meta = json.loads(modal["private_metadata"])
    box = {"type": "plain_text_input", "value": "w" * 2900}
    forged = {
        "type": "view_submission",
        "team": {"id": "T0QUORUM", "domain": "quorum"},
        "user": {"id": reviewer, "team_id": "T0QUORUM"},
        "view": {
            **modal,
            "private_metadata": json.dumps({**meta, "n": parts, "j": ["\n"] * (parts - 1)}),
            "state": {
                "values": {ids.correction_block(n): {ids.TEXT_INPUT: box} for n in range(parts)}
            },
        },
    }
    answer = sandbox.sender.post_payload(forged)
    assert answer.status == 200 and answer.json()["response_action"] == "errors"
    assert "3,000 characters" in answer.json()["errors"][ids.correction_block(0)]
    assert responses(sandbox) == []
    # Within the room it is kept.
    assert submit(sandbox, reviewer, modal, ORIGINAL + " And more." * 200) is None
    assert response_of(sandbox, reviewer).value["changed"] is True
