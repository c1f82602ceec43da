"""Every Slack wording template renders with sample data, and the short ones fit the
Block Kit fields they go into. A new template needs a sample here: the test says so."""

from __future__ import annotations

import re

import pytest

from bot import PROMPTS_DIR
from bot.slack.text import channel_link, mention
from bot.slack.wording import say, template_names

AT = "<!date^1767600000^{date_short_pretty} at {time}|2026-01-05 09:00 UTC>"
SAMPLES: dict[str, dict] = {
    "already_answered": {},
    "already_closed": {"state": "signed off"},
    "answer_closed": {"state": "signed off"},
    "answer_recorded": {"answer": "billing", "at": AT},
    "answer_revision": {"changes": 2},
    "assignment_closed": {"status": "reassigned", "at": AT, "reason": "paused"},
    "assignment_gone": {"status": "skipped"},
    "change_mode": {"answer": "A is much better"},
    "change_refused": {"state": "with the leads for a decision"},
    "command_help": {"command": "/quorum"},
    "understaffed_item": {
        "project_name": "support-intent",
        "external_id": "si-7",
        "reason": "understaffed: needs de + cardiology, 1 of 3 qualified reviewers available",
    },
    "command_next_none": {"paused": True},
    "command_not_member": {"action": "pause"},
    "command_not_overseer": {"project": "support-intent", "what": "status"},
    "command_provenance_usage": {"command": "/quorum"},
    "command_provenance_missing": {
        "external_id": "si-7",
        "several": ["support-intent", "triage-rating"],
        "command": "/quorum",
    },
    "command_provenance": {
        "shown": 25,
        "history": {
            "item": {"project": "support-intent", "id": "si-7", "status": "signed_off"},
            "label": {
                "value": "billing",
                "method": "review",
                "signed_off_by": "U05SENIOR",
                "signed_off_at": "2026-12-02T16:00:00+00:00",
            },
            "chain": {"intact": False, "events": 30, "problem": "event 3 was edited"},
            "events": [
                {"at": "2026-12-02T15:00:00+00:00", "kind": "review_requested", "actor": "quorum"}
            ],
        },
    },
    "command_status": {
        "statuses": [
            {
                "name": "support-intent",
                "counts": [("assigned", 12), ("signed_off", 1200)],
                "open_escalations": 2,
                "staffing_problem": "all 3 reviewers are paused",
                "waiting": [("understaffed: needs de, 1 of 3 qualified reviewers available", 4)],
            }
        ]
    },
    "command_audit": {
        "checks": [
            {"name": "support-intent", "events": 1200, "chains": 40, "problems": 0},
            {
                "name": "triage-rating",
                "events": 30,
                "chains": 3,
                "problems": 2,
                "first_problem": "event 12 of chain item:4 does not hash to its stored hash",
            },
        ]
    },
    "command_next_sent": {"project_name": "support-intent", "external_id": "si-7", "more": 3},
    "command_paused": {"already": False, "moved": 2},
    "command_resumed": {"already": False},
    "command_stats": {
        "pending": 3,
        "today": 4,
        "week": 12,
        "total": 80,
        "agreement": 0.875,
        "compared": 40,
        "paused": True,
    },
    "command_too_long": {"length": 5000, "command": "/quorum"},
    "command_unknown": {"text": "dance"},
    "confirm_button": {"label": "billing"},
    "correction_answer": {"changed": True, "added": 3, "removed": 1},
    "correction_empty": {},
    "correction_intro": {"parts": 3},
    "correction_part_label": {"part": 2, "parts": 3},
    "correction_same": {},
    "correction_unchanged": {},
    "correction_too_long": {"room": 3000},
    "criterion": {"name": "Helpfulness", "chosen": "4 – Very good"},
    "digest_behind": {
        "after": "24 h",
        "reviewers": [{"reviewer": "U01", "overdue": 2, "age": "3 d"}],
    },
    "digest_header": {"project_name": "support-intent", "date": "2026-01-05"},
    "digest_slowest": {"items": [{"external_id": "si-1", "age": "2 d", "pending": 2}]},
    "digest_summary": {
        "total": 40,
        "open": 10,
        "escalated": 2,
        "signed_off": 20,
        "auto_accepted": 8,
        "signed_today": 5,
        "agreement_today": 0.8,
        "agreement_all": 0.75,
    },
    "flag_reason_missing": {},
    "flag_intro": {"project_name": "support-intent", "external_id": "si-1"},
    "flagged_note": {"reasons": ["Unsafe or harmful content", "Contains personal data"]},
    "full_conversation_refused": {},
    "hidden_turns": {"count": 7},
    "home_empty": {},
    "home_escalation_entry": {
        "project_name": "support-intent",
        "external_id": "si-3",
        "reason": "tie between answers",
        "since": AT,
        "channel": channel_link("C0ESCALATE"),
    },
    "home_flag_entry": {
        "project_name": "support-intent",
        "external_id": "si-3",
        "reason": "Contains personal data",
        "reviewer": mention("U01ALICE"),
        "at": AT,
        "note": "card number",
    },
    "home_no_escalations": {},
    "home_open_refused": {},
    "home_paused": {},
    "home_queue_entry": {
        "project_name": "support-intent",
        "external_id": "si-3",
        "since": AT,
        "draft": True,
    },
    "home_queue_more": {"count": 12},
    "home_stats": {
        "pending": 2,
        "today": 5,
        "week": 20,
        "agreement": 0.9,
        "compared": 18,
    },
    "invalid_answer": {"detail": "'x' is not a label of this project"},
    "moved_below": {},
    "no_labels_ticked": {},
    "not_assigned": {},
    "notification": {"project_name": "support-intent"},
    "page_status": {"page": 2, "pages": 3},
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
    "prefer_button": {"side": "A", "strength": "much"},
    "rank_name": {"rank": 2},
    "rank_placeholder": {},
    "rank_status": {"missing": ["2nd", "3rd"]},
    "rank_taken": {"response": "B", "rank": "1st"},
    "rating_answer": {"scores": [("Helpfulness", "4 – Very good"), ("Safety", "2 – Fair")]},
    "rating_status": {"missing": ["Correctness", "Safety"]},
    "rationale_empty": {},
    "rationale_intro": {
        "project_name": "support-intent",
        "external_id": "si-1",
        "answered": True,
        "answer": "billing",
    },
    "rationale_note": {"text": "Refunds go to billing."},
    "reassigned_dm": {"project_name": "support-intent", "reason": "after 3 days"},
    "response_title": {"letter": "C"},
    "document_caption": {"pages": 12, "shown": 3},
    "image_not_ready": {},
    "audio_caption": {"duration": "0:42"},
    "video_caption": {"duration": "1:02:03"},
    "series_summary": {
        "name": "lead_ii",
        "stats": {"min": -0.5, "max": 1.8, "mean": 0.1, "window_mean": 0.9, "window_max": 1.8},
        "unit": "mV",
        "window": [12.0, 14.5],
    },
    "reminder": {"project_name": "support-intent", "due": AT},
    "review_intro": {"project_name": "support-intent", "question": "Which team?"},
    "suggestion": {"value": "billing", "confidence": 0.62, "model": "gpt-4o-mini"},
    "text_too_long": {"length": 4000, "limit": 3000},
}


def control_names() -> list[str]:
    source = (PROMPTS_DIR / "slack" / "controls.j2").read_text()
    return re.findall(r'^\s*"(\w+)":', source, flags=re.MULTILINE)


def test_every_template_has_a_sample():
    missing = sorted(set(template_names()) - set(SAMPLES) - {"controls"})
    assert not missing, f"add sample data for {missing} to SAMPLES"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_template_renders(name: str):
    text = say(name, **SAMPLES[name])
    assert text.strip()
    assert "{{" not in text and "{%" not in text


def test_every_control_text_fits_its_field():
    names = control_names()
    assert len(names) > 40
    for name in names:
        text = say("controls", name=name)
        assert 0 < len(text) <= 75, name
        if name.startswith("modal_"):
            assert len(text) <= 24, f"modal title/button {name!r} is over Slack's 24 characters"


def test_buttons_read_as_the_design_says():
    assert say("prefer_button", side="A", strength=None) == "A is better"
    assert say("prefer_button", side="B", strength="slightly") == "B is slightly better"
    assert say("confirm_button", label="billing") == "Confirm: billing"
    assert say("controls", name="edit_response") == "Edit response"


def test_variants_of_one_template():
    assert say("rating_status", missing=[]) == "Every criterion is rated."
    assert "Poor" not in say("criterion", name="Safety", chosen=None)
    assert "skipped" in say("assignment_closed", status="skipped", at=None, reason=None)
    assert "no longer assigned" in say("assignment_closed", status="expired", at=None, reason=None)
    assert say("command_paused", already=True, moved=0).startswith("Your reviews were already")


def test_the_oversight_answers_put_each_fact_on_its_own_line():
    status = say("command_status", **SAMPLES["command_status"]).splitlines()
    assert status[0].startswith("*support-intent*: 12 assigned")
    assert [line[:2] for line in status[1:]] == ["• ", "• "]
    history = say("command_provenance", **SAMPLES["command_provenance"]).splitlines()
    assert len(history) == 5 and history[3].startswith("• 2026-12-02")
