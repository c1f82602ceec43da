"""GET /api/v1/projects and .../stats: the token's project, and its items by state,
agreement, throughput, backlog and open escalations."""

from __future__ import annotations

from datetime import UTC

from sqlmodel import Session

from bot.workflow.project_versions import require_project
from tests.api.conftest import PROJECT, item
from tests.factories import chat, seed_item


def test_projects_lists_the_tokens_project_with_its_kind_and_version(world, writer):
    with Session(world.sandbox.ctx.engine) as session:
        created = require_project(session, PROJECT).created_at  # when `project apply` ran
    assert writer.get("/projects").json() == {
        "projects": [
            {
                "name": PROJECT,
                "kind": "label",
                "version": 1,
                "created_at": created.astimezone(UTC).isoformat(timespec="microseconds"),
            }
        ]
    }


def test_stats_count_states_agreement_throughput_backlog_and_escalations(world, writer):
    engine, clock = world.sandbox.ctx.engine, world.sandbox.clock
    agree = [("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "bug")]
    split = [("U01ALICE", "bug"), ("U02BOB", "other"), ("U03CARA", "account")]
    two_of_three = [("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "other")]
    clock.advance(hours=-30)
    seed_item(engine, clock, PROJECT, external_id="old", content=chat("old"), answers=agree)
    clock.advance(hours=29, minutes=30)  # 30 minutes ago
    seed_item(engine, clock, PROJECT, external_id="recent", content=chat("x"), answers=agree)
    seed_item(engine, clock, PROJECT, external_id="most", content=chat("y"), answers=two_of_three)
    seed_item(engine, clock, PROJECT, external_id="tie", content=chat("z"), answers=split)
    clock.advance(minutes=30)
    assert (
        writer.post(f"/projects/{PROJECT}/items", json={"items": [item(1), item(2)]}).status_code
        == 201
    )

    stats = writer.get(f"/projects/{PROJECT}/stats").json()
    assert stats["project"] == PROJECT
    assert stats["items"] == {
        "queued": 2,
        "in_review": 0,
        "escalated": 1,
        "signed_off": 3,
        "auto_accepted": 0,
        "failed": 0,
        "total": 6,
    }
    assert stats["answers"] == 12
    agreement = stats["agreement"]
    assert agreement["labels"] == 3
    assert agreement["by_method"] == {"consensus": 3, "lead": 0, "review": 0, "auto": 0, "gold": 0}
    assert agreement["shares"]["consensus"] == 1.0
    assert abs(agreement["mean"] - (1 + 1 + 2 / 3) / 3) < 0.01
    assert stats["throughput"] == {"last_hour": 2, "last_24h": 2}
    assert stats["backlog"] == 2
    assert stats["open_escalations"] == 1
