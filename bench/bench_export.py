"""Benchmark: the streaming `labels` export of 1,000,000 signed-off labels on SQLite.

    python -m bench.bench_export [--labels 1000000 --baseline-labels N --db PATH --json OUT]

Method:
- Data: a label project applied through the real code, then `--labels` signed-off items
  written with bulk Core inserts (not the workflow): per item the item row, its label,
  and, for human-decided items, 3 assignments + 3 responses from a pool of 20 reviewers;
  80% consensus, 10% lead decisions (with an escalation row), 10% auto-accepted; and a
  valid two-event hash chain (item_created, signed_off). Sign-off times spread over 30 days.
- Export: `bot.exports.run.run_export` (what `quorum export --format labels` runs), JSONL
  with the full provenance block, in a fresh child process. Wall time is measured in the
  child around the export call; peak memory is the child's `ru_maxrss` (the whole
  process: interpreter, imports and export).
- Baseline: the naive exporter a first version would write, in its own child: load every
  label, item and response at once with the ORM, then write one JSON line per label (it
  writes less: no pre-labels, escalations, sign-off events or chain heads).
- With --verify, also `quorum audit verify`'s walk over the same trail (time, memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import JSON
from sqlmodel import Session, select

from bot.audit.chain import GENESIS_HASH, content_hash, event_hash, item_chain
from bot.config.project import ProjectConfig
from storage.db import make_engine, session_scope, upgrade_schema
from storage.models import Assignment, Escalation, Event, Item, Label, Response, UTCDateTime

PROJECT = "bench-intent"
LABELS = ["billing", "bug", "account", "other"]
REVIEWERS = [f"U{n:02d}REVIEW" for n in range(20)]
LEAD = "U99LEAD"
START = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 20_000


def bench_config() -> ProjectConfig:
    return ProjectConfig.model_validate(
        {
            "name": PROJECT,
            "kind": "label",
            "question": "Which team should handle this conversation?",
            "labels": LABELS,
            "reviewers": REVIEWERS,
            "leads": [LEAD],
            "overlap": 3,
            "agreement": 0.66,
        }
    )


def _chunk_rows(start: int, stop: int, project_id: int, first_item_id: int) -> dict[str, list]:
    """Rows of every table for items start..stop-1 (ids assigned here, so no read-back)."""
    rows: dict[str, list] = defaultdict(list)
    for n in range(start, stop):
        item_id = first_item_id + n
        at = START + timedelta(seconds=n * 2.6)
        signed = at + timedelta(hours=2)
        kind = "auto" if n % 10 == 0 else "lead" if n % 10 == 1 else "consensus"
        truth = LABELS[n % 4]
        content = {
            "conversation": [
                {"role": "user", "content": f"Customer message number {n} about my account"},
                {"role": "assistant", "content": "Thanks, let me look into that for you."},
            ],
            "prediction": {"label": truth, "confidence": 0.9 if kind == "auto" else 0.5},
        }
        digest = content_hash(content)
        rows["item"].append(
            {
                "id": item_id,
                "project_id": project_id,
                "external_id": f"item-{n:07d}",
                "content": content,
                "content_hash": digest,
                "meta": {"source": "bench", "n": n},
                "status": "auto_accepted" if kind == "auto" else "signed_off",
                "confidence": content["prediction"]["confidence"],
                "created_at": at,
                "updated_at": signed,
            }
        )
        if kind != "auto":
            people = [REVIEWERS[(n + k * 7) % len(REVIEWERS)] for k in range(3)]
            answers = [truth, truth, truth if kind == "consensus" else LABELS[(n + 1) % 4]]
            if kind == "lead":
                answers[1] = LABELS[(n + 2) % 4]
            for k, (person, value) in enumerate(zip(people, answers, strict=True)):
                assignment_id = item_id * 3 + k
                answered = at + timedelta(minutes=10 + k)
                rows["assignment"].append(
                    {
                        "id": assignment_id,
                        "item_id": item_id,
                        "reviewer_id": person,
                        "status": "answered",
                        "created_at": at,
                        "answered_at": answered,
                    }
                )
                rows["response"].append(
                    {
                        "assignment_id": assignment_id,
                        "item_id": item_id,
                        "reviewer_id": person,
                        "value": value,
                        "latency_ms": (10 + k) * 60_000,
                        "created_at": answered,
                        "updated_at": answered,
                    }
                )
        if kind == "lead":
            rows["escalation"].append(
                {
                    "item_id": item_id,
                    "project_id": project_id,
                    "status": "resolved",
                    "reason": "tie between answers",
                    "resolved_by": LEAD,
                    "resolved_value": truth,
                    "created_at": at + timedelta(minutes=15),
                    "resolved_at": signed,
                }
            )
        rows["label"].append(
            {
                "item_id": item_id,
                "project_id": project_id,
                "value": truth,
                "method": kind,
                "agreement": None if kind == "auto" else 1.0 if kind == "consensus" else 1 / 3,
                "confidence": 0.9 if kind == "auto" else None,
                "config_version": 1,
                "signed_off_by": LEAD if kind == "lead" else None,
                "signed_off_at": signed,
            }
        )
        chain = item_chain(item_id)
        prev = GENESIS_HASH
        for seq, (event_kind, actor, data, when) in enumerate(
            [
                (
                    "item_created",
                    "cli",
                    {"external_id": f"item-{n:07d}", "content_hash": digest},
                    at,
                ),
                (
                    "signed_off",
                    LEAD if kind == "lead" else "quorum",
                    {"value": truth, "method": kind},
                    signed,
                ),
            ]
        ):
            fields = {
                "chain": chain,
                "seq": seq,
                "kind": event_kind,
                "actor": actor,
                "data": data,
                "created_at": when,
                "prev_hash": prev,
                "project_id": project_id,
                "item_id": item_id,
            }
            prev = event_hash(**fields)
            rows["event"].append(dict(fields, hash=prev))
    return rows


TABLES = {
    "item": Item,
    "assignment": Assignment,
    "response": Response,
    "escalation": Escalation,
    "label": Label,
    "event": Event,
}


class _SqliteRows:
    """Rows of one table as the SQLite driver takes them, stored exactly as SQLAlchemy
    would store them (JSON text, naive UTC datetimes) and with the model's defaults, but
    without SQLAlchemy's per-value processing (5x faster for millions of rows)."""

    def __init__(self, model: type, keys: list[str]) -> None:
        table = model.__table__  # type: ignore[attr-defined]
        self.names = [c.name for c in table.columns if c.name != "id" or "id" in keys]
        self.json = {c.name for c in table.columns if isinstance(c.type, JSON)}
        self.when = {c.name for c in table.columns if isinstance(c.type, UTCDateTime)}
        self.defaults = {}
        for column in table.columns:
            default = column.default
            if column.name in keys or default is None:
                continue
            value = default.arg(None) if callable(default.arg) else default.arg
            self.defaults[column.name] = self._store(column.name, value)
        names = ", ".join(f'"{n}"' for n in self.names)
        marks = ", ".join("?" for _ in self.names)
        self.sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'

    def _store(self, name: str, value):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if name in self.json:
            return json.dumps(value)
        if name in self.when:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def tuples(self, rows: list[dict]) -> list[tuple]:
        store, defaults = self._store, self.defaults
        return [
            tuple(store(n, row[n]) if n in row else defaults.get(n) for n in self.names)
            for row in rows
        ]


def generate(database_url: str, labels: int, *, progress: bool = False) -> None:
    """A migrated SQLite database holding `labels` signed-off labels of one label project."""
    from bot.workflow.project_versions import apply_project

    engine = make_engine(database_url)
    upgrade_schema(engine)
    with session_scope(engine) as session:
        project_id = apply_project(session, bench_config(), actor="bench").project_id
        first_item_id = (session.exec(select(Item.id).order_by(Item.id.desc())).first() or 0) + 1
    engine.dispose()
    connection = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    connection.execute("PRAGMA synchronous=OFF")  # a benchmark, not data to keep safe
    # The (chain, seq) index takes "item:N" keys out of order: keep its pages in memory.
    connection.execute("PRAGMA cache_size=-1000000")
    writers: dict[str, _SqliteRows] = {}
    try:
        for start in range(0, labels, CHUNK):
            rows = _chunk_rows(start, min(start + CHUNK, labels), project_id, first_item_id)
            with connection:
                for name, model in TABLES.items():
                    if not rows[name]:
                        continue
                    writer = writers.get(name) or writers.setdefault(
                        name, _SqliteRows(model, list(rows[name][0]))
                    )
                    connection.executemany(writer.sql, writer.tuples(rows[name]))
            if progress:
                done = min(start + CHUNK, labels)
                print(f"\r  generated {done:,} labels", end="", file=sys.stderr)
    finally:
        connection.close()
    if progress:
        print(file=sys.stderr)


# --------------------------------------------------------------------------- exporters


def streaming_export(database_url: str, out: Path) -> int:
    from bot.exports.run import ExportRequest, run_export
    from bot.exports.writers import JsonlSink

    engine = make_engine(database_url)
    with out.open("wb") as handle:
        result = run_export(
            engine,
            ExportRequest(project=PROJECT, format="labels"),
            sink=JsonlSink(handle),
            now=datetime(2027, 1, 1, tzinfo=UTC),
            salt="bench-salt",
            output=str(out),
            actor="bench",
        )
    return result.rows


def naive_export(database_url: str, out: Path) -> int:
    """Everything in memory at once, through the ORM."""
    engine = make_engine(database_url)
    with Session(engine) as session, out.open("w", encoding="utf-8") as handle:
        pairs = session.exec(select(Label, Item).join(Item, Item.id == Label.item_id)).all()
        answers: dict[int, list[Response]] = defaultdict(list)
        for response in session.exec(select(Response)).all():
            answers[response.item_id].append(response)
        for label, item in pairs:
            record = {
                "id": item.external_id,
                "value": label.value,
                "method": label.method,
                "agreement": label.agreement,
                "signed_off_by": label.signed_off_by,
                "signed_off_at": label.signed_off_at.isoformat(),
                "responses": [
                    {
                        "reviewer": r.reviewer_id,
                        "value": r.value,
                        "answered_at": r.created_at.isoformat(),
                        "latency_ms": r.latency_ms,
                    }
                    for r in answers[item.id]
                ],
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(pairs)


def verify_walk(database_url: str, out: Path) -> int:
    from bot.audit.verify import verify_trail

    report = verify_trail(make_engine(database_url), key="bench-key")
    assert report.intact, report.problems[:1]
    return report.events


MODES = {"streaming": streaming_export, "naive": naive_export, "verify": verify_walk}


NAIVE_LIMIT_GB = 14  # the naive baseline's address space: it must not starve the machine


def child(mode: str, database_url: str, out: Path) -> None:
    if mode == "naive":
        limit = NAIVE_LIMIT_GB * 2**30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    load = os.getloadavg()[0]
    cpu = time.process_time()
    started = time.perf_counter()
    rows = MODES[mode](database_url, out)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "mode": mode,
        "rows": rows,
        "wall_s": round(wall, 2),
        # CPU seconds of the export itself: what wall time would be on an idle machine.
        "cpu_s": round(time.process_time() - cpu, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "load_avg_1m": [round(load, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(result))


def run_child(mode: str, database_url: str, out: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_export",
            "--child",
            mode,
            "--db-url",
            database_url,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return {"mode": mode, "failed": done.stderr.strip().splitlines()[-1:] or ["?"]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - started
    return result


def machine() -> dict:
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument(
        "--baseline-labels", type=int, default=None, help="naive baseline size (default: --labels)"
    )
    parser.add_argument("--db", type=Path, default=None, help="reuse/keep the database here")
    parser.add_argument("--verify", action="store_true", help="also time `audit verify`")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", choices=sorted(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db_url, args.out)
        return

    work = Path(tempfile.mkdtemp(prefix="quorum-bench-"))
    db = args.db or work / "bench.db"
    url = f"sqlite:///{db}"
    if not db.exists():
        started = time.perf_counter()
        generate(url, args.labels, progress=True)
        print(
            f"generated {args.labels:,} labels in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
    results = {"machine": machine(), "labels": args.labels, "runs": []}
    streaming = run_child("streaming", url, work / "labels.jsonl")
    streaming["output_mb"] = (work / "labels.jsonl").stat().st_size / 2**20
    results["runs"].append(streaming)
    print(json.dumps(streaming), file=sys.stderr)
    baseline_url = url
    if args.baseline_labels and args.baseline_labels != args.labels:
        baseline_url = f"sqlite:///{work / 'baseline.db'}"
        generate(baseline_url, args.baseline_labels)
    naive = run_child("naive", baseline_url, work / "naive.jsonl")
    naive["labels"] = args.baseline_labels or args.labels
    results["runs"].append(naive)
    print(json.dumps(naive), file=sys.stderr)
    if args.verify:
        walk = run_child("verify", url, work / "unused")
        results["runs"].append(walk)
        print(json.dumps(walk), file=sys.stderr)
    if "failed" not in naive and naive["labels"] == args.labels:
        results["ratio"] = {
            "wall": naive["wall_s"] / streaming["wall_s"],
            "cpu": naive["cpu_s"] / streaming["cpu_s"],
            "peak_rss": naive["peak_rss_mb"] / streaming["peak_rss_mb"],
        }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
