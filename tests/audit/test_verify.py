"""`quorum audit verify` catches every kind of after-the-fact edit made directly in SQL,
on SQLite and PostgreSQL, and says where the trail broke."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text, update
from sqlmodel import Session, select

from bot.audit.chain import event_hash, record_event, write_checkpoint
from bot.audit.verify import verify_trail
from storage import queries
from storage.db import session_scope
from storage.models import Checkpoint, Event, Item
from tests.audit.conftest import AUDIT_KEY


def events_of(engine, item_id: int) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.item_id == item_id).order_by(Event.seq)))


def checkpoint(trail) -> Checkpoint:
    with session_scope(trail.engine) as session:
        project = queries.get_project(session, "support-intent")
        return write_checkpoint(session, project.id, trail.clock.now(), AUDIT_KEY)


def sql(engine, statement: str, **params) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def first_problem(trail):
    report = verify_trail(trail.engine, key=AUDIT_KEY)
    assert not report.intact, "tampering went unnoticed"
    return report.problems[0]


def test_untouched_trail_is_intact_and_counted(trail, quorum):
    with Session(trail.engine) as session:
        events = len(session.exec(select(Event)).all())
    result = quorum("audit", "verify")
    assert result.exit_code == 0, result.stdout
    assert "Audit trail intact" in result.stdout
    assert f"4 chain(s), {events} event(s)" in result.stdout  # three items + the project


def test_checkpoint_command_pins_every_chain_head(trail, quorum):
    result = quorum("audit", "checkpoint")
    assert result.exit_code == 0 and "4 chain head(s)" in result.stdout
    quorum("audit", "checkpoint")
    with Session(trail.engine) as session:
        first, second = session.exec(select(Checkpoint).order_by(Checkpoint.id)).all()
    assert second.prev_hash == first.hash
    assert set(first.heads) == {f"item:{trail.item_id(f't-{n}')}" for n in (1, 2, 3)} | {
        f"project:{first.project_id}"
    }
    verified = quorum("audit", "verify", "--project", "support-intent")
    assert verified.exit_code == 0 and "2 checkpoint(s)" in verified.stdout


def test_edited_answer_is_caught_and_reported_with_the_item(trail, quorum):
    answered = [e for e in events_of(trail.engine, trail.item_id("t-1")) if e.kind == "answered"]
    target = answered[1]
    with trail.engine.begin() as connection:
        connection.execute(
            update(Event).where(Event.id == target.id).values(data=dict(target.data, value="bug"))
        )
    problem = first_problem(trail)
    assert (problem.event_id, problem.seq) == (target.id, target.seq)
    assert problem.problem.startswith("content edited")
    assert problem.expected == target.hash and problem.found != target.hash
    result = quorum("audit", "verify")
    assert result.exit_code == 1
    assert "TAMPERED" in result.stdout and "t-1" in result.stdout
    assert str(target.id) in result.stdout and target.hash in result.stdout


def test_deleted_event_is_caught(trail):
    events = events_of(trail.engine, trail.item_id("t-1"))
    sql(trail.engine, "DELETE FROM event WHERE id = :id", id=events[2].id)
    problem = first_problem(trail)
    assert problem.problem.startswith("sequence broken")
    assert (problem.event_id, problem.expected, problem.found) == (events[3].id, "2", "3")


def test_swapped_events_are_caught(trail):
    events = events_of(trail.engine, trail.item_id("t-1"))
    a, b = events[2], events[3]
    sql(trail.engine, "UPDATE event SET seq = -1 WHERE id = :id", id=a.id)
    sql(trail.engine, "UPDATE event SET seq = :seq WHERE id = :id", seq=a.seq, id=b.id)
    sql(trail.engine, "UPDATE event SET seq = :seq WHERE id = :id", seq=b.seq, id=a.id)
    problem = first_problem(trail)
    assert problem.event_id == b.id and problem.seq == a.seq


def test_swapped_contents_are_caught(trail):
    answered = [e for e in events_of(trail.engine, trail.item_id("t-2")) if e.kind == "answered"]
    a, b = answered[0], answered[1]
    with trail.engine.begin() as connection:
        connection.execute(update(Event).where(Event.id == a.id).values(data=b.data))
        connection.execute(update(Event).where(Event.id == b.id).values(data=a.data))
    problem = first_problem(trail)
    assert problem.event_id == a.id and problem.problem.startswith("content edited")


def test_whole_item_history_deleted_after_a_checkpoint_is_caught(trail, quorum):
    checkpoint(trail)
    item_id = trail.item_id("t-2")
    sql(trail.engine, "DELETE FROM event WHERE item_id = :id", id=item_id)
    problem = first_problem(trail)
    assert problem.problem.startswith("chain deleted")
    assert problem.chain == f"item:{item_id}" and problem.found == "(missing)"
    result = quorum("audit", "verify")
    assert result.exit_code == 1 and "t-2" in result.stdout and "chain deleted" in result.stdout


def test_last_event_deleted_after_a_checkpoint_is_caught(trail):
    checkpoint(trail)
    last = events_of(trail.engine, trail.item_id("t-1"))[-1]
    sql(trail.engine, "DELETE FROM event WHERE id = :id", id=last.id)
    problem = first_problem(trail)
    assert problem.problem.startswith("events deleted") and problem.expected == last.hash


def test_chain_rewritten_consistently_is_caught_by_the_checkpoint(trail):
    """Someone edits an answer and recomputes every later hash: the chain itself holds,
    but the signed checkpoint still pins the old head."""
    checkpoint(trail)
    events = events_of(trail.engine, trail.item_id("t-1"))
    prev = None
    with trail.engine.begin() as connection:
        for event in events:
            data = dict(event.data, value="bug") if event.kind == "answered" else event.data
            prev_hash = prev if prev is not None else event.prev_hash
            digest = event_hash(
                chain=event.chain,
                seq=event.seq,
                kind=event.kind,
                actor=event.actor,
                data=data,
                created_at=event.created_at,
                prev_hash=prev_hash,
                project_id=event.project_id,
                item_id=event.item_id,
            )
            connection.execute(
                update(Event)
                .where(Event.id == event.id)
                .values(data=data, prev_hash=prev_hash, hash=digest)
            )
            prev = digest
    problem = first_problem(trail)
    assert problem.problem.startswith("chain rewritten") and problem.event_id == events[-1].id


def test_forged_and_edited_checkpoints_are_caught(trail):
    first = checkpoint(trail)
    trail.clock.advance(hours=1)
    second = checkpoint(trail)
    item_id = trail.item_id("t-3")
    sql(trail.engine, "DELETE FROM event WHERE item_id = :id", id=item_id)
    heads = {k: v for k, v in second.heads.items() if k != f"item:{item_id}"}
    with trail.engine.begin() as connection:  # drop the deleted chain from the checkpoint
        connection.execute(update(Checkpoint).where(Checkpoint.id == second.id).values(heads=heads))
    problem = first_problem(trail)
    assert problem.checkpoint_id == second.id and "edited" in problem.problem

    from bot.audit.chain import checkpoint_hash, sign_checkpoint

    digest = checkpoint_hash(
        project_id=second.project_id,
        heads=heads,
        prev_hash=second.prev_hash,
        created_at=second.created_at,
    )
    with trail.engine.begin() as connection:  # ... and re-hash it, signed without the key
        connection.execute(
            update(Checkpoint)
            .where(Checkpoint.id == second.id)
            .values(hash=digest, signature=sign_checkpoint(digest, "guessed-key"))
        )
    problem = first_problem(trail)
    assert problem.checkpoint_id == second.id and "forged" in problem.problem

    sql(trail.engine, "DELETE FROM checkpoint WHERE id = :id", id=first.id)
    problems = verify_trail(trail.engine, key=AUDIT_KEY).problems
    assert any("out of line" in p.problem for p in problems)


def test_verify_with_another_key_rejects_every_checkpoint(trail):
    checkpoint(trail)
    report = verify_trail(trail.engine, key="not-the-audit-key")
    assert [p.problem.split(":")[0] for p in report.problems] == ["checkpoint 1 forged"]


def test_events_appended_after_a_checkpoint_keep_the_trail_intact(trail, quorum):
    checkpoint(trail)
    trail.clock.advance(hours=2)
    assert quorum("export", "--project", "support-intent", "--out", "labels.jsonl").exit_code == 0
    report = verify_trail(trail.engine, key=AUDIT_KEY)
    assert report.intact and report.checkpoints == 1


# PostgreSQL only: SQLite has one writer at a time by design, so there is nothing to contend.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_concurrent_appends_on_different_items_do_not_contend(engine, clock, tmp_path):
    """Bot processes write events on different items at once: no global lock, no error."""
    from tests.factories import apply, conversation, import_file, label_config, write_items

    apply(engine, label_config())
    rows = [{"id": f"c-{n}", "conversation": conversation(f"case {n}")} for n in range(12)]
    import_file(engine, write_items(tmp_path / "items.jsonl", rows))
    with Session(engine) as session:
        items = [(i.id, i.project_id) for i in session.exec(select(Item)).all()]
    per_item = 25
    start = threading.Barrier(len(items))
    failures: list[BaseException] = []

    def append(item_id: int, project_id: int) -> None:
        try:
            start.wait()
            for n in range(per_item):
                with session_scope(engine) as session:
                    queries.lock_item(session, item_id)
                    record_event(
                        session,
                        "flagged",
                        actor="U01ALICE",
                        project_id=project_id,
                        item_id=item_id,
                        data={"n": n},
                        at=clock.now(),
                    )
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=append, args=item) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    report = verify_trail(engine, key=AUDIT_KEY)
    assert report.intact and report.chains == len(items) + 1
    with Session(engine) as session:
        flagged = session.exec(select(Event).where(Event.kind == "flagged")).all()
    assert len(flagged) == len(items) * per_item


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_writing_a_checkpoint_does_not_block_event_writers(trail):
    """While a checkpoint's transaction is open, the bot keeps recording events."""
    from sqlalchemy import text as sql_text

    item_id = trail.item_id("t-1")
    with session_scope(trail.engine) as holding:
        project = queries.get_project(holding, "support-intent")
        write_checkpoint(holding, project.id, trail.clock.now(), AUDIT_KEY)
        # Still inside the checkpoint's transaction: another connection writes an event.
        with session_scope(trail.engine) as writer:
            writer.execute(sql_text("SET LOCAL lock_timeout = '2s'"))
            record_event(
                writer,
                "flagged",
                actor="U01ALICE",
                project_id=project.id,
                item_id=item_id,
                data={"reason": "unclear"},
                at=trail.clock.now(),
            )
    assert verify_trail(trail.engine, key=AUDIT_KEY).intact
