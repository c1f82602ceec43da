"""Import throughput and memory: label items into SQLite through the real importer.

    python -m bench.bench_import                # 100k items timed; memory at 1,000,000 rows
    python -m bench.bench_import --quick        # 10k items timed; memory at 100,000 rows
    python -m bench.bench_import --skip-throughput [--memory-rows N]

Throughput: the bulk importer and, in the same process on a smaller slice, a naive
baseline that adds one ORM object per item and event; both rates and their ratio.

Memory: `quorum import` of small rows in a child process (the real command, nothing
else in it), at 1,000 rows and at the full count; the child's peak RSS is its own
`VmHWM`, read from /proc as it exits (`ru_maxrss` of a forked child starts from the
parent's size). The import must stay under 500 MB however long the file is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.intake.importer import import_records, validate_file
from bot.workflow.project_versions import apply_project, require_project
from storage.db import make_engine, session_scope, upgrade_schema
from storage.models import Item

LABELS = ["billing", "bug", "account", "other"]
MEMORY_LIMIT_MB = 500
# The child: `quorum import …` that writes its peak RSS (VmHWM, kB) to argv[1] as it exits.
CHILD = """
import atexit, sys
from pathlib import Path

OUT = Path(sys.argv[1])

def peak() -> None:
    status = Path("/proc/self/status").read_text().splitlines()
    OUT.write_text(next(l.split()[1] for l in status if l.startswith("VmHWM:")))

atexit.register(peak)
from bot.cli.main import app
sys.argv = ["quorum", *sys.argv[2:]]
app()
"""


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
        for staged in records:
            item = Item(
                project_id=project.id,
                external_id=staged.external_id,
                content=staged.content,
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


def write_small_rows(path: Path, count: int) -> None:
    """Small label items (about 170 bytes a line), written as a stream."""
    with path.open("w") as handle:
        for i in range(count):
            record = {
                "id": f"m-{i}",
                "conversation": [
                    {"role": "user", "content": f"Refund for order {i}?"},
                    {"role": "assistant", "content": "Sure, let me check."},
                ],
                "prediction": {"label": LABELS[i % 4], "confidence": (i % 100) / 100},
            }
            handle.write(json.dumps(record) + "\n")


def import_in_child(folder: Path, rows: int) -> dict[str, float]:
    """`quorum import` of `rows` small rows into a fresh SQLite file, in a child process:
    its wall time and peak RSS."""
    path = folder / f"rows-{rows}.jsonl"
    write_small_rows(path, rows)
    fresh_engine(folder, f"rows-{rows}.db").dispose()
    peak_file, log = folder / f"peak-{rows}", folder / f"log-{rows}"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / f'rows-{rows}.db'}"}
    command = [sys.executable, "-c", CHILD, str(peak_file), "import", "-p", "bench", str(path)]
    started = time.perf_counter()
    with log.open("w") as output:
        done = subprocess.run(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the import of {rows:,} rows failed:\n{log.read_text()[-2000:]}")
    return {
        "rows": rows,
        "file_mb": path.stat().st_size / 1e6,
        "seconds": seconds,
        "peak_mb": int(peak_file.read_text()) / 1024,
    }


def memory(rows: int) -> bool:
    """Print the streaming-memory figure; whether it stayed under the limit."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = [import_in_child(Path(tmp), count) for count in (1_000, rows)]
    table = Table(title=f"quorum import: peak RSS of the process (limit {MEMORY_LIMIT_MB} MB)")
    for column in ("rows", "file MB", "seconds", "rows/s", "peak RSS MB"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            f"{run['rows']:,.0f}",
            f"{run['file_mb']:,.1f}",
            f"{run['seconds']:.1f}",
            f"{run['rows'] / run['seconds']:,.0f}",
            f"{run['peak_mb']:,.0f}",
        )
    Console().print(table)
    growth = runs[1]["peak_mb"] - runs[0]["peak_mb"]
    ok = runs[1]["peak_mb"] < MEMORY_LIMIT_MB
    print(
        f"peak RSS at {rows:,} rows: {runs[1]['peak_mb']:.0f} MB "
        f"({growth:+.0f} MB over 1,000 rows): {'under' if ok else 'OVER'} {MEMORY_LIMIT_MB} MB"
    )
    return ok


def throughput(items: int, baseline_items: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        big, small = folder / "big.jsonl", folder / "small.jsonl"
        write_items(big, items)
        write_items(small, baseline_items)
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10k items timed, 100k for memory")
    parser.add_argument("--items", type=int, help="items timed (100,000; --quick 10,000)")
    parser.add_argument("--baseline-items", type=int, help="naive baseline (10,000; 2,000)")
    parser.add_argument("--memory-rows", type=int, help="rows (1,000,000; --quick 100,000)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(
            args.items or (10_000 if args.quick else 100_000),
            args.baseline_items or (2_000 if args.quick else 10_000),
        )
    if not args.skip_memory and not memory(
        args.memory_rows or (100_000 if args.quick else 1_000_000)
    ):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
