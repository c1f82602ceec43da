"""Turning the export command's options into sinks, and its dates into UTC instants."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from bot.exports.formats import ExportFormat
from bot.exports.writers import (
    ExportError,
    HfDatasetSink,
    JsonlSink,
    ParquetSink,
    RowSink,
    require_datasets,
)


def parse_when(text: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date or date-time as UTC. With `end_of_day`, a bare date means "through
    the end of that day" (the bound returned is the next midnight, exclusive)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time(), tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(
            f"{option} {text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextmanager
def open_outputs(
    fmt: ExportFormat,
    *,
    out: Path | None,
    parquet: bool = False,
    hf_dataset: Path | None = None,
    ties_out: Path | None = None,
) -> Iterator[tuple[RowSink, RowSink | None, str | None]]:
    """(main sink, ties sink or None, where the main output goes) for the options given.
    Files opened here are closed on the way out, whatever happens."""
    if parquet and hf_dataset:
        raise ExportError("choose one of --parquet (with --out FILE) and --hf-dataset DIR")
    if parquet and out is None:
        raise ExportError("--parquet writes a file: give it with --out FILE")
    if hf_dataset and out is not None:
        raise ExportError("--hf-dataset DIR is the output; leave out --out")
    if ties_out and fmt.name != "dpo":
        raise ExportError("--ties-out is for --format dpo (ties and both-bad pairs)")
    with ExitStack() as stack:
        sink: RowSink
        if hf_dataset is not None:
            require_datasets()
            sink = HfDatasetSink(hf_dataset, fmt.schema, json_columns=fmt.json_columns)
            where: str | None = str(hf_dataset)
        elif parquet:
            assert out is not None
            sink = ParquetSink(out, fmt.schema, json_columns=fmt.json_columns)
            where = str(out)
        elif out is not None:
            sink = JsonlSink(stack.enter_context(out.open("wb")))
            where = str(out)
        else:
            sink = JsonlSink(sys.stdout)
            where = None
        ties = None
        if ties_out is not None:
            ties = JsonlSink(stack.enter_context(ties_out.open("wb")))
        yield sink, ties, where
