"""Validated items waiting to be written, kept on disk so that memory does not grow
with the file, and the ids seen so far, kept as digests for the same reason.

Validation reads a file once and stages each item as the row it will become (content,
content hash, metadata, gold, confidence); the import then reads the stage back in
batches inside one transaction. The rows are pickled: the stage is a private temporary
file of this process, written and read by it alone, and pickle keeps every JSON value
as it was (integers of any size included).
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, Protocol

import numpy as np

from bot.audit.chain import content_hash
from bot.content.base import NOT_CONTENT, ItemRecord

BATCH = 1000  # items per staged batch, and per round of database writes


class MediaStaging(Protocol):
    def store_staged(self) -> None: ...

    def close(self) -> None: ...


class StagedItem(NamedTuple):
    line: int
    external_id: str
    content: dict
    content_hash: str
    meta: dict | None
    gold: Any
    confidence: float | None
    media: list | None = None  # references to the stored media (bot/intake/media.py)
    requires: dict | None = None  # languages and skills its reviewers must have


def stage_item(line: int, record: ItemRecord) -> StagedItem:
    dump = record.model_dump(mode="json", exclude_none=True)
    prediction = getattr(record, "prediction", None)
    return StagedItem(
        line=line,
        external_id=record.id,
        content={k: v for k, v in dump.items() if k not in NOT_CONTENT},  # what reviewers see
        content_hash=content_hash(dump),
        meta=record.metadata,
        gold=record.gold,
        confidence=prediction.confidence if prediction else None,
        requires=dump["requires"] if record.requires and not record.requires.empty else None,
    )


class StagedItems:
    """Items in file order, on disk; `len()` is their number. Read them back with
    `batches()` (or iterate them one by one); each read starts from the first item.
    `unit` says what a StagedItem's `line` counts: a file's lines, or a list's items."""

    def __init__(self, *, unit: str = "line") -> None:
        self.unit = unit
        # Held open for the stage's life, closed by close() or when it is collected.
        self._file = tempfile.TemporaryFile(prefix="quorum-import-")  # noqa: SIM115
        # The items' media, staged too (bot/intake/media.py): stored by import_records
        # once the database took every item.
        self.media: MediaStaging | None = None
        self._pending: list[StagedItem] = []
        self._count = 0

    def add(self, item: StagedItem) -> None:
        self._pending.append(item)
        self._count += 1
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            pickle.dump(self._pending, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._pending = []

    def __len__(self) -> int:
        return self._count

    def batches(self) -> Iterator[list[StagedItem]]:
        self._flush()
        self._file.seek(0)
        while True:
            try:
                batch: list[StagedItem] = pickle.load(self._file)
            except EOFError:
                return
            yield batch

    def __iter__(self) -> Iterator[StagedItem]:
        for batch in self.batches():
            yield from batch

    def store_media(self) -> None:
        if self.media is not None:
            self.media.store_staged()

    def close(self) -> None:
        self._file.close()
        if self.media is not None:
            self.media.close()


def stage_records(records: Iterable[tuple[int, ItemRecord]]) -> StagedItems:
    """Records validated one by one (validate_record), as an import takes them."""
    staged = StagedItems()
    for line, record in records:
        staged.add(stage_item(line, record))
    return staged


class IdIndex:
    """Every id of a file as a 128-bit digest and its line: 20 bytes an id (a million ids
    in a set of str would take about 100 MB), enough to find each repeat at the end."""

    def __init__(self) -> None:
        self._high = array("Q")
        self._low = array("Q")
        self._lines = array("Q")

    def add(self, external_id: str, line: int) -> None:
        digest = hashlib.blake2b(external_id.encode(), digest_size=16).digest()
        self._high.append(int.from_bytes(digest[:8], "little"))
        self._low.append(int.from_bytes(digest[8:], "little"))
        self._lines.append(line)

    def repeats(self) -> list[tuple[int, int]]:
        """(line, first line with that id) for every line repeating an earlier id."""
        if len(self._lines) < 2:
            return []
        high = np.frombuffer(self._high, dtype=np.uint64)
        low = np.frombuffer(self._low, dtype=np.uint64)
        lines = np.frombuffer(self._lines, dtype=np.uint64)
        order = np.lexsort((lines, low, high))  # by id, then by line
        high, low, lines = high[order], low[order], lines[order]
        same = (high[1:] == high[:-1]) & (low[1:] == low[:-1])
        if not same.any():
            return []
        starts = np.flatnonzero(np.concatenate(([True], ~same)))
        group = np.cumsum(np.concatenate(([True], ~same))) - 1
        first = lines[starts][group]
        found = [(int(lines[i]), int(first[i])) for i in np.flatnonzero(same) + 1]
        return sorted(found)
