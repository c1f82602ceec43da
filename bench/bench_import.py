"""Import throughput: 100,000 label items into SQLite through the real importer.

    python -m bench.bench_import [--items 100000]

Runs the bulk importer and, in the same process on a smaller slice, a naive baseline
that adds one ORM object per item and event, then prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.intake.importer import import_records, validate_file
from bot.intake.records import item_content
from bot.workflow.project_versions import apply_project, require_project
from storage.db import make_engine, session_scope, upgrade_schema
from storage.models import Item

LABELS = ["billing", "bug", "account", "other"]


def config() -> ProjectConfig:
    return ProjectConfig.model_validate(
        {
            "name": "bench",
            "kind": "label",
            "question": "Which team?",
            "labels": LABELS,
            "reviewers": ["U01A", "U02B", "U03C"],
            "overlap": 3,
        }
    )


def write_items(path: Path, count: int) -> None:
    with path.open("w") as handle:
        for i in range(count):
            record = {
                "id": f"item-{i}",
                "conversation": [
                    {
                        "role": "user",
                        "content": f"My invoice #{i} shows a second charge for March.",
                    },
                    {"role": "assistant", "content": "Sorry about that! Let me look into it."},
                ],
                "prediction": {
                    "label": LABELS[i % 4],
                    "confidence": (i % 100) / 100,
                    "model": "intent-v3",
                },
                "metadata": {"channel": "email", "n": i},
            }
            handle.write(json.dumps(record) + "\n")


def fresh_engine(folder: Path, name: str):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{folder / name}")
    upgrade_schema(engine)
    with session_scope(engine) as session:
        apply_project(session, config())
    return engine


def bulk(folder: Path, path: Path) -> tuple[float, int]:
    engine = fresh_engine(folder, "bulk.db")
    started = time.perf_counter()
    with session_scope(engine) as session:
        records = validate_file(path, config())
        report = import_records(
            session, require_project(session, "bench"), records, source=str(path)
        )
    return time.perf_counter() - started, report.created


def naive(folder: Path, path: Path) -> tuple[float, int]:
    """One ORM add + one chained event per item: what a first version would do."""
    engine = fresh_engine(folder, "naive.db")
    started = time.perf_counter()
    records = validate_file(path, config())
    with Session(engine) as session:
        project = require_project(session, "bench")
        for _, record in records:
            item = Item(
                project_id=project.id,
                external_id=record.id,
                content=item_content(record),
                content_hash="x",
            )
            session.add(item)
            session.flush()
            record_event(
                session,
                "item_created",
                actor="bench",
                project_id=project.id,
                item_id=item.id,
                data={},
            )
        session.commit()
    return time.perf_counter() - started, len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--baseline-items", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        big, small = folder / "big.jsonl", folder / "small.jsonl"
        write_items(big, args.items)
        write_items(small, args.baseline_items)
        bulk_s, bulk_n = bulk(folder, big)
        naive_s, naive_n = naive(folder, small)
    table = Table(title="Import into SQLite")
    for column in ("method", "items", "seconds", "items/s"):
        table.add_column(column, justify="right")
    table.add_row("bulk importer", f"{bulk_n:,}", f"{bulk_s:.2f}", f"{bulk_n / bulk_s:,.0f}")
    table.add_row(
        "naive ORM baseline", f"{naive_n:,}", f"{naive_s:.2f}", f"{naive_n / naive_s:,.0f}"
    )
    Console().print(table)
    print(f"speed-up: {(bulk_n / bulk_s) / (naive_n / naive_s):.1f}x items/s")


if __name__ == "__main__":
    main()
