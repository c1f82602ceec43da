"""Turning the export command's options into sinks, and its dates into UTC instants.

Files are written beside their destination under a temporary name and renamed into place
only when the whole export succeeded, so a failed export (an unknown project, a wrong
format, a crash half way) leaves an earlier output exactly as it was.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO

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


class Replacement:
    """A new version of `target` built at a temporary path in the same folder (so the
    final rename stays on one file system and is atomic), then moved into place by
    `commit()` or removed by `discard()`."""

    def __init__(self, target: Path, option: str, *, folder: bool = False) -> None:
        _check_destination(target, option, folder=folder)
        self.target = target
        self.folder = folder
        self.temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")

    def open(self) -> BinaryIO:
        # "xb": a new file with the process's usual permissions (umask), never an old one.
        return self.temp.open("xb")

    def commit(self) -> None:
        if self.target.exists() and not self.folder:
            shutil.copymode(self.target, self.temp)  # keep permissions someone chose
        if self.folder and self.target.is_dir():
            # Two renames: a folder cannot replace a non-empty folder in one.
            old = self.target.with_name(f".{self.target.name}.{secrets.token_hex(4)}.old")
            self.target.rename(old)
            self.temp.rename(self.target)
            shutil.rmtree(old, ignore_errors=True)
            return
        os.replace(self.temp, self.target)

    def discard(self) -> None:
        if self.temp.is_dir():
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            self.temp.unlink(missing_ok=True)


def _check_destination(target: Path, option: str, *, folder: bool) -> None:
    """Refuse what would fail only after the export's work, or replace the wrong thing."""
    parent = target.parent
    if not parent.is_dir():
        raise ExportError(
            f"{option} {target}: the folder {parent} does not exist.",
            f"Create it first (mkdir -p {parent}) or write somewhere else.",
        )
    if not os.access(parent, os.W_OK):
        raise ExportError(f"{option} {target}: the folder {parent} is not writable by you.")
    if not folder and target.is_dir():
        raise ExportError(f"{option} {target} is a folder; give the name of a file to write.")
    if folder and target.exists():
        if not target.is_dir():
            raise ExportError(f"{option} {target} is a file; give the name of a folder to write.")
        # Replacing a folder removes what was in it: only ever an earlier dataset.
        if any(target.iterdir()) and not (target / "state.json").is_file():
            raise ExportError(
                f"{option} {target} is a folder that holds something other than a dataset.",
                "Give a new folder, or one an earlier --hf-dataset export wrote.",
            )


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
    if ties_out is not None and out is not None and ties_out.resolve() == out.resolve():
        raise ExportError("--out and --ties-out name the same file; give each its own")
    replacements: list[Replacement] = []

    def replace(target: Path, option: str, *, folder: bool = False) -> Replacement:
        replacement = Replacement(target, option, folder=folder)
        replacements.append(replacement)
        return replacement

    try:
        with ExitStack() as stack:
            sink: RowSink
            if hf_dataset is not None:
                require_datasets()
                folder = replace(hf_dataset, "--hf-dataset", folder=True)
                hf = HfDatasetSink(folder.temp, fmt.schema)
                stack.callback(hf.cleanup)
                sink, where = hf, str(hf_dataset)
            elif parquet:
                assert out is not None
                path = replace(out, "--out").temp
                sink = ParquetSink(path, fmt.schema)
                where = str(out)
            elif out is not None:
                sink = JsonlSink(stack.enter_context(replace(out, "--out").open()))
                where = str(out)
            else:
                sink = JsonlSink(sys.stdout)
                where = None
            ties = None
            if ties_out is not None:
                ties = JsonlSink(stack.enter_context(replace(ties_out, "--ties-out").open()))
            yield sink, ties, where
    except BaseException:
        for replacement in replacements:
            replacement.discard()
        raise
    for replacement in replacements:  # every file is complete and closed: now swap them in
        replacement.commit()
