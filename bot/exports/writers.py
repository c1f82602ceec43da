"""Where export rows go: JSONL, Parquet written in row groups, or a Hugging Face dataset.

Every writer takes rows one at a time and holds at most one row group, so an export's
memory does not depend on its size.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from bot.runtime.errors import UserError

ROW_GROUP = 20_000


OPTIONS = orjson.OPT_NON_STR_KEYS


def encode(value: Any) -> str:
    """Compact JSON, UTF-8 as is. orjson: 15x faster than json.dumps on these rows, which
    made encoding the largest cost of a big export."""
    return orjson.dumps(value, default=str, option=OPTIONS).decode()


class ExportError(UserError, ValueError):
    """An export that cannot be made as asked; the message says what to change."""


class RowSink(Protocol):
    @property
    def rows(self) -> int: ...  # read-only here: HfDatasetSink counts through its Parquet file

    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """One JSON object per line, on an open handle (the caller closes it). A binary
    handle takes orjson's UTF-8 bytes as they are; a text handle gets str."""

    def __init__(self, handle: BinaryIO | TextIO) -> None:
        self.handle = handle
        self.text = isinstance(handle, io.TextIOBase)
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        line = orjson.dumps(row, default=str, option=OPTIONS | orjson.OPT_APPEND_NEWLINE)
        self.handle.write(line.decode() if self.text else line)  # type: ignore[arg-type]  # self.text tells which of str and bytes the handle takes
        self.rows += 1

    def close(self) -> None:
        self.handle.flush()


class ParquetSink:
    """Rows buffered by column and written one row group at a time."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        *,
        row_group: int = ROW_GROUP,
    ) -> None:
        self.path = path
        self.schema = schema
        self.row_group = row_group
        self.rows = 0
        self._columns: dict[str, list] = {name: [] for name in schema.names}
        self._writer = pq.ParquetWriter(str(path), schema)

    def write(self, row: dict[str, Any]) -> None:
        extra = set(row) - set(self._columns)
        if extra:  # dropping them would lose data silently (images of a vision pair)
            raise ExportError(
                f"row {row.get('id')!r} has {', '.join(sorted(extra))}, which this format's "
                "Parquet schema does not hold: export it as JSONL (without --parquet or "
                "--hf-dataset); `datasets` loads that file as it is"
            )
        for name, values in self._columns.items():
            values.append(row.get(name))
        self.rows += 1
        if len(self._columns[self.schema.names[0]]) >= self.row_group:
            self._flush()

    def _flush(self) -> None:
        if not self._columns[self.schema.names[0]]:
            return
        self._writer.write_table(pa.Table.from_pydict(self._columns, schema=self.schema))
        for values in self._columns.values():
            values.clear()

    def close(self) -> None:
        self._flush()
        self._writer.close()


def require_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ExportError(
            "--hf-dataset needs the `datasets` package, which is not installed here. "
            "Install it (pip install 'datasets>=2.19', or the dev extra) or export with "
            "--parquet, which `datasets.load_dataset('parquet', …)` reads too."
        ) from None
    return datasets


class HfDatasetSink:
    """A Hugging Face dataset folder (save_to_disk), made from a streamed Parquet file."""

    def __init__(self, directory: Path, schema: pa.Schema) -> None:
        self.datasets = require_datasets()
        self.directory = directory
        self._work = Path(tempfile.mkdtemp(prefix="quorum-hf-"))
        self._parquet = ParquetSink(self._work / "rows.parquet", schema)

    @property
    def rows(self) -> int:
        return self._parquet.rows

    def write(self, row: dict[str, Any]) -> None:
        self._parquet.write(row)

    def close(self) -> None:
        try:
            self._parquet.close()
            if self.rows:
                dataset = self.datasets.Dataset.from_parquet(
                    str(self._parquet.path), cache_dir=str(self._work / "cache")
                )
                dataset.save_to_disk(str(self.directory))
            else:  # from_parquet refuses a file without rows; an empty export is still one
                table = pq.read_table(str(self._parquet.path))
                dataset = self.datasets.Dataset(self.datasets.table.InMemoryTable(table))
                dataset.save_to_disk(str(self.directory), num_shards=1)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Remove the working folder (also when the export failed before `close`)."""
        shutil.rmtree(self._work, ignore_errors=True)


class DiscardSink:
    """Counts rows nobody asked to keep (set-aside ties when no --ties-out is given)."""

    def __init__(self) -> None:
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self.rows += 1

    def close(self) -> None:
        pass
