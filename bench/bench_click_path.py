"""The click path: CPU time of one reviewer's answer, `bot.workflow.review.answer.submit`
in its own transaction (what the Slack handler runs), with an empty outbox and with
~16,000 rows of history, on SQLite and on PostgreSQL.

    python -m bench.bench_click_path [--quick] [--history 16000] [--items 30] [--json OUT]

Method:
- Data: a label project (3 reviewers, overlap 3) applied through the real code, and
  `--items` + 1 fresh items imported and dispatched by it (3 pending assignments each).
  Then history, with bulk Core inserts (not the workflow): signed-off items whose 3
  assignments are answered by the same 3 reviewers, their responses, and 3 sent outbox
  rows per assignment (the review DM, its update, a Home publish, with payloads copied
  from a real DM and a real Home view: 2-7 KB), `--history` rows in all; the reviewers'
  counts and the outbox are as big as a busy project makes them.
  Afterwards SQLite's WAL is checkpointed and PostgreSQL ANALYZEd (a steady state).
- Clicks: each fresh assignment answered by `submit` inside `session_scope` (commit
  included), in item order, so two of every three answers leave the item open and the
  third signs it off. The first item's three answers are a warm-up and not counted.
- Figures: `time.process_time` (CPU of this process; PostgreSQL's own server CPU is not
  in it) and `time.perf_counter` per answer; medians over all answers, and over the
  answers that close their item. Statements per answer are counted with SQLAlchemy's
  `before_cursor_execute`.
- PostgreSQL: a scratch database created on `QUORUM_BENCH_PG` (default
  `QUORUM_TEST_PG`, else postgresql://127.0.0.1:5432/test) and dropped afterwards;
  skipped when it cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, event, insert, select
from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.intake.importer import import_records, validate_file
from bot.runtime.clock import FrozenClock
from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.project_versions import apply_project, project_config, require_project
from bot.workflow.review.answer import submit
from storage.db import make_engine, session_scope, upgrade_schema
from storage.models import Assignment, Item, OutboxMessage, Response

PROJECT = "bench-clicks"
LABELS = ["billing", "bug", "account", "other"]
REVIEWERS = ["U01BENCH", "U02BENCH", "U03BENCH"]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PG_ADMIN = os.environ.get(
    "QUORUM_BENCH_PG", os.environ.get("QUORUM_TEST_PG", "postgresql://127.0.0.1:5432/test")
)


def bench_config() -> ProjectConfig:
    return ProjectConfig.model_validate(
        {
            "name": PROJECT,
            "kind": "label",
            "question": "Which team should handle this conversation?",
            "labels": LABELS,
            "reviewers": REVIEWERS,
            "overlap": 3,
            "agreement": 0.66,
            "routing": {"confidence_below": 1.0, "audit_rate": 0.0},
            "timing": {"work_hours": (0, 0)},
        }
    )


def _content(n: int) -> dict:
    return {
        "conversation": [
            {"role": "user", "content": f"Customer message number {n} about a double charge"},
            {"role": "assistant", "content": "Thanks, let me look into that for you."},
        ]
    }


# -- databases -------------------------------------------------------------------------


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh database URL on `backend`, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'clicks-{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg

    name = f"quorum_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_problem() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except Exception as exc:  # any reason it cannot be used
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# -- data ------------------------------------------------------------------------------


def real_payloads(engine: Engine, clock: FrozenClock) -> dict[str, dict]:
    """What the outbox holds for real, to copy into the history: a review DM as the
    workflow rendered it, and a reviewer's App Home view (with a full queue)."""
    from bot.workflow.review.queue import home_view

    with Session(engine) as session:
        dm = session.execute(
            select(OutboxMessage.payload).where(OutboxMessage.operation == "post_dm").limit(1)
        ).scalar_one()
        view = home_view(session, REVIEWERS[0], now=clock.now())
    return {
        "post_dm": dm,
        "update_message": {
            "target": {"assignment_id": 0},
            **{k: dm[k] for k in ("text", "blocks")},
        },
        "publish_home": {"user": REVIEWERS[0], "view": view},
    }


def seed_history(engine: Engine, project_id: int, outbox_rows: int, payloads: dict) -> None:
    """Signed-off items answered by the reviewers, with 3 sent outbox rows per
    assignment (payloads copied from real ones), about `outbox_rows` outbox rows in all
    (bulk inserts)."""
    assignments_needed = outbox_rows // 3
    item_count = -(-assignments_needed // len(REVIEWERS))
    if item_count <= 0:
        return
    with engine.begin() as connection:
        item_rows = [
            {
                "project_id": project_id,
                "external_id": f"history-{n}",
                "content": _content(n),
                "content_hash": f"{n:064x}",
                "meta": None,
                "gold": None,
                "status": "signed_off",
                "confidence": 0.5,
                "route_reason": "bench",
                "created_at": START - timedelta(days=30, seconds=-n),
                "updated_at": START - timedelta(days=30, seconds=-n),
            }
            for n in range(item_count)
        ]
        connection.execute(insert(Item), item_rows)
        item_ids = list(
            connection.execute(
                select(Item.id).where(Item.external_id.like("history-%")).order_by(Item.id)  # type: ignore[union-attr]
            ).scalars()
        )
        assignment_rows = []
        for n, item_id in enumerate(item_ids):
            at = START - timedelta(days=30, seconds=-n)
            for reviewer in REVIEWERS:
                assignment_rows.append(
                    {
                        "item_id": item_id,
                        "reviewer_id": reviewer,
                        "status": "answered",
                        "presentation": None,
                        "channel": f"D{reviewer}",
                        "message_ts": f"{n}.{len(assignment_rows)}",
                        "due_at": None,
                        "reminders_sent": 0,
                        "last_reminded_at": None,
                        "created_at": at,
                        "answered_at": at + timedelta(minutes=5),
                    }
                )
        connection.execute(insert(Assignment), assignment_rows)
        rows = connection.execute(
            select(Assignment.id, Assignment.item_id, Assignment.reviewer_id, Assignment.created_at)
            .where(Assignment.item_id.in_(item_ids))  # type: ignore[attr-defined]
            .order_by(Assignment.id)
        ).all()
        responses, outbox = [], []
        for assignment_id, item_id, reviewer, at in rows:
            answered = at + timedelta(minutes=5)
            responses.append(
                {
                    "assignment_id": assignment_id,
                    "item_id": item_id,
                    "reviewer_id": reviewer,
                    "value": "billing",
                    "rationale": None,
                    "flags": None,
                    "latency_ms": 300_000,
                    "interaction_id": None,
                    "revision": 1,
                    "created_at": answered,
                    "updated_at": answered,
                }
            )
            common = {
                "status": "sent",
                "attempts": 1,
                "next_attempt_at": at,
                "claimed_by": None,
                "claimed_until": None,
                "last_error": None,
                "result": {"channel": f"D{reviewer}", "ts": "1.0", "sender": "bench"},
                "created_at": at,
                "sent_at": at,
                "pace_slot_at": None,
                "escalation_id": None,
            }
            outbox += [
                {
                    **common,
                    "idempotency_key": f"review:assignment:{assignment_id}",
                    "operation": "post_dm",
                    "payload": payloads["post_dm"],
                    "item_id": item_id,
                    "assignment_id": assignment_id,
                },
                {
                    **common,
                    "idempotency_key": f"answered:assignment:{assignment_id}:1",
                    "operation": "update_message",
                    "payload": payloads["update_message"],
                    "item_id": item_id,
                    "assignment_id": None,
                },
                {
                    **common,
                    "idempotency_key": f"home:{reviewer}:history-{assignment_id}",
                    "operation": "publish_home",
                    "payload": payloads["publish_home"],
                    "item_id": None,
                    "assignment_id": None,
                },
            ]
        connection.execute(insert(Response), responses)
        for start in range(0, len(outbox), 5000):
            connection.execute(insert(OutboxMessage), outbox[start : start + 5000])


def settle_storage(engine: Engine) -> None:
    """A steady state to measure in, not the aftermath of a bulk load: SQLite's WAL
    copied back into the file (else the clicks' commits do it), PostgreSQL's planner
    statistics up to date."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            connection.exec_driver_sql("ANALYZE")
        connection.commit()


def import_fresh(engine: Engine, folder: Path, count: int, clock: FrozenClock) -> list[Assignment]:
    """`count` items through the importer and dispatch: 3 pending assignments each."""
    path = folder / f"fresh-{uuid.uuid4().hex[:8]}.jsonl"
    with path.open("w") as handle:
        for n in range(count):
            record = {
                "id": f"fresh-{n}",
                **_content(n),
                "prediction": {"label": "billing", "confidence": 0.5, "model": "m"},
            }
            handle.write(json.dumps(record) + "\n")
    with session_scope(engine) as session:
        project = require_project(session, PROJECT)
        records = validate_file(path, project_config(session, project))
        import_records(session, project, records, source=str(path))
    dispatch_queued(engine, clock=clock, rng=random.Random(0))
    with Session(engine) as session:
        return list(
            session.execute(
                select(Assignment)
                .join(Item, Item.id == Assignment.item_id)  # type: ignore[arg-type]
                .where(Item.external_id.like("fresh-%"), Assignment.status == "pending")  # type: ignore[union-attr]
                .order_by(Assignment.item_id, Assignment.id)  # type: ignore[arg-type]
            ).scalars()
        )


# -- one run ---------------------------------------------------------------------------


def measure(backend: str, history: int, items: int, folder: Path) -> dict[str, Any]:
    clock = FrozenClock(START)
    with database(backend, folder) as url:
        engine = make_engine(url)
        try:
            upgrade_schema(engine)
            with session_scope(engine) as session:
                apply_project(session, bench_config(), actor="bench")
                project_id = require_project(session, PROJECT).id
            assert project_id is not None
            assignments = import_fresh(engine, folder, items + 1, clock)
            seed_history(engine, project_id, history, real_payloads(engine, clock))
            settle_storage(engine)
            with Session(engine) as session:
                outbox_before = len(session.execute(select(OutboxMessage.id)).all())
            statements = [0]

            def count(*_: Any) -> None:
                statements[0] += 1

            event.listen(engine, "before_cursor_execute", count)
            cpu, wall, closing_cpu, per_answer = [], [], [], []
            for n, assignment in enumerate(assignments):
                clock.advance(seconds=7)
                statements[0] = 0
                cpu0, wall0 = time.process_time(), time.perf_counter()
                with session_scope(engine) as session:
                    result = submit(
                        session,
                        assignment_id=assignment.id,
                        user_id=assignment.reviewer_id,
                        raw=LABELS[n % 2],
                        change=False,
                        now=clock.now(),
                    )
                cpu1, wall1 = time.process_time(), time.perf_counter()
                assert result.outcome == "recorded", result
                if n < 3:  # warm-up: the first item's answers
                    continue
                cpu.append((cpu1 - cpu0) * 1000)
                wall.append((wall1 - wall0) * 1000)
                per_answer.append(statements[0])
                if n % 3 == 2:
                    closing_cpu.append((cpu1 - cpu0) * 1000)
            event.remove(engine, "before_cursor_execute", count)
            with Session(engine) as session:
                outbox_rows = len(session.execute(select(OutboxMessage.id)).all())
        finally:
            engine.dispose()
    return {
        "backend": backend,
        "outbox_rows_before": outbox_before,
        "outbox_rows_after": outbox_rows,
        "answers": len(cpu),
        "cpu_ms_median": statistics.median(cpu),
        "cpu_ms_closing_median": statistics.median(closing_cpu),
        "wall_ms_median": statistics.median(wall),
        "statements_median": statistics.median(per_answer),
        "statements_max": max(per_answer),
    }


def run(quick: bool = False, *, history: int = 16_000, items: int | None = None) -> dict:
    """Every (backend, history) pair; returns {"runs": [...], "skipped": {...}}."""
    items = items if items is not None else (8 if quick else 30)
    backends = ["sqlite"]
    skipped: dict[str, str] = {}
    problem = postgres_problem()
    if problem is None:
        backends.append("postgresql")
    else:
        skipped["postgresql"] = problem
    runs = []
    with tempfile.TemporaryDirectory() as tmp, Progress(transient=True) as progress:
        task = progress.add_task("clicks", total=len(backends) * 2)
        for backend in backends:
            for rows in (0, history):
                progress.update(task, description=f"{backend}, {rows:,} outbox rows")
                runs.append(measure(backend, rows, items, Path(tmp)))
                progress.advance(task)
    return {"items": items, "runs": runs, "skipped": skipped}


def render(figures: dict, console: Console | None = None) -> None:
    console = console or Console(width=max(120, Console().width))
    table = Table(title="One answer (submit + commit), medians")
    for column in (
        "backend",
        "outbox rows",
        "answers",
        "CPU ms",
        "CPU ms (closing)",
        "wall ms",
        "statements",
    ):
        table.add_column(column, justify="right")
    for run_ in figures["runs"]:
        table.add_row(
            run_["backend"],
            f"{run_['outbox_rows_before']:,}",
            str(run_["answers"]),
            f"{run_['cpu_ms_median']:.2f}",
            f"{run_['cpu_ms_closing_median']:.2f}",
            f"{run_['wall_ms_median']:.2f}",
            f"{run_['statements_median']:g} (max {run_['statements_max']})",
        )
    console.print(table)
    for backend, why in figures["skipped"].items():
        console.print(f"[yellow]{backend} skipped:[/] {why}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 items per run instead of 30")
    parser.add_argument("--history", type=int, default=16_000, help="outbox rows of history")
    parser.add_argument("--items", type=int, help="items answered per run (3 answers each)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    figures = run(args.quick, history=args.history, items=args.items)
    render(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
