"""Items from the files LLM teams keep data in: a Parquet file or a `datasets` folder
imports exactly what the same records as JSONL import, with the same checks, each bad
row named by its number, and all or nothing."""

from __future__ import annotations

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli.main import app
from bot.intake.importer import ImportRejected
from bot.runtime.settings import get_settings
from storage.models import Item
from tests.factories import apply, example_config, import_file, write_items

PROJECT = "code-preference"


def pair(n: int, **changes: object) -> dict:
    record = {
        "id": f"p-{n}",
        "prompt": [
            {"role": "system", "content": "You review Python."},
            {"role": "user", "content": f"Dedupe list {n} keeping order"},
        ],
        "responses": [
            {"id": "a", "content": "list(set(x))", "model": "coder-7b"},
            {"id": "b", "content": "list(dict.fromkeys(x))"},  # no model: a null in Parquet
        ],
        "metadata": {"source": "arena", "turn": n},
    }
    return {**record, **changes}


RECORDS = [pair(1), pair(2), pair(3)]


def stored(engine, project_id: int | None = None) -> dict[str, tuple[str, dict]]:
    with Session(engine) as session:
        items = session.exec(select(Item)).all()
    return {
        i.external_id: (i.content_hash, i.meta)
        for i in items
        if project_id is None or i.project_id == project_id
    }


def as_parquet(tmp_path, records: list[dict]):
    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=2)
    return path


def as_dataset(tmp_path, records: list[dict]):
    folder = tmp_path / "pairs-dataset"
    datasets.Dataset.from_list(records).save_to_disk(str(folder))
    return folder


@pytest.mark.parametrize("write", [as_parquet, as_dataset], ids=["parquet", "datasets"])
def test_a_columnar_file_imports_what_its_jsonl_imports(engine, tmp_path, write):
    apply(engine, example_config(PROJECT))
    apply(engine, example_config(PROJECT).model_copy(update={"name": "pairs-from-jsonl"}))
    import_file(engine, write(tmp_path, RECORDS), PROJECT)
    import_file(engine, write_items(tmp_path / "pairs.jsonl", RECORDS), "pairs-from-jsonl")
    columnar, jsonl = stored(engine, 1), stored(engine, 2)
    assert len(columnar) == 3 and columnar == jsonl
    assert columnar["p-2"][1] == {"source": "arena", "turn": 2}


@pytest.mark.parametrize("write", [as_parquet, as_dataset], ids=["parquet", "datasets"])
def test_bad_rows_are_named_by_number_and_nothing_is_stored(engine, tmp_path, write):
    apply(engine, example_config(PROJECT))
    system_only = pair(2, prompt=[{"role": "system", "content": "You review Python."}])
    same = pair(4, responses=[{"id": "a", "content": "x"}, {"id": "b", "content": "x"}])
    path = write(tmp_path, [pair(1), system_only, pair(1), same])
    with pytest.raises(ImportRejected) as refused:
        import_file(engine, path, PROJECT)
    message = str(refused.value)
    assert "row 2: field `prompt`: " in message and "system's" in message
    assert "row 4: field `responses`: 'b' has the same text as 'a'" in message
    assert "row 3: id 'p-1' repeats row 1" in message
    assert "line " not in message
    assert stored(engine) == {}


def test_a_file_that_is_not_parquet_is_refused_with_a_reason(engine, tmp_path):
    apply(engine, example_config(PROJECT))
    path = tmp_path / "pairs.parquet"
    path.write_text('{"id": "p-1"}\n')
    with pytest.raises(ImportRejected, match="not readable as a Parquet file"):
        import_file(engine, path, PROJECT)


def test_the_command_line_imports_parquet_and_datasets_folders(
    engine, database_url, tmp_path, monkeypatch
):
    apply(engine, example_config(PROJECT))
    monkeypatch.setenv("DATABASE_URL", database_url)
    getattr(get_settings, "cache_clear", lambda: None)()
    runner = CliRunner()
    parquet = as_parquet(tmp_path, RECORDS[:2])
    folder = as_dataset(tmp_path, RECORDS)
    first = runner.invoke(app, ["import", "--project", PROJECT, str(parquet)])
    assert first.exit_code == 0, first.output
    assert "Imported 2 new item(s)" in first.output
    second = runner.invoke(app, ["import", "--project", PROJECT, "--hf-dataset", str(folder)])
    assert second.exit_code == 0, second.output
    assert "Imported 1 new item(s)" in second.output and "2 already present" in second.output
    neither = runner.invoke(app, ["import", "--project", PROJECT])
    assert neither.exit_code != 0 and "--hf-dataset DIR" in neither.output
    not_a_dataset = runner.invoke(app, ["import", "-p", PROJECT, "--hf-dataset", str(tmp_path)])
    assert not_a_dataset.exit_code != 0 and "no state.json" in not_a_dataset.output
    getattr(get_settings, "cache_clear", lambda: None)()
