"""Read an import file record by record, in bounded memory: JSONL (a record per line),
CSV (a record per row, which may span lines), Parquet or a Hugging Face `datasets`
folder (a record per row, read a batch at a time), each with the number of the line (or
row) it starts on and its size in bytes.

Files are read as bytes and decoded line by line, so an encoding problem is reported
with its line instead of stopping the read: undecodable bytes are carried as
`surrogateescape` characters, which bot/intake/bounds.py names with their field. No line
or record is held beyond the item size cap: a longer one is skipped to its end and
reported with its size.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from bot.intake.bounds import NUL_STANDIN, ItemLimits, field_name
from bot.intake.records import RecordError

UTF8_BOM = b"\xef\xbb\xbf"
# Columns of a CSV file that hold JSON text (structured fields); the rest are strings.
CSV_JSON_COLUMNS = (
    "conversation",
    "prediction",
    "prompt",
    "responses",
    "metadata",
    "gold",
    "requires",
)
_SKIP_CHUNK = 1 << 16


class RawRecord(NamedTuple):
    line: int  # the line the record starts on
    data: object  # the parsed record, or a RecordError saying why it could not be read
    size: int  # bytes, without the final line break


class FileUnreadable(RecordError):
    """A problem that stops the read: nothing after it could be interpreted."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


def _wrong_encoding(start: bytes) -> str | None:
    """Name a UTF-16 or UTF-32 file from its first bytes, with or without a BOM."""
    if start.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        name = "UTF-32"
    elif start.startswith((b"\xff\xfe", b"\xfe\xff")):
        name = "UTF-16"
    elif len(start) >= 2 and b"\x00" in start[:2]:
        name = "UTF-16"  # ASCII in UTF-16 has a NUL in every other byte
    else:
        return None
    return (
        f"the file is {name}, not UTF-8; convert it "
        f"(e.g. `iconv -f {name} -t UTF-8 FILE > FILE.utf8.jsonl`) and import that"
    )


def _decode(raw: bytes) -> tuple[str, tuple[int, int] | None]:
    """The text of a line, and (column, byte) of its first byte that is not UTF-8."""
    try:
        text = raw.decode("utf-8")
        bad = None
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", "surrogateescape")
        bad = (len(raw[: exc.start].decode("utf-8", "replace")) + 1, raw[exc.start])
    if "\x00" in text:
        text = text.replace("\x00", NUL_STANDIN)
    return text, bad


def _encoding_problem(bad: tuple[int, int], line: int | None = None) -> str:
    where = f"line {line} column {bad[0]}" if line is not None else f"column {bad[0]}"
    return f"not UTF-8: byte 0x{bad[1]:02x} at {where} (Latin-1 or Windows-1252?); save the file as UTF-8"


def too_deep_at(text: str, max_depth: int) -> tuple[object, ...] | None:
    """The path of the first container of JSON `text` nested deeper than `max_depth`,
    found by scanning brackets (json.loads recursed too deep to say where)."""
    path: list[object] = []
    opened: list[str] = []
    key: object = None
    at = 0
    while at < len(text):
        char = text[at]
        if char == '"':
            end = at + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if opened and opened[-1] == "{" and key is None:
                try:
                    key = json.loads(text[at : end + 1])
                except ValueError:
                    key = "?"
            at = end + 1
            continue
        if char in "[{":
            if opened:
                path.append(key)  # the new container's place in its parent
            if len(opened) >= max_depth:
                return tuple(path)
            opened.append(char)
            key = 0 if char == "[" else None
        elif char in "]}" and opened:
            opened.pop()
            key = path.pop() if path else None  # back to the parent's place
        elif char == "," and opened:
            key = key + 1 if opened[-1] == "[" and isinstance(key, int) else None
        at += 1
    return None


def parse_json(text: str, limits: ItemLimits, where: tuple[object, ...] = ()) -> object:
    """json.loads, its failures as RecordError (a nesting too deep for the parser's
    recursion, an integer of more than 4,300 digits, any syntax error)."""
    try:
        return json.loads(text)
    except RecursionError:
        path = (*where, *(too_deep_at(text, limits.max_depth - len(where)) or ()))
        problem = limits.depth_problem()
        raise RecordError(f"field `{field_name(path)}`: {problem}" if path else problem) from None
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON ({exc.msg} at column {exc.colno})"
    except ValueError as exc:
        problem = f"not valid JSON ({exc})"
    raise RecordError(f"field `{field_name(where)}`: {problem}" if where else problem)


def _skip_line(handle: BinaryIO) -> int:
    """Read on to the end of the current line; the bytes skipped."""
    skipped = 0
    while chunk := handle.readline(_SKIP_CHUNK):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def read_jsonl(handle: BinaryIO, limits: ItemLimits) -> Iterator[RawRecord]:
    cap = limits.max_bytes
    number = 0
    while raw := handle.readline(cap + 3):  # the cap, a line break, one byte over
        number += 1
        if number == 1:
            raw = raw.removeprefix(UTF8_BOM)
        if not raw.endswith(b"\n") and len(raw) > cap + 1:
            size = len(raw) + _skip_line(handle)
            yield RawRecord(number, RecordError(limits.size_problem(size)), size)
            continue
        body = raw.rstrip(b"\r\n")
        if len(body) > cap:
            yield RawRecord(number, RecordError(limits.size_problem(len(body))), len(body))
            continue
        if not body.strip():
            continue
        text, bad = _decode(body)
        try:
            data: object = parse_json(text, limits)
        except RecordError as exc:
            data = RecordError(f"{_encoding_problem(bad)}; {exc}" if bad else str(exc))
        yield RawRecord(number, data, len(body))


class _CsvLines:
    """The physical lines of a CSV file for csv.reader: decoded, counted, and bounded
    per record (a record over the cap raises _Oversize before it is held whole)."""

    def __init__(self, handle: BinaryIO, cap: int) -> None:
        self.handle = handle
        self.cap = cap
        self.number = 0  # the last line read
        self.start_record()

    def start_record(self) -> None:
        self.size = 0
        self.quotes = 0
        self.ended = True  # the last chunk read ended its line
        self.last_break = 0
        self.bad: tuple[int, tuple[int, int]] | None = None  # line, (column, byte)

    def __iter__(self) -> _CsvLines:
        return self

    def _take(self, raw: bytes) -> None:
        if self.ended:
            self.number += 1
        self.size += len(raw)
        self.quotes += raw.count(b'"')
        self.ended = raw.endswith(b"\n")
        self.last_break = len(raw) - len(raw.rstrip(b"\r\n"))

    def __next__(self) -> str:
        raw = self.handle.readline(self.cap - self.size + 3)
        if not raw:
            raise StopIteration
        if self.number == 0:
            raw = raw.removeprefix(UTF8_BOM)
        self._take(raw)
        if self.size - self.last_break > self.cap:  # a cut line counts as over, too
            raise _Oversize
        text, bad = _decode(raw)
        if bad and self.bad is None:
            self.bad = (self.number, bad)
        return text

    @property
    def record_size(self) -> int:
        return self.size - self.last_break

    def skip_record(self) -> int:
        """After a record that could not be parsed: read on to its end (a line break
        outside quotes, as RFC 4180 quotes them); its size."""
        while not (self.ended and self.quotes % 2 == 0):
            raw = self.handle.readline(_SKIP_CHUNK)
            if not raw:
                break
            self._take(raw)
        return self.record_size


class _Oversize(Exception):
    pass


def _csv_record(
    header: list[str], cells: list[str], limits: ItemLimits
) -> tuple[dict[str, object], list[str]]:
    record: dict[str, object] = {}
    problems = []
    if len(cells) > len(header) and any(cells[len(header) :]):
        problems.append(f"{len(cells)} cells, but the header names {len(header)} columns")
    for column, cell in zip(header, cells, strict=False):
        if cell == "":
            continue  # an empty cell is a field left out
        if column in CSV_JSON_COLUMNS:
            try:
                record[column] = parse_json(cell, limits, (column,))
            except RecordError as exc:
                problems.append(str(exc))
        else:
            record[column] = cell
    return record, problems


def read_csv(handle: BinaryIO, limits: ItemLimits) -> Iterator[RawRecord]:
    # csv refuses a field over its limit (131,072 by default); the limit is the item cap,
    # and _CsvLines refuses a whole record over it before csv sees the rest.
    csv.field_size_limit(limits.max_bytes)
    lines = _CsvLines(handle, limits.max_bytes)
    reader = csv.reader(lines)
    header: list[str] | None = None
    while True:
        lines.start_record()
        start = lines.number + 1
        problem: str | None = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _Oversize:
            problem = limits.size_problem(lines.skip_record())
        except csv.Error as exc:
            problem = f"not valid CSV ({exc})"
            if "field larger than field limit" in str(exc):
                problem = limits.size_problem(lines.skip_record())
            else:
                lines.skip_record()
        if problem is None and lines.record_size > limits.max_bytes:
            problem = limits.size_problem(lines.record_size)
        if problem is not None:
            if header is None:
                raise FileUnreadable(f"the header: {problem}", start)
            yield RawRecord(start, RecordError(problem), lines.record_size)
            continue
        if not cells:
            continue  # a blank line
        if header is None:
            header = [name.strip() for name in cells]
            repeated = sorted({name for name in header if name and header.count(name) > 1})
            if repeated:
                raise FileUnreadable(f"the header names column `{repeated[0]}` twice", start)
            continue
        record, problems = _csv_record(header, cells, limits)
        if problems and lines.bad:
            problems.insert(0, _encoding_problem(lines.bad[1], lines.bad[0]))
        data = RecordError("; ".join(problems)) if problems else record
        yield RawRecord(start, data, lines.record_size)


# --- columnar files: Parquet and `datasets` folders -----------------------------------
COLUMNAR_BATCH = 1024


def is_hf_dataset(path: Path) -> bool:
    """A folder written by `datasets`' save_to_disk (its state.json lists the shards)."""
    return path.is_dir() and (path / "state.json").is_file()


def record_unit(path: Path) -> str:
    """What the records of this file are numbered by in messages: lines or rows."""
    return "row" if path.suffix.lower() == ".parquet" or is_hf_dataset(path) else "line"


def _plain(value: object, where: tuple[object, ...]) -> object:
    """A columnar value as JSON would hold it: nulls are fields left out (as an empty CSV
    cell), times as ISO-8601 text; binary data is refused with its field."""
    if isinstance(value, dict):
        return {k: _plain(v, (*where, k)) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v, (*where, n)) for n, v in enumerate(value)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray):
        raise RecordError(f"field `{field_name(where)}`: binary data; give a URL or path instead")
    return value


def _columnar_record(row: dict, limits: ItemLimits) -> tuple[object, int]:
    """(the record, or a RecordError; its size as JSON). A structured field given as JSON
    text (as a CSV cell holds it) is parsed."""
    try:
        record: dict[str, object] = {}
        for column, value in row.items():
            if value is None:
                continue
            if column in CSV_JSON_COLUMNS and isinstance(value, str) and value[:1] in "[{":
                value = parse_json(value, limits, (column,))
            record[column] = _plain(value, (column,))
    except RecordError as exc:
        return exc, 0
    size = len(json.dumps(record, ensure_ascii=False).encode())
    if size > limits.max_bytes:
        return RecordError(limits.size_problem(size)), size
    return record, size


def _batches_of(path: Path) -> Iterator[pa.RecordBatch]:
    if path.is_dir():
        state = json.loads((path / "state.json").read_text())
        for shard in state.get("_data_files") or []:
            with pa.memory_map(str(path / shard["filename"])) as source:
                yield from pa.ipc.open_stream(source)
        return
    yield from pq.ParquetFile(str(path)).iter_batches(batch_size=COLUMNAR_BATCH)


def read_columnar(path: Path, limits: ItemLimits) -> Iterator[RawRecord]:
    """A Parquet file's rows, or a `datasets` folder's, numbered from 1."""
    number = 0
    try:
        for batch in _batches_of(path):
            for row in batch.to_pylist():
                number += 1
                data, size = _columnar_record(row, limits)
                yield RawRecord(number, data, size)
    except (pa.ArrowException, ValueError, KeyError) as exc:
        what = "a `datasets` folder" if path.is_dir() else "a Parquet file"
        raise FileUnreadable(f"not readable as {what} ({exc})", number + 1) from None


def read_records(path: Path, limits: ItemLimits) -> Iterator[RawRecord]:
    """Every record of the file in order; OSError if it cannot be read, FileUnreadable
    for a problem that leaves nothing after it readable (after the records before it)."""
    if record_unit(path) == "row":
        yield from read_columnar(path, limits)
        return
    with path.open("rb") as handle:
        problem = _wrong_encoding(handle.peek(4)[:4])
        if problem:
            raise FileUnreadable(problem)
        if path.suffix.lower() == ".csv":
            yield from read_csv(handle, limits)
        else:
            yield from read_jsonl(handle, limits)
