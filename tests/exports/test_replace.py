"""A failed export never touches an earlier output: files are written beside their
destination under a temporary name and renamed into place only on success."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bot.exports.run as export_run

EARLIER = b'{"id": "from an earlier export"}\n'


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def earlier_outputs(tmp_path: Path) -> dict[Path, bytes]:
    files = {
        tmp_path / "labels.jsonl": EARLIER,
        tmp_path / "labels.parquet": b"PAR1 earlier parquet bytes PAR1",
        tmp_path / "pairs.jsonl": EARLIER,
        tmp_path / "ties.jsonl": b'{"id": "an earlier tie"}\n',
    }
    for path, content in files.items():
        path.write_bytes(content)
    return files


FAILING = [
    (["-p", "nope", "-o", "labels.jsonl"], "no project named 'nope'"),
    (["-p", "support-intent", "-f", "xml", "-o", "labels.jsonl"], "unknown format 'xml'"),
    (["-p", "support-intent", "-f", "dpo", "-o", "pairs.jsonl"], "label project"),
    (["-p", "nope", "--parquet", "-o", "labels.parquet"], "no project named 'nope'"),
    (
        ["-p", "nope", "-f", "dpo", "-o", "pairs.jsonl", "--ties-out", "ties.jsonl"],
        "no project named 'nope'",
    ),
]


@pytest.mark.parametrize("args, says", FAILING)
def test_a_refused_export_leaves_the_earlier_file_byte_identical(
    exports, quorum, tmp_path, args, says
):
    files = earlier_outputs(tmp_path)
    result = quorum("export", *args)
    assert result.exit_code == 2 and says in result.output, result.output
    assert {path: path.read_bytes() for path in files} == files
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "args",
    [
        ["-p", "support-intent", "-o", "labels.jsonl"],
        ["-p", "support-intent", "--parquet", "-o", "labels.parquet"],
        ["-p", "code-preference", "-f", "dpo", "-o", "pairs.jsonl", "--ties-out", "ties.jsonl"],
    ],
)
def test_a_crash_half_way_leaves_the_earlier_file_byte_identical(
    exports, quorum, tmp_path, monkeypatch, args
):
    files = earlier_outputs(tmp_path)
    built = export_run.labelled
    calls = []

    def crash_on_the_third_label(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the disk went away")
        return built(*a, **k)

    monkeypatch.setattr(export_run, "labelled", crash_on_the_third_label)
    with pytest.raises(RuntimeError, match="the disk went away"):
        quorum("export", *args)
    assert len(calls) == 3  # rows had been written when it failed
    assert {path: path.read_bytes() for path in files} == files
    assert leftovers(tmp_path) == []


def test_a_successful_export_replaces_the_file_and_keeps_its_permissions(exports, quorum, tmp_path):
    target = tmp_path / "labels.jsonl"
    target.write_bytes(EARLIER)
    target.chmod(0o640)
    result = quorum("export", "-p", "support-intent", "-o", "labels.jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert rows and all(row["project"] == "support-intent" for row in rows)
    assert target.stat().st_mode & 0o777 == 0o640
    assert leftovers(tmp_path) == []


def test_a_dataset_folder_is_replaced_whole_or_not_at_all(exports, quorum, tmp_path):
    import datasets

    assert quorum("export", "-p", "support-intent", "--hf-dataset", "ds").exit_code == 0
    first = list(datasets.load_from_disk(str(tmp_path / "ds")))
    refused = quorum("export", "-p", "nope", "--hf-dataset", "ds")
    assert refused.exit_code == 2
    assert list(datasets.load_from_disk(str(tmp_path / "ds"))) == first
    again = quorum("export", "-p", "support-intent", "--hf-dataset", "ds", "--method", "lead")
    assert again.exit_code == 0, again.output
    leads = list(datasets.load_from_disk(str(tmp_path / "ds")))
    assert 0 < len(leads) < len(first) and all(row["method"] == "lead" for row in leads)
    assert leftovers(tmp_path) == []


def test_an_empty_export_still_writes_a_dataset_folder(exports, quorum, tmp_path):
    import datasets

    result = quorum("export", "-p", "support-intent", "--hf-dataset", "ds", "--from", "2099-01-01")
    assert result.exit_code == 0, result.output
    assert len(datasets.load_from_disk(str(tmp_path / "ds"))) == 0


def test_a_folder_that_is_not_a_dataset_is_never_replaced(exports, quorum, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    result = quorum("export", "-p", "support-intent", "--hf-dataset", "notes")
    assert result.exit_code == 2 and "holds something other than a dataset" in result.output
    assert (notes / "todo.txt").read_text() == "keep me"
