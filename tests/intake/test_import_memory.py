"""An import reads its file as a stream: memory does not grow with the number of items
(bench/bench_import.py measures the process at a million)."""

from __future__ import annotations

import tracemalloc

from sqlmodel import Session, func, select

from bot.workflow.project_versions import require_project
from storage.models import Item
from tests.factories import apply, conversation, import_file, label_config, write_items


def peak_bytes_of_import(engine, path) -> int:
    tracemalloc.start()
    try:
        import_file(engine, path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def items(count: int, prefix: str) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{i}",
            "conversation": conversation(f"My invoice #{i} shows a second charge for March."),
            "prediction": {"label": "billing", "confidence": (i % 100) / 100},
            "metadata": {"channel": "email", "n": i},
        }
        for i in range(count)
    ]


def test_memory_stays_flat_from_two_thousand_to_twenty_thousand_items(sqlite_engine, tmp_path):
    apply(sqlite_engine, label_config())
    import_file(sqlite_engine, write_items(tmp_path / "warm.jsonl", items(10, "w")))  # caches
    small = peak_bytes_of_import(sqlite_engine, write_items(tmp_path / "s.jsonl", items(2000, "s")))
    large = peak_bytes_of_import(
        sqlite_engine, write_items(tmp_path / "l.jsonl", items(20_000, "l"))
    )
    with Session(sqlite_engine) as session:
        project_id = require_project(session, "support-intent").id
        stored = session.exec(
            select(func.count()).select_from(Item).where(Item.project_id == project_id)
        ).one()
    assert stored == 22_010
    # Ten times the items, under one and a half times the memory (holding the items,
    # as the importer did before, took about ten times).
    assert large < 1.5 * small, (small, large)
