"""GET /api/v1/projects/{project}/labels: every signed-off label once, in commit order,
each exactly as `quorum export --format labels` writes it, behind a cursor that stays
valid while new labels arrive (also a label committed after a later one, on PostgreSQL)."""

from __future__ import annotations

import io
import threading

import orjson
import pytest
from sqlalchemy import event
from sqlmodel import Session

from bot.exports.records import decoded
from bot.exports.run import ExportRequest, run_export
from bot.exports.writers import JsonlSink
from bot.workflow.project_versions import require_project
from bot.workflow.review.answer import record_answer
from storage import api_queries
from storage.db import session_scope
from storage.models import Assignment, Item
from tests.api.conftest import PROJECT, item
from tests.factories import answer, apply, chat, label_config, seed_item, wait_for

LABELS = f"/projects/{PROJECT}/labels"
AGREE = [("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "bug")]


def sign_off(world, name: str, answers=AGREE, **kwargs) -> None:
    """An item answered by three reviewers and decided by the real sign-off rule."""
    seed_item(
        world.sandbox.ctx.engine,
        world.sandbox.clock,
        PROJECT,
        external_id=name,
        content=chat(f"question {name}"),
        answers=answers,
        **kwargs,
    )


def follow(client, after: str | None = None, *, limit: int = 100) -> tuple[list[dict], str]:
    """One page: its labels and `next`."""
    params: dict = {"limit": limit} | ({"after": after} if after is not None else {})
    page = client.get(LABELS, params=params)
    assert page.status_code == 200, page.text
    return page.json()["labels"], page.json()["next"]


def read_all(client, count: int, *, limit: int = 100) -> list[dict]:
    """Follow `next` until `count` labels were seen (PostgreSQL serves a label once every
    older write transaction of the server has ended: keep polling, as a consumer does)."""
    seen: list[dict] = []
    cursor: list[str | None] = [None]

    def more() -> bool:
        labels, cursor[0] = follow(client, cursor[0], limit=limit)
        seen.extend(labels)
        return len(seen) >= count

    wait_for(more, what=f"{count} labels")
    return seen


def test_labels_are_the_export_records_in_sign_off_order(world, writer):
    sign_off(world, "c-1")
    sign_off(world, "g-1", gold="bug")
    sign_off(world, "c-2", answers=[("U01ALICE", "bug"), ("U02BOB", "bug"), ("U03CARA", "other")])
    # A confident prediction is auto-accepted: a label with method auto, like the others.
    apply(world.sandbox.ctx.engine, label_config(labels=["billing", "bug", "feature_request"]))
    confident = item("auto", prediction={"label": "billing", "confidence": 0.97})
    assert writer.post(f"/projects/{PROJECT}/items", json={"items": [confident]}).status_code == 201
    world.sandbox.settle()

    labels = read_all(writer, 4)
    assert [label["id"] for label in labels] == ["c-1", "g-1", "c-2", "t-auto"]
    assert [label["method"] for label in labels] == ["consensus", "gold", "consensus", "auto"]
    assert labels[3]["status"] == "auto_accepted"

    out = io.BytesIO()
    run_export(
        world.sandbox.ctx.engine,
        ExportRequest(project=PROJECT, format="labels"),
        sink=JsonlSink(out),
        now=world.sandbox.clock.now(),
        salt="",
    )
    rows = map(orjson.loads, out.getvalue().splitlines())
    exported = {row["id"]: decoded({**row, "content": None}) for row in rows}
    assert {label["id"]: label for label in labels} == exported
    assert labels[1]["provenance"]["sign_off"]["method"] == "gold"
    assert [r["reviewer"] for r in labels[0]["provenance"]["responses"]] == [a for a, _ in AGREE]


def test_pages_follow_next_and_an_empty_page_keeps_its_cursor(world, writer):
    for n in range(5):
        sign_off(world, f"c-{n}")
    read_all(writer, 5)  # every label is served (PostgreSQL: no older write still open)
    first, after_first = follow(writer, limit=2)
    second, after_second = follow(writer, after_first, limit=2)
    third, after_third = follow(writer, after_second, limit=2)
    assert [label["id"] for label in first + second + third] == [f"c-{n}" for n in range(5)]
    empty, same = follow(writer, after_third, limit=2)
    assert (empty, same) == ([], after_third)

    sign_off(world, "c-5")
    new = read_all_after(writer, after_third)
    assert [label["id"] for label in new] == ["c-5"]

    with world.client(world.token("write", project=PROJECT)) as other:
        nothing, start = follow(other, limit=2)
    assert len(nothing) == 2 and start  # a first call without `after` starts at the start


def read_all_after(client, cursor: str) -> list[dict]:
    found: list[dict] = []

    def more() -> bool:
        nonlocal cursor
        labels, cursor = follow(client, cursor)
        found.extend(labels)
        return bool(found)

    wait_for(more, what="a new label")
    return found


def test_an_empty_feed_has_a_cursor_to_poll_with(writer):
    labels, cursor = follow(writer)
    assert labels == [] and cursor
    assert follow(writer, cursor) == ([], cursor)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "eyJwIjotMSwiaSI6MH0"}, "after"),  # {"p":-1,"i":0}
        ({"after": "x" * 201}, "after"),
    ],
)
def test_a_bad_limit_or_cursor_is_422_naming_it(writer, params, field):
    refused = writer.get(LABELS, params=params)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == field


def test_a_consumer_following_next_while_labels_arrive_misses_none_and_repeats_none(world, writer):
    total = 30
    done = threading.Event()
    failures: list[BaseException] = []

    def reviewers_at_work() -> None:
        try:
            for n in range(total):
                sign_off(world, f"live-{n}")
        except BaseException as exc:  # reported by the test below
            failures.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=reviewers_at_work)
    worker.start()
    seen: list[str] = []
    cursor = None
    try:

        def caught_up() -> bool:
            nonlocal cursor
            labels, cursor = follow(writer, cursor, limit=3)
            seen.extend(label["id"] for label in labels)
            return done.is_set() and len(seen) >= total

        wait_for(caught_up, timeout_s=60, what="every label")
    finally:
        worker.join()
    assert failures == []
    assert sorted(seen) == sorted(f"live-{n}" for n in range(total))
    assert len(seen) == len(set(seen))
    assert follow(writer, cursor) == ([], cursor)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_label_committed_after_a_later_one_is_served_after_the_cursor_once(world, writer):
    """Transaction A signs off first (the smaller label id and commit position) but
    commits last; B signs off and commits meanwhile. The feed must not hand out a cursor
    past B while A can still commit a label before it."""
    engine, clock = world.sandbox.ctx.engine, world.sandbox.clock
    with session_scope(engine) as session:
        project = require_project(session, PROJECT)
        late = Item(
            project_id=project.id,
            external_id="late",
            content=chat("late"),
            content_hash="x" * 64,
            status="assigned",
            route_reason="test",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(late)
        session.flush()
        pending = [
            Assignment(
                item_id=late.id, reviewer_id=reviewer, status="pending", created_at=clock.now()
            )
            for reviewer, _ in AGREE
        ]
        session.add_all(pending)
    for assignment in pending[:2]:
        answer(engine, clock, assignment, "bug")

    first = Session(engine)  # transaction A: the last answer signs the item off
    try:
        record_answer(
            first,
            assignment_id=pending[2].id,
            user_id=pending[2].reviewer_id,
            value="bug",
            now=clock.now(),
        )
        first.flush()
        sign_off(world, "early")  # transaction B: signed off after A began, committed first
        before, cursor = follow(writer)
        assert before == []  # not "early": its cursor would pass over "late" for good
        first.commit()
    finally:
        first.close()
    seen = [label["id"] for label in read_all_after_all(writer, cursor, 2)]
    assert seen == ["late", "early"]


def read_all_after_all(client, cursor: str, count: int) -> list[dict]:
    found: list[dict] = []

    def more() -> bool:
        nonlocal cursor
        labels, cursor = follow(client, cursor, limit=1)
        found.extend(labels)
        return len(found) >= count

    wait_for(more, what=f"{count} labels")
    assert follow(client, cursor) == ([], cursor)
    return found


def test_on_sqlite_a_page_is_one_range_scan_of_the_feed_index(sqlite_engine):
    """Each page reads ix_label_feed from the cursor on, with no sort: not every label of
    the project, scanned and sorted for every page."""
    statements: list[tuple[str, tuple]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    event.listen(sqlite_engine, "before_cursor_execute", seen)
    try:
        with Session(sqlite_engine) as session:
            assert api_queries.feed_positions(session, 1, after=(0, 42), limit=100) == []
    finally:
        event.remove(sqlite_engine, "before_cursor_execute", seen)
    (statement, parameters) = next((s, p) for s, p in statements if "FROM label" in s)
    with sqlite_engine.connect() as connection:
        plan = " | ".join(
            row[-1]
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    assert "USING COVERING INDEX ix_label_feed (project_id=? AND txid=? AND id>?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
