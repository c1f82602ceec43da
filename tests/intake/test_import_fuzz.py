"""Generated import files, broken in every way a person or a program breaks them: the
import is refused cleanly (ImportRejected, nothing stored) or lands whole; no other
exception ever escapes."""

from __future__ import annotations

import csv
import io
import itertools
import json

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from bot.intake.importer import ImportRejected, import_records, validate_file
from bot.workflow.project_versions import project_config, require_project
from storage.db import session_scope
from storage.models import Item
from tests.factories import apply, label_config

RUN = itertools.count()  # ids unique across examples, so valid files land

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
texts = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["", "\x00", "t\x07", "\ud800", "<!here>", "é", "\u202e", "x" * 300]
)


# Text a valid item may carry: any Unicode but control characters and surrogates.
clean_texts = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1)


@st.composite
def records(draw: st.DrawFn, run: int, index: int, damaged: bool) -> dict:
    record: dict = {
        "id": f"f{run}-{index}",
        "conversation": [
            {"role": "user", "content": draw(texts if damaged else clean_texts)},
            {"role": "assistant", "content": 'Let me check.\n"Quoted", and\r\nsplit'},
        ],
        "prediction": {"label": draw(st.sampled_from(["billing", "bug", "refund"][: 2 + damaged]))},
    }
    if damaged:
        for field in draw(
            st.sets(st.sampled_from(["id", "conversation", "prediction", "metadata"]))
        ):
            record[field] = draw(texts | json_values)  # a field replaced by junk
    return record


@st.composite
def jsonl_lines(draw: st.DrawFn, run: int, index: int, damaged: bool) -> bytes:
    record = draw(records(run, index, damaged))
    good = json.dumps(record, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if not damaged:
        return good
    return draw(
        st.sampled_from(
            [
                good,
                good[: len(good) // 2],  # cut short
                good.replace(b"\\u0000", b"\x00"),  # a raw NUL byte
                good.replace("é".encode(), b"\xe9"),  # Latin-1
                b"[" * 3000 + b"]" * 3000,
                b"",
            ]
        )
        | st.binary(max_size=60)
        | json_values.map(lambda value: json.dumps(value).encode())
    )


@st.composite
def csv_rows(draw: st.DrawFn, run: int, index: int, damaged: bool) -> bytes:
    record = draw(records(run, index, damaged))
    cells = [
        value
        if isinstance(value, str)
        else json.dumps(value, indent=draw(st.sampled_from([None, 1])))
        for value in (record.get(column) for column in ("id", "conversation", "prediction"))
    ]
    if damaged:
        cells += draw(st.lists(texts, max_size=2))  # cells beyond the header
    out = io.StringIO()
    csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerow(cells)
    row = out.getvalue().encode("utf-8", "surrogatepass")
    if not damaged:
        return row
    return draw(
        st.sampled_from([row, row[: len(row) // 2], row.replace(b'"', b"", 1), b"\n"])
        | st.binary(max_size=60)
    )


@st.composite
def files(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """(suffix, content, whether it must land: every line a valid item)."""
    run = next(RUN)
    suffix = draw(st.sampled_from([".jsonl", ".csv"]))
    count = draw(st.integers(min_value=0, max_value=8))
    damaged = draw(st.booleans())  # else every line is a valid item: the file must land
    if suffix == ".jsonl":
        body = b"\n".join(draw(jsonl_lines(run, i, damaged)) for i in range(count)) + b"\n"
    else:
        body = b"id,conversation,prediction\n" + b"".join(
            draw(csv_rows(run, i, damaged)) for i in range(count)
        )
    prefix = draw(st.sampled_from([b"", b"\xef\xbb\xbf"] + [b"\xff\xfe"] * damaged))
    return suffix, prefix + body, count > 0 and not damaged


def stored(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Item)).one()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=files())
def test_a_broken_file_is_refused_cleanly_or_lands_whole(engine, tmp_path, file):
    apply(engine, label_config())  # the same config again is no new version
    suffix, body, must_land = file
    path = tmp_path / f"items{suffix}"
    path.write_bytes(body)
    before = stored(engine)
    try:
        with session_scope(engine) as session:
            project = require_project(session, "support-intent")
            staged = validate_file(path, project_config(session, project))
            report = import_records(session, project, staged, source=str(path))
    except ImportRejected as error:
        event("refused")
        assert not must_land, error.problems
        # Every problem names its line, save a file with no record at all.
        assert error.problems == ["the file holds no items"] or all(
            problem.startswith("line ") for problem in error.problems
        )
        assert stored(engine) == before
    else:
        event("landed")
        assert report.created == len(staged) > 0
        assert stored(engine) == before + report.created
