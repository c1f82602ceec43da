"""Broken and hostile import files: each refused with the line and field of every
problem, nothing stored, and no exception but ImportRejected (docs/import.md)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from bot import EXAMPLES_DIR
from bot.cli.main import app
from bot.intake.bounds import ItemLimits
from bot.intake.importer import ImportRejected, import_records
from bot.intake.records import RecordError, validate_record
from bot.intake.staging import stage_records
from bot.workflow.project_versions import require_project
from storage.db import session_scope
from storage.models import Event, Item
from tests.factories import apply, conversation, example_config, import_file, label_config


def good(i: int | str, **changes: object) -> dict:
    return {
        "id": f"t-{i}",
        "conversation": conversation(f"question {i}"),
        "prediction": {"label": "billing", "confidence": 0.5},
        **changes,
    }


def jsonl(*records: dict) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


def csv_bytes(*records: dict) -> bytes:
    """Records as CSV: structured fields as JSON text, pretty-printed so that a record
    spans several lines, as spreadsheets and pandas write them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "conversation", "prediction", "metadata"])
    for record in records:
        writer.writerow(
            [
                record["id"],
                *(
                    json.dumps(record[key], indent=1, ensure_ascii=False) if key in record else ""
                    for key in ("conversation", "prediction", "metadata")
                ),
            ]
        )
    return out.getvalue().encode()


def line_of(path, start: str) -> int:
    """The number of the first line of the file that starts with `start`."""
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    return next(n for n, line in enumerate(lines, start=1) if line.startswith(start))


def stored(engine) -> tuple[int, int]:
    with Session(engine) as session:
        items = session.exec(select(func.count()).select_from(Item)).one()
        events = session.exec(select(func.count()).select_from(Event)).one()
    return items, events


def refused(engine, path) -> list[str]:
    """The problems of an import that must fail, after checking it stored nothing."""
    before = stored(engine)
    with pytest.raises(ImportRejected) as error:
        import_file(engine, path)
    assert stored(engine) == before
    assert str(error.value).startswith(f"{path}: ")  # the file is named
    return error.value.problems


@pytest.fixture
def project(engine):
    apply(engine, label_config())
    return engine


# -- encodings ----------------------------------------------------------------------------


def test_latin1_bytes_are_named_with_line_and_field(project, tmp_path):
    path = tmp_path / "items.jsonl"
    latin = json.dumps(good(2, conversation=conversation("café")), ensure_ascii=False)
    path.write_bytes(jsonl(good(1)) + latin.encode("latin-1") + b"\n" + jsonl(good(3)))
    (problem,) = refused(project, path)
    assert problem.startswith("line 2: field `conversation.0.content`: not UTF-8: byte 0xe9")
    assert "save the file as UTF-8" in problem


def test_latin1_bytes_in_a_csv_cell_are_named_with_the_record_line(project, tmp_path):
    path = tmp_path / "items.csv"
    body = csv_bytes(good(1), good(2, conversation=conversation("naïve")))
    path.write_bytes(body.replace("naïve".encode(), "naïve".encode("latin-1")))
    (problem,) = refused(project, path)
    line = line_of(path, "t-2,")
    assert line > 3  # record 1 spans several lines
    assert problem.startswith(f"line {line}: field `conversation.0.content`: not UTF-8: byte 0xef")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_and_utf32_files_are_named(project, tmp_path, codec, suffix):
    path = tmp_path / f"items{suffix}"
    body = jsonl(good(1)) if suffix == ".jsonl" else csv_bytes(good(1))
    path.write_bytes(body.decode().encode(codec))
    (problem,) = refused(project, path)
    assert problem.startswith("line 1: the file is UTF-")
    assert "not UTF-8; convert it" in problem


def test_a_utf8_bom_simply_works(project, tmp_path):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "a.jsonl").write_bytes(bom + jsonl(good(1), good(2)))
    (tmp_path / "b.csv").write_bytes(bom + csv_bytes(good(3), good(4)))
    import_file(project, tmp_path / "a.jsonl")
    import_file(project, tmp_path / "b.csv")
    with Session(project) as session:
        ids = session.exec(select(Item.external_id).order_by(Item.external_id)).all()
    assert ids == ["t-1", "t-2", "t-3", "t-4"]


# -- sizes --------------------------------------------------------------------------------


def test_a_csv_field_over_128_kib_imports_under_the_item_cap(project, tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes(csv_bytes(good(1, conversation=conversation("x" * 200_000))))
    import_file(project, path)  # Python's csv stops at 131,072 characters by default
    with Session(project) as session:
        (item,) = session.exec(select(Item)).all()
    assert len(item.content["conversation"][0]["content"]) == 200_000


def test_items_over_the_configured_cap_are_refused_and_reading_goes_on(
    project, tmp_path, monkeypatch
):
    monkeypatch.setenv("QUORUM_MAX_ITEM_BYTES", str(64 * 1024))
    big = good(2, conversation=conversation("x" * 100_000))
    bad_label = good(3, prediction={"label": "refund"})
    jsonl_path, csv_path = tmp_path / "items.jsonl", tmp_path / "items.csv"
    jsonl_path.write_bytes(jsonl(good(1), big, bad_label))
    csv_path.write_bytes(csv_bytes(good(1), big, bad_label))
    cap = "over the 64 KiB item size cap (QUORUM_MAX_ITEM_BYTES)"
    # The record after the big one is found where it starts: the big record was skipped
    # to its end, however many lines it spans.
    csv_lines = line_of(csv_path, "t-2,"), line_of(csv_path, "t-3,")
    for path, (big_line, next_line) in ((jsonl_path, (2, 3)), (csv_path, csv_lines)):
        problems = refused(project, path)
        assert len(problems) == 2
        assert problems[0].startswith(f"line {big_line}: the item is 9") and cap in problems[0]
        assert problems[1].startswith(f"line {next_line}: field `prediction.label`: 'refund'")


def test_a_fifty_megabyte_item_is_refused(project, tmp_path):
    path = tmp_path / "items.jsonl"
    with path.open("wb") as handle:
        handle.write(jsonl(good(1)))
        handle.write(json.dumps(good(2, conversation=conversation("y" * 50 * 1024**2))).encode())
        handle.write(b"\n" + jsonl(good(1)))
    assert refused(project, path) == [
        "line 2: the item is 50 MiB, over the 1 MiB item size cap (QUORUM_MAX_ITEM_BYTES)",
        "line 3: id 't-1' repeats line 1",
    ]


# -- structure ----------------------------------------------------------------------------


def test_deep_nesting_is_refused_with_line_and_field(project, tmp_path):
    path = tmp_path / "items.jsonl"
    too_deep_to_parse = "[" * 100_000 + "]" * 100_000
    too_deep_to_keep = "[" * 40 + "]" * 40
    lines = [
        json.dumps(good(1)),
        json.dumps(good(2))[:-1] + f', "metadata": {{"a": {too_deep_to_parse}}}}}',
        json.dumps(good(3))[:-1] + f', "metadata": {{"b": [1, {too_deep_to_keep}]}}}}',
    ]
    path.write_text("\n".join(lines) + "\n")
    problems = refused(project, path)
    assert problems[0].startswith("line 2: field `metadata.a.0.0.0.0.….0`: nested deeper than 32")
    assert problems[1].startswith("line 3: field `metadata.b.1.0.0.0.….0`: nested deeper than 32")


def test_deep_nesting_in_a_csv_cell_is_refused(project, tmp_path):
    path = tmp_path / "items.csv"
    nested = "[" * 50_000 + "]" * 50_000
    path.write_text(f'id,conversation,metadata\nt-1,"{nested}","{{}}"\n')
    (problem,) = refused(project, path)
    assert problem.startswith("line 2: field `conversation.0.0.0.0.0.….0`: nested deeper than 32")


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        ("t-1\u0000x", "holds a NUL character at character 4, which PostgreSQL cannot store"),
        ("t-1\u0007", "holds the control character U+0007 at character 4"),
        ("t-\u009b1", "holds the control character U+009B at character 3"),
        ("t-\n1", "holds the control character U+000A at character 3"),
    ],
)
def test_nul_and_control_characters_in_ids_are_refused(project, tmp_path, raw_id, expected):
    path = tmp_path / "items.jsonl"
    path.write_bytes(jsonl(good(1), {**good(2), "id": raw_id}))
    (problem,) = refused(project, path)
    assert problem.startswith(f"line 2: field `id`: {expected}")


def test_raw_nul_bytes_are_refused_with_their_field(project, tmp_path):
    jsonl_path, csv_path = tmp_path / "items.jsonl", tmp_path / "items.csv"
    jsonl_path.write_bytes(jsonl(good(1)) + jsonl(good("2\x00")).replace(b"\\u0000", b"\x00"))
    csv_path.write_bytes(csv_bytes(good(1)) + b"t-\x002,,\n")
    (problem,) = refused(project, jsonl_path)
    assert problem.startswith("line 2: field `id`: holds a NUL character")
    (problem,) = refused(project, csv_path)
    line = line_of(csv_path, "t-\x00")
    assert problem.startswith(f"line {line}: field `id`: holds a NUL")


def test_a_response_id_with_a_control_character_is_refused(engine, tmp_path):
    apply(engine, example_config("code-preference"))
    record = {
        "id": "p-1",
        "prompt": [{"role": "user", "content": "Explain DNS"}],
        "responses": [{"id": "a\u001b[2J", "content": "..."}, {"id": "b", "content": "..."}],
    }
    path = tmp_path / "items.jsonl"
    path.write_bytes(jsonl(record))
    before = stored(engine)
    with pytest.raises(ImportRejected) as error:
        import_file(engine, path, "code-preference")
    assert error.value.problems == [
        "line 1: field `responses.0.id`: holds the control character U+001B at character 2; "
        "ids must be printable text"
    ]
    assert stored(engine) == before


def test_nan_is_refused(project, tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(good(1, metadata={"score": float("nan")})) + "\n")
    assert refused(project, path) == [
        "line 1: field `metadata.score`: nan is not a number JSON can store"
    ]


def test_a_multi_line_csv_record_is_reported_at_its_first_line(project, tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes(csv_bytes(good(1), good(2, prediction={"label": "refund"})))
    line = line_of(path, "t-2,")
    assert path.read_text().count("\n") > line > 3  # both records span several lines
    (problem,) = refused(project, path)
    assert problem.startswith(f"line {line}: field `prediction.label`: 'refund'")


def test_several_problems_are_collected_up_to_a_cap(project, tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_bytes(b"".join(b"{broken\n" for _ in range(150)))
    with pytest.raises(ImportRejected) as error:
        import_file(project, path)
    assert len(error.value.problems) == ItemLimits().max_problems == 100
    assert error.value.total == 150
    message = str(error.value)
    assert "150 problem(s), nothing was imported" in message and "… and 130 more" in message
    assert "line 1: not valid JSON (Expecting property name enclosed in double quotes" in message


def test_a_repeated_csv_header_column_is_refused(project, tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("id,conversation,id\nt-1,[],t-2\n")
    assert refused(project, path) == ["line 1: the header names column `id` twice"]


def test_a_refusal_in_a_late_batch_stores_nothing(project, tmp_path):
    """Batches are written as they come; a refusal in the third rolls back the first two."""
    first = tmp_path / "first.jsonl"
    first.write_bytes(jsonl(good(2400)))
    import_file(project, first)
    path = tmp_path / "items.jsonl"
    path.write_bytes(
        jsonl(*(good(i) if i != 2400 else good(i, metadata={"v": 2}) for i in range(2500)))
    )
    (problem,) = refused(project, path)
    assert problem.startswith("line 2401: id 't-2400' was imported before with different content")


# -- records from Python ------------------------------------------------------------------


def test_records_from_python_meet_the_same_bounds():
    config = label_config()
    nested: dict = {}
    for _ in range(5000):  # deeper than `json` can encode
        nested = {"a": nested}
    cases = {
        "the item is 2 MiB, over the 1 MiB item size cap": good(1, metadata={"x": "y" * 2**21}),
        "field `metadata.a.a.a.a.a.….a`: nested deeper than 32 levels": good(1, metadata=nested),
        "field `metadata.x`: inf is not a number JSON can store": good(
            1, metadata={"x": float("inf")}
        ),
        "field `id`: holds a NUL character": good("1\x00"),
    }
    for expected, record in cases.items():
        with pytest.raises(RecordError) as error:
            validate_record(record, config, limits=ItemLimits())
        assert str(error.value).startswith(expected)


def test_records_validated_in_python_import_like_a_file(project):
    config = label_config()
    records = [(n, validate_record(good(n), config)) for n in range(1, 4)]
    with session_scope(project) as session:
        target = require_project(session, "support-intent")
        report = import_records(session, target, stage_records(records), source="api")
    assert report.created == 3
    assert stored(project) == (3, 4)  # and project_applied


# -- the command --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("utf16.jsonl", jsonl(good(1)).decode().encode("utf-16"), "line 1: the file is UTF-16"),
        ("latin1.jsonl", jsonl(good("é")).replace(b"\\u00e9", b"\xe9"), "line 1: field `id`"),
        ("deep.jsonl", b'{"id": ' + b"[" * 10**5 + b"]" * 10**5 + b"}\n", "line 1: field `id.0.0"),
        ("nul.jsonl", jsonl(good("\x00")), "line 1: field `id`: holds a NUL"),
    ],
)
def test_the_command_names_the_problem_and_exits_2(tmp_path, monkeypatch, name, body, expected):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    project_file = str(EXAMPLES_DIR / "support-intent.yml")
    assert runner.invoke(app, ["project", "apply", project_file]).exit_code == 0
    (tmp_path / name).write_bytes(body)
    result = runner.invoke(app, ["import", "--project", "support-intent", name])
    assert result.exit_code == 2, result.output
    assert f"{name}: 1 problem(s), nothing was imported" in result.output
    assert expected in result.output
    assert "Traceback" not in result.output
