"""Long samples: a 20,000-character conversation fits the DM's Block Kit limits, and the
whole of it is readable in a paged "Show full conversation" modal. Code blocks and lists
survive the cuts; nothing from the sample can ping anyone."""

from __future__ import annotations

import json

from tests.factories import (
    assert_slack_accepted_everything,
    kind_config,
    last_modal,
    press,
    shown,
    start,
    texts,
)

CODE = (
    "```python\n" + "\n".join(f"def step_{n}(x):\n    return x + {n}" for n in range(90)) + "\n```"
)
LIST = "\n".join(f"- check item {n} of the runbook" for n in range(40))


def long_conversation() -> list[dict]:
    turns = []
    for n in range(10):
        turns.append({"role": "user", "content": f"TURN-{n:02d} <!channel> & " + "why? " * 150})
        turns.append({"role": "assistant", "content": f"ANSWER-{n:02d} " + "because. " * 120})
    turns.append({"role": "user", "content": "FINAL-QUESTION: and the code?"})
    turns.append({"role": "assistant", "content": f"FINAL-ANSWER\n{LIST}\n{CODE}\nDone."})
    return turns


TURNS = long_conversation()
ITEM = {
    "id": "long-1",
    "conversation": TURNS,
    "prediction": {"label": "bug", "confidence": 0.4, "model": "intent-v3"},
}


def sections(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


def test_the_conversation_is_at_least_20000_characters():
    assert sum(len(t["content"]) for t in TURNS) >= 20_000


def test_the_dm_stays_within_limits_and_offers_the_full_conversation(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    assert len(request["blocks"]) <= 50
    assert all(len(text) <= 3000 for text in sections(request["blocks"]))
    assert all(text.count("```") % 2 == 0 for text in sections(request["blocks"]))
    assert "not shown here" in shown(request)
    assert "TURN-00" in shown(request) and "FINAL-ANSWER" in shown(request)
    assert "<!channel>" not in json.dumps(request)
    assert "Show full conversation" in texts(request)
    assert "Confirm: bug" in texts(request)  # the answer buttons survive the long content
    assert_slack_accepted_everything(sandbox)


def test_the_full_conversation_modal_pages_through_everything(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Show full conversation")
    modal = last_modal(sandbox)
    assert modal["title"]["text"] == "Full conversation"

    seen, pages = [], 0
    while True:
        pages += 1
        assert len(modal["blocks"]) <= 100
        assert all(len(text) <= 3000 for text in sections(modal["blocks"]))
        assert all(text.count("```") % 2 == 0 for text in sections(modal["blocks"]))
        seen += sections(modal["blocks"])
        buttons = texts(modal)
        if pages > 1:
            assert "‹ Previous page" in buttons
        if "Next page ›" not in buttons:
            break
        updates = len(sandbox.emulator.calls_to("views.update"))
        response = sandbox.sender.click_in_view(reviewer, modal, text="Next page ›")
        assert response.status == 200
        assert len(sandbox.emulator.calls_to("views.update")) == updates + 1
        modal = sandbox.emulator.view(modal["id"])
    assert pages >= 2
    assert f"Page {pages} of {pages}" in shown(modal)
    text = "\n".join(seen)
    for n in range(10):  # every turn is there, in order
        assert text.index(f"TURN-{n:02d}") < text.index(f"ANSWER-{n:02d}")
    assert text.index("ANSWER-09") < text.index("FINAL-ANSWER")
    assert "- check item 39 of the runbook" in text
    assert "def step_89(x):" in text
    assert "&lt;!channel&gt; &amp;" in text and "<!channel>" not in text
    shown_chars = sum(len(s) for s in seen)
    assert shown_chars >= sum(len(t["content"]) for t in TURNS)

    sandbox.sender.click_in_view(reviewer, modal, text="‹ Previous page")
    assert f"Page {pages - 1} of {pages}" in shown(sandbox.emulator.view(modal["id"]))
    assert_slack_accepted_everything(sandbox)


def test_only_reviewers_and_leads_can_open_it(sandbox, tmp_path):
    reviewer = start(sandbox, tmp_path, kind_config("support-intent"), [ITEM])[0]
    request = sandbox.latest_dm(reviewer)
    press(sandbox, "U99STRANGER", request, "Show full conversation")
    assert sandbox.emulator.views_opened() == []
    [notice] = sandbox.emulator.ephemerals("U99STRANGER")
    assert "Only the item's reviewers" in notice["text"]


def test_long_preference_responses_fit_too(sandbox, tmp_path):
    long_answer = "Step one.\n" + "\n".join(f"{n}. do the thing number {n}" for n in range(600))
    pair = {
        "id": "pair-long",
        "prompt": [{"role": "user", "content": "Explain DNS " * 400}],
        "responses": [
            {"id": "a", "content": long_answer + "\n" + CODE},
            {"id": "b", "content": "Short answer."},
        ],
    }
    reviewer = start(sandbox, tmp_path, kind_config("code-preference"), [pair])[0]
    request = sandbox.latest_dm(reviewer)
    assert len(request["blocks"]) <= 50
    assert "Show full conversation" in texts(request)
    assert "A is much better" in texts(request)
    press(sandbox, reviewer, request, "Show full conversation")
    modal = last_modal(sandbox)
    assert "*Prompt*" in shown(modal) and "Next page ›" in texts(modal)
    assert_slack_accepted_everything(sandbox)


def test_the_rated_reply_is_always_shown(sandbox, tmp_path):
    rated = dict(ITEM, id="rated-long")
    rated.pop("prediction")
    reviewer = start(sandbox, tmp_path, kind_config("triage-rating"), [rated])[0]
    request = sandbox.latest_dm(reviewer)
    assert len(request["blocks"]) <= 50
    assert "FINAL-ANSWER" in shown(request)  # the reply being rated is always shown
    assert_slack_accepted_everything(sandbox)
