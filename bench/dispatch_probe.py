"""Dispatch cost against the size of a project's reviewer pool, with the checkout's code.

    PYTHONPATH=<checkout> python bench/dispatch_probe.py --pools 10,50,200 --items 20 \\
        --db-dir /tmp/x [--database-url postgresql+psycopg://127.0.0.1:5432/scratch]

Run as a script so `bot` comes from the checkout on PYTHONPATH. For each pool size: a
fresh SQLite file (or, with --database-url, a project per pool in that database), a label project with
that many reviewers (overlap 3), `--items` items imported with the real importer, then
`dispatch_queued` (what `quorum serve`'s dispatch loop calls) timed alone, wall and CPU.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pools", default="10,50,200")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--db-dir", type=Path, required=True)
    parser.add_argument("--database-url", default=None, help="one database, a project per pool")
    args = parser.parse_args()

    from bot.config.project import ProjectConfig
    from bot.intake.importer import import_records, validate_file
    from bot.workflow.intake.dispatch import dispatch_queued
    from bot.workflow.project_versions import apply_project, project_config, require_project
    from storage.db import make_engine, session_scope, upgrade_schema

    out = {}
    for pool in [int(p) for p in args.pools.split(",")]:
        path = args.db_dir / f"dispatch-{pool}.db"
        name = f"probe-{pool}"
        engine = make_engine(args.database_url or f"sqlite:///{path}")
        upgrade_schema(engine)
        config = ProjectConfig.model_validate(
            {
                "name": name,
                "kind": "label",
                "question": "Which team?",
                "labels": ["billing", "bug", "account", "other"],
                "reviewers": [f"UP{pool}X{n:04d}" for n in range(pool)],
                "overlap": 3,
                "routing": {"confidence_below": 0.8, "audit_rate": 0.0},
            }
        )
        items = args.db_dir / f"dispatch-{pool}.jsonl"
        items.write_text(
            "".join(
                json.dumps(
                    {
                        "id": f"p{pool}-{n}",
                        "conversation": [{"role": "user", "content": f"charged twice {n}"}],
                        "prediction": {"label": "billing", "confidence": 0.4, "model": "m"},
                    }
                )
                + "\n"
                for n in range(args.items)
            )
        )
        with session_scope(engine) as session:
            apply_project(session, config)
        with session_scope(engine) as session:
            project = require_project(session, name)
            records = validate_file(items, project_config(session, project))
            import_records(session, project, records, source=str(items))
        wall, cpu = time.perf_counter(), time.process_time()
        report = dispatch_queued(engine, rng=random.Random(0), batch=20, limit=args.items)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[str(pool)] = {
            "items": report.total,
            "wall_s": wall,
            "cpu_s": cpu,
            "ms_per_item": cpu * 1000 / max(1, report.total),
        }
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
