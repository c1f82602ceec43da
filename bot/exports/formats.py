"""The export formats: `labels` (every kind: value and provenance) and the training-data
formats each task kind declares (bot/kinds/: ratings, dpo, sft, …), each a row builder per
signed-off label and the Parquet schema of its rows."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from bot.exports.pseudonyms import People
from bot.kinds.exporting import SET_ASIDE, ExportFormat, Labelled, Row
from bot.kinds.registry import KINDS

__all__ = ["FORMATS", "LABELS", "SET_ASIDE", "ExportFormat", "Labelled", "kinds_reading"]


# --- labels ---------------------------------------------------------------------------


def label_rows(label: Labelled, people: People) -> Iterator[tuple[str, Row]]:
    yield (
        "row",
        {
            "id": label.id,
            "project": label.project,
            "kind": label.kind,
            "value": label.value,
            "status": label.status,
            "method": label.method,
            "agreement": label.agreement,
            "confidence": label.confidence,
            "config_version": label.config_version,
            "signed_off_at": label.signed_off_at,
            "signed_off_by": label.signed_off_by,
            "metadata": label.metadata,
            "content_hash": label.content_hash,
            "provenance": label.provenance,
        },
    )


LABELS = ExportFormat(
    name="labels",
    needs_content=False,
    build=label_rows,
    schema=pa.schema(
        [
            ("id", pa.string()),
            ("project", pa.string()),
            ("kind", pa.string()),
            ("value", pa.string()),
            ("status", pa.string()),
            ("method", pa.string()),
            ("agreement", pa.float64()),
            ("confidence", pa.float64()),
            ("config_version", pa.int64()),
            ("signed_off_at", pa.string()),
            ("signed_off_by", pa.string()),
            ("metadata", pa.string()),
            ("content_hash", pa.string()),
            ("provenance", pa.string()),
        ]
    ),
    json_columns=("value", "metadata", "provenance"),
)


FORMATS: dict[str, ExportFormat] = {LABELS.name: LABELS}
for _kind in KINDS.values():
    for _fmt in _kind.export_formats:
        FORMATS.setdefault(_fmt.name, _fmt)


def kinds_reading(fmt: ExportFormat) -> tuple[str, ...]:
    """The project kinds that export `fmt`; empty for formats every kind has (labels)."""
    if fmt is LABELS:
        return ()
    return tuple(k.name for k in KINDS.values() if fmt in k.export_formats)
