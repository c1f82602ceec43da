"""What an export format is: a row builder per signed-off label and the Parquet schema of
its rows. Kinds declare the formats they export (bot.exports streams them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SET_ASIDE = "set_aside"  # a row kept out of the main file (ties, both-bad pairs)

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)


@dataclass
class Labelled:
    """One signed-off label as the builders see it."""

    id: str
    project: str
    kind: str
    value: Any
    status: str
    method: str
    agreement: float | None
    confidence: float | None
    config_version: int
    signed_off_at: str | None
    signed_off_by: str | None
    metadata: Any
    content_hash: str
    provenance: dict
    content: dict | None = None
    criteria: list[str] = field(default_factory=list)
    media: list[dict] | None = None  # the stored media of the item (bot/content/media.py)


Row = dict[str, Any]
# (label, people) -> (destination, row); `people` pseudonymises reviewer ids.
Builder = Callable[[Labelled, Any], Iterator[tuple[str, Row]]]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    needs_content: bool
    build: Builder
    schema: pa.Schema
    json_columns: tuple[str, ...] = ()  # heterogeneous values, stored as JSON text in Parquet
