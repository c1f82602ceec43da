"""Every export file loads as it is in the tools that train and analyse on it: pyarrow,
pandas, polars, duckdb and `datasets`, from JSONL and from Parquet, one file alone and the
`labels` of projects of every kind (and metadata of differing types) as one table."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest

from bot.exports.formats import hf_features
from tests.exports.conftest import export_file

PROJECTS = [
    "support-intent",
    "triage-rating",
    "code-preference",
    "legal-correction",
    "answer-ranking",
]
TRAINING = [
    ("triage-rating", "ratings", None),
    ("triage-rating", "reward", None),
    ("triage-rating", "reward", "pairs"),
    ("code-preference", "dpo", None),
    ("code-preference", "dpo", "implicit"),
    ("answer-ranking", "dpo", None),
    ("answer-ranking", "ranking", None),
    ("legal-correction", "sft", None),
    ("legal-correction", "sft", "prompt-completion"),
]


def write(exports, project: str, fmt: str, folder: Path, *, parquet: bool, form=None) -> Path:  # type: ignore[no-untyped-def]
    return export_file(exports, project, fmt, folder, parquet=parquet, form=form)


def load_all(paths: list[Path], parquet: bool, fmt: str) -> dict[str, int]:
    """Rows per loader, each loading every file as one table."""
    names = [str(p) for p in paths]
    counts: dict[str, int] = {}
    if parquet:
        counts["pyarrow"] = pa.concat_tables([pq.read_table(n) for n in names]).num_rows
        counts["pandas"] = len(pd.concat([pd.read_parquet(n) for n in names]))
        counts["polars"] = pl.read_parquet(names).height
        counts["duckdb"] = duckdb.sql(f"SELECT count(*) FROM read_parquet({names!r})").fetchall()[
            0
        ][0]
    else:
        tables = [pa_json.read_json(n) for n in names]
        counts["pyarrow"] = pa.concat_tables(tables, promote_options="default").num_rows
        counts["pandas"] = len(pd.concat([pd.read_json(n, lines=True) for n in names]))
        counts["polars"] = pl.concat(
            [pl.read_ndjson(n) for n in names], how="diagonal_relaxed"
        ).height
        query = f"SELECT count(*) FROM read_json_auto({names!r})"
        counts["duckdb"] = duckdb.sql(query).fetchall()[0][0]
    import datasets

    loaded = datasets.load_dataset(
        "parquet" if parquet else "json",
        data_files=names,
        split="train",
        cache_dir=str(paths[0].parent / "hf-cache"),
        # Typeless JSONL: several files need the format's features (one file does not).
        features=hf_features(fmt) if len(paths) > 1 and not parquet else None,
    )
    counts["datasets"] = loaded.num_rows
    return counts


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
def test_labels_of_every_kind_load_together_in_every_tool(exports, tmp_path, parquet):
    paths = [write(exports, p, "labels", tmp_path, parquet=parquet) for p in PROJECTS]
    expected = sum(len(exports.labels(p)) for p in PROJECTS)
    assert load_all(paths, parquet, "labels") == dict.fromkeys(
        ["pyarrow", "pandas", "polars", "duckdb", "datasets"], expected
    )
    table = duckdb.sql(
        f"SELECT project, label, labels, chosen_id, ranking, text, scores "
        f"FROM {'read_parquet' if parquet else 'read_json_auto'}({[str(p) for p in paths]!r})"
    ).fetchall()
    by_project = {row[0]: row for row in table}
    assert {row[3] for row in table if row[0] == "code-preference"} == {"a", "b", None}
    assert by_project["answer-ranking"][4] == ["b", "a", "c"]
    assert {s["criterion"] for s in by_project["triage-rating"][6]} == {
        "helpfulness",
        "correctness",
        "safety",
    }
    labelled = [row for row in table if row[0] == "support-intent"]
    assert {row[1] for row in labelled} == {"billing", "bug", "account"}


def test_a_filter_on_the_typed_label_column_finds_what_the_value_says(exports, tmp_path):
    frame = pd.read_parquet(write(exports, "support-intent", "labels", tmp_path, parquet=True))
    billing = frame[frame.label == "billing"]
    assert list(billing.id) == [
        item.external_id
        for label, item in exports.labels("support-intent")
        if label.value == "billing"
    ]
    assert all(json.loads(v) == "billing" for v in billing.value)


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
@pytest.mark.parametrize(("project", "fmt", "form"), TRAINING)
def test_every_training_format_loads_in_every_tool(exports, tmp_path, parquet, project, fmt, form):
    path = write(exports, project, fmt, tmp_path, parquet=parquet, form=form)
    rows = len(path.read_bytes().splitlines()) if not parquet else pq.read_metadata(path).num_rows
    assert rows > 0
    assert load_all([path], parquet, fmt) == dict.fromkeys(
        ["pyarrow", "pandas", "polars", "duckdb", "datasets"], rows
    )


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
def test_dpo_pairs_of_a_preference_and_a_ranking_project_load_together(exports, tmp_path, parquet):
    paths = [
        write(exports, project, "dpo", tmp_path, parquet=parquet)
        for project in ("code-preference", "answer-ranking")
    ]
    rows = sum(
        pq.read_metadata(p).num_rows if parquet else len(p.read_bytes().splitlines()) for p in paths
    )
    assert load_all(paths, parquet, "dpo") == dict.fromkeys(
        ["pyarrow", "pandas", "polars", "duckdb", "datasets"], rows
    )
