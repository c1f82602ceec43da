"""The export formats: `labels` (every kind: value and provenance) and the training-data
formats each task kind declares (bot/kinds/: ratings, dpo, sft, …), each a row builder per
signed-off label and the Parquet schema of its rows."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from bot.exports.pseudonyms import People
from bot.exports.writers import ExportError
from bot.kinds.base import TaskKind
from bot.kinds.exporting import SET_ASIDE, ExportFormat, Labelled, Row
from bot.kinds.registry import KINDS

__all__ = ["FORMATS", "LABELS", "SET_ASIDE", "ExportFormat", "Labelled", "format_for"]


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
            "media": label.media,
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
            ("media", pa.string()),
            ("provenance", pa.string()),
        ]
    ),
    json_columns=("value", "metadata", "media", "provenance"),
)


FORMATS: dict[str, ExportFormat] = {LABELS.name: LABELS}
for _kind in KINDS.values():
    for _fmt in _kind.export_formats:
        FORMATS.setdefault(_fmt.name, _fmt)


def format_for(kind: TaskKind, name: str, *, project: str) -> ExportFormat:
    """The kind's own builder of format `name` (a ranking's dpo rows are its pairs, a
    preference's its one pair); ExportError names the kinds that have it."""
    if name == LABELS.name:
        return LABELS
    found = next((f for f in kind.export_formats if f.name == name), None)
    if found is None:
        kinds = [k.name for k in KINDS.values() if any(f.name == name for f in k.export_formats)]
        raise ExportError(
            f"--format {name} reads {' or '.join(kinds)} projects; {project} is a "
            f"{kind.name} project (try --format labels)"
        )
    return found
