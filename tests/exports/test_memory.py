"""An export's memory does not grow with the number of labels: the exporter holds one
page of labels (and one row group for Parquet) whatever the size."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pytest

from bench.bench_export import PROJECT, generate
from bot.exports.run import ExportRequest, run_export
from bot.exports.writers import JsonlSink
from storage.db import make_engine


def peak_of_export(url: str, out, *, trace: bool = True) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(labels written, tracemalloc peak in bytes) of one labels export."""
    engine = make_engine(url)
    with out.open("w", encoding="utf-8") as handle:
        if trace:
            tracemalloc.start()
        try:
            result = run_export(
                engine,
                ExportRequest(project=PROJECT, format="labels"),
                sink=JsonlSink(handle),
                now=datetime(2027, 1, 1, tzinfo=UTC),
                salt="s",
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    engine.dispose()
    return result.rows, peak


@pytest.mark.timeout(600)
def test_export_memory_is_flat_from_5k_to_20k_labels(tmp_path):
    small, large = f"sqlite:///{tmp_path / 'small.db'}", f"sqlite:///{tmp_path / 'large.db'}"
    generate(small, 5_000)
    generate(large, 20_000)
    peak_of_export(small, tmp_path / "warm.jsonl", trace=False)  # statement caches, imports
    rows_small, peak_small = peak_of_export(small, tmp_path / "small.jsonl")
    rows_large, peak_large = peak_of_export(large, tmp_path / "large.jsonl")
    assert (rows_small, rows_large) == (5_000, 20_000)
    # Four times the labels, about the same peak: a few pages are in flight at any time
    # (how many depends on thread scheduling), where a whole-file exporter would need 4x.
    print(
        f"tracemalloc peak: {peak_small / 2**20:.1f} MiB at 5k, {peak_large / 2**20:.1f} MiB at 20k"
    )
    assert peak_large < peak_small * 2, (peak_small, peak_large)
    assert peak_large < 40 * 2**20
