"""Roles through the real Bolt app and the Slack emulator: an auditor reads a project's
status and audit check from Slack and changes nothing, whatever they click; an owner
sees the project as its leads do without resolving; reviewers cannot read either."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from bot.config.project import ProjectConfigError, parse_project
from bot.sandbox.harness import SlackSandbox
from storage.db import session_scope
from storage.models import Escalation, Event, Response
from tests.e2e.test_escalation import ITEM, buttons, current, state
from tests.factories import (
    LEADS,
    REVIEWERS,
    apply,
    database_state,
    import_file,
    label_config,
    shown,
    write_items,
)

AUDITOR, OWNER = "U07AUDIT", "U08OWNER"


@pytest.fixture
def sandbox(database_url: str, clock) -> Iterator[SlackSandbox]:  # type: ignore[no-untyped-def]
    with SlackSandbox(
        database_url,
        users=[*REVIEWERS, *LEADS, AUDITOR, OWNER],
        channels=["C0ESCALATE"],
        clock=clock,
    ) as running:
        yield running


def escalated(sandbox, tmp_path) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """One item answered billing, billing, bug under agreement 0.8: the leads' message,
    and a review DM as it was before its reviewer answered."""
    apply(
        sandbox.ctx.engine,
        label_config(agreement=0.8, auditors=[AUDITOR], owners=[OWNER]),
    )
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [ITEM]))
    sandbox.settle()
    given = [u for u in REVIEWERS if sandbox.dm(u)]
    request = copy.deepcopy(sandbox.latest_dm(given[0]))
    for user, answer in zip(given, ("Confirm: billing", "Confirm: billing", "bug"), strict=True):
        sandbox.sender.click(user, sandbox.latest_dm(user), text=answer)
    sandbox.settle()
    [message] = [m for m in sandbox.channel_messages("C0ESCALATE") if not m.get("thread_ts")]
    return message, request


def commanded(sandbox, user: str, words: str) -> str:  # type: ignore[no-untyped-def]
    before = len(sandbox.emulator.ephemerals(user))
    assert sandbox.sender.slash_command(user, words).status == 200
    [answer] = sandbox.emulator.ephemerals(user)[before:]
    return answer["text"]


def test_an_auditors_clicks_on_answers_and_lead_buttons_change_nothing(sandbox, tmp_path):
    message, reviewer_dm = escalated(sandbox, tmp_path)
    before = database_state(sandbox.ctx.engine)
    for user in (AUDITOR, OWNER):
        sandbox.sender.click(user, message, text="Accept: billing")
        sandbox.sender.click(user, message, text="Decide…")
        sandbox.sender.click(user, reviewer_dm, text="bug")
    sandbox.settle()
    assert database_state(sandbox.ctx.engine) == before
    assert state(sandbox) == ("open", None, [])
    assert sandbox.emulator.views_opened() == []
    assert buttons(current(sandbox, message)) == ["Accept: billing", "Accept: bug", "Decide…"]
    for user in (AUDITOR, OWNER):
        notices = [n["text"] for n in sandbox.emulator.ephemerals(user)]
        assert sum("Only the leads of *support-intent*" in n for n in notices) == 2
        assert "This item is not assigned to you, so nothing was recorded." in notices
    with Session(sandbox.ctx.engine) as session:
        assert {r.reviewer_id for r in session.exec(select(Response))} <= set(REVIEWERS)


def test_an_auditor_reads_status_and_the_audit_check_from_slack(sandbox, tmp_path):
    escalated(sandbox, tmp_path)
    status = commanded(sandbox, AUDITOR, "status")
    assert "*support-intent*: 1 escalated · 1 open escalation" in status
    assert commanded(sandbox, OWNER, "status support-intent") == status

    check = commanded(sandbox, AUDITOR, "audit support-intent")
    assert ":white_check_mark: *support-intent*: the audit trail holds" in check

    with session_scope(sandbox.ctx.engine) as session:  # someone edits an answer's event
        [answered] = session.exec(select(Event).where(Event.kind == "answered")).all()[:1]
        session.execute(
            text("UPDATE event SET data = :data WHERE id = :id"),
            {"data": '{"value": "bug"}', "id": answered.id},
        )
    broken = commanded(sandbox, AUDITOR, "audit")
    assert ":rotating_light: *support-intent*: 1 problem in the audit trail" in broken
    assert "quorum audit verify" in broken


def test_an_auditor_reads_an_items_provenance_from_slack(sandbox, tmp_path):
    escalated(sandbox, tmp_path)
    history = commanded(sandbox, AUDITOR, "provenance t-1")
    assert history.startswith("*support-intent* · item `t-1` · escalated")
    assert ":white_check_mark: its audit chain holds" in history
    lines = history.splitlines()  # one fact per line, as Slack shows the text
    assert lines[1].startswith(":white_check_mark:") and lines[-1].startswith("Run `quorum")
    assert all(line.startswith("• ") for line in lines[3:-1])
    for kind in ("item created", "routed", "assigned", "answered", "escalated"):
        assert f" · {kind} · " in history
    assert "no item `t-9`" in commanded(sandbox, AUDITOR, "provenance t-9")
    assert "Say which item" in commanded(sandbox, AUDITOR, "provenance")
    assert "no provenance to show" in commanded(sandbox, REVIEWERS[0], "provenance t-1")


def test_reviewers_and_strangers_cannot_read_a_projects_status_or_audit(sandbox, tmp_path):
    escalated(sandbox, tmp_path)
    reviewer = REVIEWERS[0]
    assert "You don't lead, own or audit any Quorum project" in commanded(
        sandbox, reviewer, "status"
    )
    assert "named `nope`" in commanded(sandbox, AUDITOR, "audit nope")
    assert "no audit to show" in commanded(sandbox, reviewer, "audit support-intent")


def test_owners_and_auditors_see_escalations_on_app_home(sandbox, tmp_path):
    escalated(sandbox, tmp_path)
    for user in (OWNER, AUDITOR):
        assert sandbox.sender.app_home_opened(user).status == 200
        home = sandbox.emulator.home_view(user)
        assert home is not None
        assert "item `t-1`" in shown(home)
    with Session(sandbox.ctx.engine) as session:
        assert session.exec(select(Escalation)).one().status == "open"


def test_an_auditor_cannot_also_review_lead_or_own():
    base = label_config().model_dump(mode="json")
    for role in ("leads", "owners"):
        with pytest.raises(ProjectConfigError, match="an auditor reads everything"):
            parse_project({**base, "auditors": [LEADS[0]], role: [LEADS[0]]})
    with pytest.raises(ProjectConfigError, match="U01ALICE also review"):
        parse_project({**base, "auditors": ["U01ALICE"]})
