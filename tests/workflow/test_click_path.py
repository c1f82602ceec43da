"""What one reviewer's click costs the database: the statements of an answer, the SQLite
write lock taken without touching a key, and project configs read once per version."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from bot.delivery.outbox import home_key
from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.project_versions import project_config, require_project
from bot.workflow.review import answer
from bot.workflow.review.outcome import Outcome
from bot.workflow.transaction import run_in_transaction
from storage import review_queries
from storage.db import session_scope
from storage.models import Assignment, Item, OutboxMessage, Response
from tests.factories import apply, conversation, import_file, label_config, write_items

# The statements of one recorded answer that does not close its item: take the write
# lock (SQLite: BEGIN IMMEDIATE; nothing on PostgreSQL), lock the assignment, lock the
# item, read the project (its config comes from the process cache), read the draft,
# write the assignment and the response, read the item's assignments (is anyone still
# working on it?), the chain head and the `answered` event, the DM's chat.update and
# the reviewer's Home marked stale (one upsert). It was 34 (33 on PostgreSQL) with the
# Home rebuilt inside the click.
ANSWER_STATEMENTS = 12
# The answer that closes the item adds the item's status, the decision (its reads, the
# label, the `signed_off` event): 40 (39) before.
CLOSING_STATEMENTS = 19


@contextmanager
def recorded(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def assigned(engine, context, tmp_path) -> list[Assignment]:  # type: ignore[no-untyped-def]
    apply(engine, label_config())
    records = [
        {
            "id": f"c-{n}",
            "conversation": conversation(f"question {n}"),
            "prediction": {"label": "billing", "confidence": 0.5, "model": "m"},
        }
        for n in range(2)
    ]
    import_file(engine, write_items(tmp_path / "items.jsonl", records))
    dispatch_queued(engine, clock=context.clock, rng=context.rng)
    with Session(engine) as session:
        return list(session.exec(select(Assignment).order_by(Assignment.id)))


def click(context, assignment: Assignment, raw: str = "billing"):  # type: ignore[no-untyped-def]
    return run_in_transaction(
        context,
        answer.submit,
        assignment_id=assignment.id,
        user_id=assignment.reviewer_id,
        raw=raw,
        change=False,
    )


def test_one_answer_takes_a_dozen_statements(engine, context, assigned):
    first_item = [a for a in assigned if a.item_id == assigned[0].item_id]
    assert len(first_item) == 3
    sqlite = engine.dialect.name == "sqlite"
    for n, assignment in enumerate(first_item):
        with recorded(engine) as statements:
            assert click(context, assignment).outcome == Outcome.RECORDED
        closing = n == len(first_item) - 1
        bound = CLOSING_STATEMENTS if closing else ANSWER_STATEMENTS
        assert len(statements) <= bound - (0 if sqlite else 1), "\n".join(statements)
        text = "\n".join(statements)
        assert "SET id=" not in text  # no write of the assignment's key (SQLite FK checks)
        assert "FROM projectversion" not in text  # the config came from the cache
        assert "count(" not in text  # no App Home built inside the click
        assert ("BEGIN IMMEDIATE" in statements[0]) is sqlite
        assert sum(s.startswith("INSERT INTO response") for s in statements) == 1
        assert sum(s.startswith("INSERT INTO outboxmessage") for s in statements) == 2
    with Session(engine) as session:
        assert session.exec(select(Item).where(Item.id == first_item[0].item_id)).one().status == (
            "signed_off"
        )


def test_a_repeated_click_writes_nothing_and_the_answer_stays_single(engine, context, assigned):
    assert click(context, assigned[0]).outcome == Outcome.RECORDED
    with recorded(engine) as statements:
        assert click(context, assigned[0]).outcome == Outcome.DUPLICATE
        assert click(context, assigned[0], raw="bug").outcome == Outcome.ALREADY_ANSWERED
    assert not [s for s in statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    with Session(engine) as session:
        rows = session.exec(select(Response).where(Response.assignment_id == assigned[0].id))
        assert [r.value for r in rows] == ["billing"]


def test_a_burst_of_answers_leaves_one_home_publish_per_reviewer(engine, context, assigned):
    user = assigned[0].reviewer_id
    mine = [a for a in assigned if a.reviewer_id == user]
    assert len(mine) == 2
    for assignment in mine:
        click(context, assignment)
    with Session(engine) as session:
        homes = session.exec(
            select(OutboxMessage).where(OutboxMessage.operation == "publish_home")
        ).all()
    theirs = [row for row in homes if row.payload["user"] == user]
    assert [(row.idempotency_key, row.status) for row in theirs] == [(home_key(user), "pending")]
    assert "view" not in theirs[0].payload  # built by the delivery worker when it sends
    assert theirs[0].next_attempt_at > context.clock.now()  # a few seconds ahead


def test_holding_an_assignment_takes_the_sqlite_write_lock_without_writing(
    sqlite_engine, sqlite_url
):
    path = sqlite_url.removeprefix("sqlite:///")
    with session_scope(sqlite_engine) as session:
        review_queries.hold_assignment(session, 1)
        review_queries.hold_assignment(session, 1)  # held already: nothing more to do
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # released at commit
    other.execute("ROLLBACK")
    other.close()


def test_a_project_config_is_read_once_per_version(engine, tmp_path):
    apply(engine, label_config())
    with recorded(engine) as statements, Session(engine) as session:
        project = require_project(session, "support-intent")
        first = project_config(session, project)
        again = project_config(session, project)
    assert again is first
    assert sum("FROM projectversion" in s for s in statements) <= 1

    apply(engine, label_config(overlap=2))  # a new version is a new key
    with Session(engine) as session:
        project = require_project(session, "support-intent")
        assert project.current_version == 2
        assert project_config(session, project).overlap == 2
        assert project_config(session, project, 1).overlap == first.overlap == 3
