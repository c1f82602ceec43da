"""`reviewer_group`: a project staffed by a Slack user group, read through the emulator's
usergroups.users.list on the scheduled job; members who leave give up their pending
items by the release rule; a project nobody can staff says so once."""

from __future__ import annotations

import logging

from bot.delivery.scheduler import run_due_jobs
from bot.workflow.intake.groups import LEFT_GROUP
from bot.workflow.intake.problems import dispatch_problems
from storage.models import AssignmentStatus, ItemStatus
from tests.factories import (
    apply,
    assignments,
    conversation,
    events,
    import_file,
    items,
    label_config,
    slack_world,
    texts,
    write_items,
)

GROUP = "S0EXPERTS"
ALICE, BOB, CARA, DAN = "U01ALICE", "U02BOB", "U03CARA", "U04DAN"


def group_project(sandbox, tmp_path, count: int = 2, **changes: object) -> None:
    config = {"reviewers": [], "reviewer_group": GROUP, "overlap": 2, **changes}
    apply(sandbox.ctx.engine, label_config(**config))
    rows = [
        {
            "id": f"t-{n}",
            "conversation": conversation(f"question {n}"),
            "prediction": {"label": "bug", "confidence": 0.1},
        }
        for n in range(count)
    ]
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", rows))


def refresh_groups(sandbox) -> dict:
    return run_due_jobs(sandbox.ctx, sandbox.clock.now(), only=["reviewer_groups"])


def reviewed_by(sandbox) -> set[str]:
    return {a.reviewer_id for a in assignments(sandbox) if a.status == AssignmentStatus.PENDING}


def test_a_group_only_project_sends_its_items_to_the_groups_members(database_url, clock, tmp_path):
    with slack_world(database_url, clock) as sandbox:
        sandbox.emulator.add_usergroup(GROUP, [ALICE, BOB, CARA])
        group_project(sandbox, tmp_path)
        sandbox.settle()
        assert [i.status for i in items(sandbox)] == ["queued", "queued"]  # group not read yet

        assert refresh_groups(sandbox) == {"reviewer_groups": 1}
        (call,) = sandbox.emulator.calls_to("usergroups.users.list")
        assert call.args["usergroup"] == GROUP and call.response["ok"]
        sandbox.settle()
        assert {i.status for i in items(sandbox)} == {ItemStatus.ASSIGNED}
        assert reviewed_by(sandbox) <= {ALICE, BOB, CARA} and len(assignments(sandbox)) == 4
        assert not sandbox.dm(DAN)  # not in the group
        for user in reviewed_by(sandbox):
            assert sandbox.dm(user), f"{user} got no review DM"
        assert dispatch_problems(sandbox.ctx.engine).understaffed == []


def test_a_member_who_leaves_the_group_gives_up_pending_items(database_url, clock, tmp_path):
    with slack_world(database_url, clock) as sandbox:
        sandbox.emulator.add_usergroup(GROUP, [ALICE, BOB])
        group_project(sandbox, tmp_path, count=1)
        refresh_groups(sandbox)
        sandbox.settle()
        assert reviewed_by(sandbox) == {ALICE, BOB}

        sandbox.emulator.add_usergroup(GROUP, [BOB, CARA])  # Alice left, Cara joined
        sandbox.clock.advance(minutes=5)  # the job's next tick
        assert refresh_groups(sandbox) == {"reviewer_groups": 1}
        sandbox.settle()
        (alices,) = [a for a in assignments(sandbox) if a.reviewer_id == ALICE]
        assert alices.status == AssignmentStatus.REASSIGNED
        assert reviewed_by(sandbox) == {BOB, CARA}
        (moved,) = events(sandbox, "reassigned")
        assert moved.data["reason"] == LEFT_GROUP and moved.data["to"] == [CARA]
        # Alice's DM no longer offers the item (its buttons are gone); Cara got it.
        assert texts(sandbox.latest_dm(ALICE)) == []
        assert texts(sandbox.latest_dm(CARA))


def test_a_project_that_cannot_staff_an_item_says_so_once(database_url, clock, tmp_path, caplog):
    with slack_world(database_url, clock) as sandbox:
        sandbox.emulator.add_usergroup(GROUP, [ALICE, BOB])
        sandbox.emulator.revoke_scope("usergroups:read")  # installed without the scope
        group_project(sandbox, tmp_path, count=3)
        with caplog.at_level(logging.INFO):
            refresh_groups(sandbox)
            for _ in range(5):  # five dispatch passes: once a second in `quorum serve`
                sandbox.settle()
                sandbox.clock.advance(seconds=1)
            sandbox.clock.advance(minutes=5)
            refresh_groups(sandbox)  # the same error on the next run: nothing new to say
            sandbox.settle()
        assert {i.status for i in items(sandbox)} == {ItemStatus.QUEUED}
        (said,) = events(sandbox, "understaffed")
        assert "missing_scope" in said.data["problem"] and said.item_id is None
        logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len([m for m in logged if "cannot staff" in m]) == 1
        assert len([m for m in logged if "usergroups:read" in m]) == 1
        (note,) = sandbox.channel_messages("C0ESCALATE")
        assert "support-intent" in note["text"] and "missing_scope" in note["text"]
        (shown,) = dispatch_problems(sandbox.ctx.engine).understaffed
        assert shown[0] == "support-intent" and "missing_scope" in shown[1]

        # The scope is granted: the next run reads the group and the items go out.
        sandbox.emulator.scopes.add("usergroups:read")
        sandbox.clock.advance(minutes=5)
        refresh_groups(sandbox)
        sandbox.settle()
        assert {i.status for i in items(sandbox)} == {ItemStatus.ASSIGNED}
        assert len(events(sandbox, "staffed")) == 1
        assert dispatch_problems(sandbox.ctx.engine).understaffed == []
        assert len(sandbox.channel_messages("C0ESCALATE")) == 1


def test_a_deleted_group_releases_its_members_and_is_reported(database_url, clock, tmp_path):
    with slack_world(database_url, clock) as sandbox:
        sandbox.emulator.add_usergroup(GROUP, [ALICE, BOB])
        group_project(sandbox, tmp_path, count=1, reviewers=[CARA])
        refresh_groups(sandbox)
        sandbox.settle()
        sandbox.emulator.remove_usergroup(GROUP)
        sandbox.clock.advance(minutes=5)
        refresh_groups(sandbox)
        sandbox.settle()
        # Alice or Bob (or both) had it and gave it up; only Cara, listed by name, remains.
        assert reviewed_by(sandbox) == {CARA}
        assert len(events(sandbox, "reassigned")) >= 1
        assert {i.status for i in items(sandbox)} == {ItemStatus.ASSIGNED}
        (shown,) = dispatch_problems(sandbox.ctx.engine).understaffed
        assert "no_such_subteam" in shown[1]


def test_a_group_member_can_pause_and_their_items_move_on(database_url, clock, tmp_path):
    """Group members are reviewers of the project everywhere a person notices it: their
    `/quorum pause` is honoured and their pending item goes to another member."""
    with slack_world(database_url, clock) as sandbox:
        sandbox.emulator.add_usergroup(GROUP, [ALICE, BOB, CARA])
        group_project(sandbox, tmp_path, count=1)
        refresh_groups(sandbox)
        sandbox.settle()
        (first, *_) = sorted(reviewed_by(sandbox))
        reply = sandbox.sender.slash_command(first, "pause")
        assert reply.status == 200
        sandbox.settle()
        assert first not in reviewed_by(sandbox)
        assert len(reviewed_by(sandbox)) == 2 and reviewed_by(sandbox) <= {ALICE, BOB, CARA}
        (paused,) = events(sandbox, "paused")
        assert paused.actor == first and paused.project_id is not None
