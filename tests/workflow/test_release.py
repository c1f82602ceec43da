"""One rule for an assignment leaving its reviewer, whichever way it leaves: a skip, a
pause, an unreachable reviewer, an expired assignment (and, through `release_reviewer`,
leaving a project's pool). The item is topped up from the pool; when nobody can take it
it is decided on the answers it has by the sign-off rule; with no answers at all it goes
to the leads. It is never left assigned to nobody."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli.main import app
from bot.delivery.reassignment import reassign_expired, reassign_unreachable
from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.project_versions import require_project
from bot.workflow.review import pause, release
from bot.workflow.review.outcome import AnswerOutcome, Outcome
from storage.db import session_scope
from storage.models import (
    Assignment,
    AssignmentStatus,
    Escalation,
    Event,
    Item,
    ItemStatus,
    Label,
)
from tests.factories import (
    answer,
    apply,
    conversation,
    example_config,
    import_file,
    label_config,
    write_items,
)

ALICE, BOB, CARA = "U01ALICE", "U02BOB", "U03CARA"
ITEM = {
    "id": "t-1",
    "conversation": conversation("I was charged twice"),
    "prediction": {"label": "billing", "confidence": 0.55, "model": "intent-v3"},
}
WAYS = ("skip", "pause", "unreachable", "expiry")
# What each way leaves the assignment as, and the event that records it.
LEFT_AS = {
    "skip": (AssignmentStatus.SKIPPED, "skipped"),
    "pause": (AssignmentStatus.REASSIGNED, "reassigned"),
    "unreachable": (AssignmentStatus.REASSIGNED, "reassigned"),
    "expiry": (AssignmentStatus.EXPIRED, "reassigned"),
}


def start(engine, context, tmp_path, *, reviewers: list[str], overlap: int) -> list[Assignment]:
    apply(engine, label_config(reviewers=reviewers, overlap=overlap))
    import_file(engine, write_items(tmp_path / "items.jsonl", [ITEM]))
    dispatch_queued(engine, clock=context.clock, rng=context.rng)
    return assignments(engine)


def assignments(engine) -> list[Assignment]:
    with Session(engine) as session:
        return list(session.exec(select(Assignment).order_by(Assignment.id)))


def pending_of(engine, user: str) -> Assignment:
    (found,) = [a for a in assignments(engine) if a.reviewer_id == user and a.status == "pending"]
    return found


def the_item(engine) -> Item:
    with Session(engine) as session:
        return session.exec(select(Item)).one()


def events(engine, kind: str) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(Event.id)))


def leave(engine, context, way: str, user: str) -> None:
    """`user`'s pending assignment leaves them the given way, through that way's own
    entry point."""
    assignment = pending_of(engine, user)
    rng = context.rng
    if way == "skip":
        with session_scope(engine) as session:
            result = release.skip(
                session,
                assignment_id=assignment.id,
                user_id=user,
                now=context.clock.now(),
                rng=rng,
            )
        assert result.outcome == Outcome.SKIPPED
    elif way == "pause":
        with session_scope(engine) as session:
            paused = pause.pause(session, user_id=user, now=context.clock.now(), rng=rng)
        assert paused.moved == 1
    elif way == "unreachable":
        with session_scope(engine) as session:
            reassign_unreachable(
                session,
                assignment.id,
                reason="account_inactive",
                now=context.clock.now(),
                rng=rng,
            )
    elif way == "expiry":
        assert assignment.due_at is not None
        later = assignment.due_at + timedelta(minutes=1)
        context.clock.advance(seconds=(later - context.clock.now()).total_seconds())
        assert reassign_expired(engine, now=context.clock.now(), rng=rng) >= 1
    else:
        raise AssertionError(way)


@pytest.mark.parametrize("way", WAYS)
def test_a_sole_reviewer_leaving_sends_the_item_to_the_leads(engine, context, tmp_path, way):
    """The bug this rule fixes: the only reviewer skipping left the item `assigned` with
    nobody on it, forever; the reassignment path escalated. Now every way escalates."""
    start(engine, context, tmp_path, reviewers=[ALICE], overlap=1)
    leave(engine, context, way, ALICE)
    item = the_item(engine)
    assert item.status == ItemStatus.ESCALATED
    with Session(engine) as session:
        (escalation,) = session.exec(select(Escalation)).all()
    assert escalation.reason == release.NO_REVIEWER
    (only,) = assignments(engine)
    status, kind = LEFT_AS[way]
    assert only.status == status
    (left,) = events(engine, kind)
    assert left.data["from"] == ALICE and left.data["to"] == [] and left.data["reviewer"] == ALICE
    assert events(engine, "understaffed")[-1].data == {"wanted": 1, "have": 0}
    (escalated,) = events(engine, "escalated")
    assert escalated.data["reason"] == release.NO_REVIEWER


@pytest.mark.parametrize("way", WAYS)
def test_with_answers_in_the_item_is_decided_on_them_by_the_sign_off_rule(
    engine, context, tmp_path, way
):
    start(engine, context, tmp_path, reviewers=[ALICE, BOB], overlap=2)
    assert answer(engine, context.clock, pending_of(engine, ALICE), "billing").outcome == (
        AnswerOutcome.RECORDED
    )
    leave(engine, context, way, BOB)
    assert the_item(engine).status == ItemStatus.SIGNED_OFF
    with Session(engine) as session:
        (label,) = session.exec(select(Label)).all()
    assert (label.value, label.method, label.agreement) == ("billing", "consensus", 1.0)
    assert events(engine, "understaffed")[-1].data == {"wanted": 2, "have": 1}


@pytest.mark.parametrize("way", WAYS)
def test_a_tie_left_behind_escalates_as_the_sign_off_rule_says(engine, context, tmp_path, way):
    start(engine, context, tmp_path, reviewers=[ALICE, BOB, CARA], overlap=3)
    answer(engine, context.clock, pending_of(engine, ALICE), "billing")
    answer(engine, context.clock, pending_of(engine, BOB), "bug")
    leave(engine, context, way, CARA)
    assert the_item(engine).status == ItemStatus.ESCALATED
    with Session(engine) as session:
        (escalation,) = session.exec(select(Escalation)).all()
    assert escalation.reason == "tie between answers"


@pytest.mark.parametrize("way", WAYS)
def test_someone_free_in_the_pool_takes_the_item(engine, context, tmp_path, way):
    start(engine, context, tmp_path, reviewers=[ALICE, BOB], overlap=1)
    first = assignments(engine)[0].reviewer_id
    other = BOB if first == ALICE else ALICE
    leave(engine, context, way, first)
    assert the_item(engine).status == ItemStatus.ASSIGNED
    newcomer = pending_of(engine, other)
    (left,) = events(engine, LEFT_AS[way][1])
    assert left.data["from"] == first and left.data["to"] == [other]
    assert left.data["new_assignment_ids"] == [newcomer.id]
    assert events(engine, "understaffed") == []


def test_a_second_skip_by_the_sole_reviewer_changes_nothing(engine, context, tmp_path):
    (assignment,) = start(engine, context, tmp_path, reviewers=[ALICE], overlap=1)
    leave(engine, context, "skip", ALICE)
    with session_scope(engine) as session:
        again = release.skip(
            session,
            assignment_id=assignment.id,
            user_id=ALICE,
            now=context.clock.now(),
            rng=context.rng,
        )
    assert again.outcome == Outcome.CLOSED  # the item went to the leads
    assert len(events(engine, "escalated")) == 1


def test_every_release_path_goes_through_release_assignment(engine, context, tmp_path, monkeypatch):
    """Skip, pause, an unreachable reviewer and expiry all call the one function."""
    calls: list[tuple[str, str, str | None]] = []
    original = release.release_assignment

    def spy(session, assignment, item, project, config, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((assignment.reviewer_id, kwargs["status"], kwargs["reason"]))
        return original(session, assignment, item, project, config, **kwargs)

    monkeypatch.setattr(release, "release_assignment", spy)
    pool = [ALICE, BOB, CARA, "U04DAN", "U05ERIN"]
    start(engine, context, tmp_path, reviewers=pool, overlap=1)
    seen = []
    for way in WAYS:
        user = next(a.reviewer_id for a in assignments(engine) if a.status == "pending")
        leave(engine, context, way, user)
        seen.append(user)
    assert calls == [
        (seen[0], AssignmentStatus.SKIPPED, None),
        (seen[1], AssignmentStatus.REASSIGNED, "paused"),
        (seen[2], AssignmentStatus.REASSIGNED, "slack: account_inactive"),
        (seen[3], AssignmentStatus.EXPIRED, "expired"),
    ]
    assert the_item(engine).status == ItemStatus.ASSIGNED  # the fifth reviewer has it


def test_a_reviewer_leaving_a_projects_pool_hands_on_only_that_projects_items(
    engine, context, tmp_path
):
    start(engine, context, tmp_path, reviewers=[ALICE, BOB], overlap=1)
    first = assignments(engine)[0].reviewer_id
    with session_scope(engine) as session:
        project = require_project(session, "support-intent")
        assert project.id is not None
        now, rng = context.clock.now(), context.rng
        kept = release.release_reviewer(
            session, first, reason="left", actor="U09LEAD", now=now, rng=rng, project_id=-1
        )
        moved = release.release_reviewer(
            session, first, reason="left", actor="U09LEAD", now=now, rng=rng, project_id=project.id
        )
    assert (kept, moved) == (0, 1)
    (left,) = events(engine, "reassigned")
    assert left.actor == "U09LEAD" and left.data["reason"] == "left"
    assert pending_of(engine, BOB if first == ALICE else ALICE)


def test_project_apply_without_a_reviewer_hands_their_pending_items_on(engine, tmp_path):
    reviewers = [ALICE, BOB, CARA, "U04DAN"]
    config = example_config("support-intent", reviewers=reviewers, overlap=3)
    apply(engine, config)
    import_file(engine, write_items(tmp_path / "items.jsonl", [ITEM]))
    dispatch_queued(engine)
    (leaving,) = [a.reviewer_id for a in assignments(engine)][:1]
    kept = [r for r in reviewers if r != leaving]
    path = tmp_path / "support-intent.yml"
    data = config.model_dump(mode="json")
    data["reviewers"] = kept
    path.write_text(yaml.safe_dump(data))
    url = str(engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(app, ["project", "apply", str(path)], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert f"Removed from the reviewers: {leaving}; 1 pending item(s) moved" in result.output
    (left,) = events(engine, "reassigned")
    assert left.data["reason"] == "removed from the project's reviewers"
    pending = [a.reviewer_id for a in assignments(engine) if a.status == "pending"]
    assert leaving not in pending and len(pending) == 3
    assert the_item(engine).status == ItemStatus.ASSIGNED
