"""What a forged or careless request can do through the real app: nothing outside the
bot's own workspace, nothing over Slack's text caps, nothing for someone in no project,
and no event id the database cannot hold."""

from __future__ import annotations

import json
import time

from sqlmodel import select

from bot.sandbox.harness import SANDBOX_SECRET
from bot.sandbox.slack_requests import SlackRequestSender
from bot.slack import ids, inbound
from bot.slack.escalation import DECIDE_VIEW
from storage.db import session_scope
from storage.models import Escalation, Event, Label, Reviewer, SlackDelivery
from tests.factories import (
    LEAD,
    REVIEWERS,
    apply,
    conversation,
    database_state,
    import_file,
    label_config,
    last_modal,
    press,
    response_of,
    write_items,
)

STRANGER = "U99STRANGER"
ITEM = {
    "id": "t-1",
    "conversation": conversation("I was charged twice"),
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
}


def escalate(sandbox, tmp_path) -> dict:  # type: ignore[no-untyped-def]
    """Two reviewers say billing, one says bug: the leads' channel message."""
    apply(sandbox.ctx.engine, label_config(agreement=0.8))
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [ITEM]))
    sandbox.settle()
    reviewers = [user for user in REVIEWERS if sandbox.dm(user)]
    for user, text in zip(reviewers, ("Confirm: billing", "Confirm: billing", "bug"), strict=True):
        press(sandbox, user, sandbox.latest_dm(user), text)
    sandbox.settle()
    return [m for m in sandbox.channel_messages("C0ESCALATE") if not m.get("thread_ts")][-1]


def foreign(sandbox, *, team: str = "T0OTHER", enterprise: str | None = "E0OTHER"):  # type: ignore[no-untyped-def]
    """A sender signing with the app's secret (the same app installed elsewhere)."""
    return SlackRequestSender(
        sandbox.sender.app_url,
        SANDBOX_SECRET,
        emulator=sandbox.emulator,
        team_id=team,
        enterprise_id=enterprise,
    )


def test_a_leads_accept_from_another_workspace_resolves_nothing(sandbox, tmp_path):
    message = escalate(sandbox, tmp_path)
    for sender in (foreign(sandbox), foreign(sandbox, team="T0OTHER", enterprise=None)):
        before = database_state(sandbox.ctx.engine)
        assert sender.click(LEAD, message, text="Accept: bug").status == 403
        assert sender.slash_command(REVIEWERS[0], "pause").status == 403
        assert sender.app_home_opened(REVIEWERS[0]).status == 403
        assert database_state(sandbox.ctx.engine) == before
    # Our own workspace's id with a foreign org is not ours either.
    assert foreign(sandbox, team="T0QUORUM").click(LEAD, message, text="Accept: bug").status == 403
    with session_scope(sandbox.ctx.engine) as session:
        assert session.exec(select(Escalation)).one().status == "open"
        assert session.exec(select(Label)).all() == []
    # The lead, from the bot's own workspace, still decides.
    assert sandbox.sender.click(LEAD, message, text="Accept: bug").status == 200
    with session_scope(sandbox.ctx.engine) as session:
        assert session.exec(select(Label)).one().value == "bug"


def test_someone_in_no_project_is_told_so_and_nothing_is_written(sandbox, tmp_path):
    sandbox.emulator.add_user(STRANGER)
    apply(sandbox.ctx.engine, label_config())
    for word in ("pause", "resume"):
        before = database_state(sandbox.ctx.engine)
        assert sandbox.sender.slash_command(STRANGER, word).status == 200
        answer = sandbox.emulator.ephemerals(STRANGER)[-1]["text"]
        assert "not a reviewer or lead of any Quorum project" in answer
        assert database_state(sandbox.ctx.engine) == before
    assert sandbox.sender.app_home_opened(STRANGER).status == 200
    with session_scope(sandbox.ctx.engine) as session:
        assert session.get(Reviewer, STRANGER) is None
        assert session.exec(select(Event).where(Event.actor == STRANGER)).all() == []
    # A reviewer of the project still pauses.
    assert sandbox.sender.slash_command(REVIEWERS[0], "pause").status == 200
    assert "Paused" in sandbox.emulator.ephemerals(REVIEWERS[0])[-1]["text"]


def test_event_ids_slack_would_never_send_are_refused_and_not_stored(sqlite_sandbox):
    sender = sqlite_sandbox.sender
    event = {"type": "app_home_opened", "user": REVIEWERS[0], "tab": "home"}
    for event_id in ("E" * 500, 12.5, 7, "Ev-1; DROP", "", None, ["Ev1"]):
        envelope = {
            "type": "event_callback",
            "team_id": "T0QUORUM",
            "event": event,
            "event_id": event_id,
        }
        response = sender.post_raw(json.dumps(envelope).encode(), content_type="application/json")
        assert response.status == 400, event_id
    with session_scope(sqlite_sandbox.ctx.engine) as session:
        assert session.exec(select(SlackDelivery)).all() == []
    # A well-formed id is stored once and its retry changes nothing.
    assert sender.event(event, event_id="Ev0GOOD1").status == 200
    assert sender.event(event, event_id="Ev0GOOD1", retry_num=1).status == 200
    with session_scope(sqlite_sandbox.ctx.engine) as session:
        assert [d.event_id for d in session.exec(select(SlackDelivery))] == ["Ev0GOOD1"]


def test_free_text_over_slacks_cap_is_refused_in_the_modal_and_not_stored(sqlite_sandbox, tmp_path):
    sandbox = sqlite_sandbox
    apply(sandbox.ctx.engine, label_config())
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [ITEM]))
    sandbox.settle()
    reviewer = next(user for user in REVIEWERS if sandbox.dm(user))
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Add rationale")
    modal = last_modal(sandbox)
    huge = "x" * 1_000_000
    before = database_state(sandbox.ctx.engine)
    refused = sandbox.sender.submit_view(
        reviewer, modal, {ids.RATIONALE_BLOCK: {ids.TEXT_INPUT: huge}}
    )
    assert refused.json()["response_action"] == "errors"
    assert "1,000,000 characters" in refused.json()["errors"][ids.RATIONALE_BLOCK]
    assert "3,000" in refused.json()["errors"][ids.RATIONALE_BLOCK]
    assert database_state(sandbox.ctx.engine) == before
    # At the cap it is kept.
    at_cap = "y" * inbound.MAX_TEXT
    ok = sandbox.sender.submit_view(
        reviewer, modal, {ids.RATIONALE_BLOCK: {ids.TEXT_INPUT: at_cap}}
    )
    assert ok.json() is None
    press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Confirm: billing")
    assert response_of(sandbox, reviewer).rationale == at_cap


def forged_submission(callback_id: str, metadata: str, values: dict) -> dict:
    return {
        "type": "view_submission",
        "team": {"id": "T0QUORUM", "domain": "quorum"},
        "user": {"id": LEAD, "team_id": "T0QUORUM"},
        "view": {
            "id": "V0FORGED",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": metadata,
            "state": {"values": values},
        },
    }


def test_forged_corrections_and_lead_rationales_over_the_cap_are_refused(sandbox, tmp_path):
    message = escalate(sandbox, tmp_path)
    with session_scope(sandbox.ctx.engine) as session:
        escalation_id = session.exec(select(Escalation)).one().id
    before = database_state(sandbox.ctx.engine)
    long_text = {"type": "plain_text_input", "value": "z" * 400_000}
    decide = forged_submission(
        DECIDE_VIEW, json.dumps({"e": escalation_id}), {"rationale": {"value": long_text}}
    )
    refused = sandbox.sender.post_payload(decide)
    assert refused.status == 200 and refused.json()["response_action"] == "errors"
    assert "400,000 characters" in refused.json()["errors"]["rationale"]
    correction = forged_submission(
        ids.CORRECTION_VIEW,
        json.dumps({"a": 1, "c": 0, "n": 1, "j": []}),
        {ids.correction_block(0): {ids.TEXT_INPUT: long_text}},
    )
    refused = sandbox.sender.post_payload(correction)
    assert ids.correction_block(0) in refused.json()["errors"]
    assert database_state(sandbox.ctx.engine) == before
    assert sandbox.sender.click(LEAD, message, text="Accept: bug").status == 200


def test_crafted_private_metadata_is_refused_at_once_in_every_modal(sqlite_sandbox):
    crafted = ['{"a":1,"n":1000000000000,"j":[]}', "{}", "junk", '{"a":"1"}', '{"e":true}', "[]"]
    before = database_state(sqlite_sandbox.ctx.engine)
    for callback_id in (ids.CORRECTION_VIEW, ids.RATIONALE_VIEW, ids.FLAG_VIEW, DECIDE_VIEW):
        for metadata in crafted:
            started = time.monotonic()
            response = sqlite_sandbox.sender.post_payload(
                forged_submission(callback_id, metadata, {})
            )
            assert response.status == 200, (callback_id, metadata)
            assert time.monotonic() - started < 2, (callback_id, metadata)
    assert database_state(sqlite_sandbox.ctx.engine) == before


def test_a_slash_command_over_the_composers_cap_is_answered_and_changes_nothing(sqlite_sandbox):
    apply(sqlite_sandbox.ctx.engine, label_config())
    before = database_state(sqlite_sandbox.ctx.engine)
    text = "pause " + "x" * inbound.MAX_COMMAND_TEXT
    assert sqlite_sandbox.sender.slash_command(REVIEWERS[0], text).status == 200
    answer = sqlite_sandbox.emulator.ephemerals(REVIEWERS[0])[-1]["text"]
    assert "takes one word" in answer and "Nothing was changed" in answer
    assert database_state(sqlite_sandbox.ctx.engine) == before
