"""The export formats: `labels` (every kind: value and provenance) and the training-data
formats each task kind declares (bot/kinds/: ratings, dpo, sft, …), each a row builder per
signed-off label and the Parquet schema of its rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from bot.exports.pseudonyms import People
from bot.exports.writers import ExportError, encode
from bot.kinds.base import TaskKind
from bot.kinds.exporting import LEFT_OUT, SET_ASIDE, VALUE_COLUMNS, ExportFormat, Labelled, Row
from bot.kinds.registry import KINDS, kind_named

__all__ = [
    "FORMATS",
    "LABELS",
    "LEFT_OUT",
    "SET_ASIDE",
    "ExportFormat",
    "Labelled",
    "format_for",
    "in_form",
]


# --- labels ---------------------------------------------------------------------------
# One schema for every project, identical in JSONL, Parquet and `datasets`: what differs
# in shape between kinds or items (the full value, metadata, content, provenance) is JSON
# text, and the value is also in typed columns (VALUE_COLUMNS) to filter on.

FLAG = pa.struct([("reason", pa.string()), ("note", pa.string()), ("at", pa.string())])
ANSWER = pa.struct(
    [
        ("response_id", pa.int64()),
        ("reviewer", pa.string()),
        ("value", pa.string()),
        ("rationale", pa.string()),
        ("flags", pa.list_(FLAG)),
        ("latency_ms", pa.int64()),
        ("revision", pa.int64()),
        ("answered_at", pa.string()),
        ("changed_at", pa.string()),
        ("shown_order", pa.list_(pa.string())),
        ("history", pa.list_(pa.struct([("value", pa.string()), ("replaced_at", pa.string())]))),
    ]
)
SKIP = pa.struct([("reviewer", pa.string()), ("at", pa.string())])
PREDICTION = pa.struct(
    [("value", pa.string()), ("confidence", pa.float64()), ("model", pa.string())]
)
PRELABEL = pa.struct(
    [
        ("model", pa.string()),
        ("value", pa.string()),
        ("confidence", pa.float64()),
        ("prompt", pa.string()),
        ("at", pa.string()),
    ]
)
LABELS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("project", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("method", pa.string()),
        ("value", pa.string()),
        *VALUE_COLUMNS,
        ("agreement", pa.float64()),
        ("confidence", pa.float64()),
        ("config_version", pa.int64()),
        ("signed_off_at", pa.string()),
        ("signed_off_by", pa.string()),
        ("imported_at", pa.string()),
        ("metadata", pa.string()),
        ("content", pa.string()),
        ("content_hash", pa.string()),
        ("media", pa.string()),
        ("prediction", PREDICTION),
        ("prelabel", PRELABEL),
        ("answers", pa.list_(ANSWER)),
        ("skips", pa.list_(SKIP)),
        ("provenance", pa.string()),
    ]
)
# The JSON text columns, which a reader of the API gets decoded (bot.exports.records).
JSON_TEXT = ("value", "metadata", "content", "media", "provenance")


def _json_text(value: Any) -> str | None:
    return None if value is None else encode(value)


def _prediction(content: dict | None) -> dict | None:
    predicted = (content or {}).get("prediction")
    if not isinstance(predicted, dict):
        return None
    return {
        "value": _json_text(predicted.get("label")),
        "confidence": predicted.get("confidence"),
        "model": predicted.get("model"),
    }


def _prelabel(provenance: dict) -> dict | None:
    """The last pre-label that gave a value (a failed call gives none)."""
    given = [p for p in provenance.get("prelabels") or [] if p.get("error") is None]
    if not given:
        return None
    last = given[-1]
    return {
        "model": last.get("model"),
        "value": _json_text(last.get("value")),
        "confidence": last.get("confidence"),
        "prompt": last.get("prompt"),
        "at": last.get("at"),
    }


def label_rows(label: Labelled, people: People) -> Iterator[tuple[str, Row]]:
    columns = dict.fromkeys(name for name, _ in VALUE_COLUMNS)
    columns.update(kind_named(label.kind).value_columns(label.value))
    yield (
        "row",
        {
            "id": label.id,
            "project": label.project,
            "kind": label.kind,
            "status": label.status,
            "method": label.method,
            "value": _json_text(label.value),
            **columns,
            "agreement": label.agreement,
            "confidence": label.confidence,
            "config_version": label.config_version,
            "signed_off_at": label.signed_off_at,
            "signed_off_by": label.signed_off_by,
            "imported_at": label.imported_at,
            "metadata": _json_text(label.metadata),
            "content": _json_text(label.content) if label.with_content else None,
            "content_hash": label.content_hash,
            "media": _json_text(label.media),
            "prediction": _prediction(label.content),
            "prelabel": _prelabel(label.provenance),
            "answers": label.answers,
            "skips": label.skips,
            "provenance": _json_text(label.provenance),
        },
    )


LABELS = ExportFormat(name="labels", needs_content=True, build=label_rows, schema=LABELS_SCHEMA)


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


def in_form(fmt: ExportFormat, form: str | None) -> ExportFormat:
    """`fmt` with its rows in `form`; ExportError names the forms it has."""
    try:
        return fmt.in_form(form)
    except KeyError:
        forms = [fmt.form or "default", *(f.name for f in fmt.forms)]
        raise ExportError(
            f"--form {form}: the {fmt.name} format comes as {' or '.join(forms)}"
        ) from None


def hf_features(name: str) -> Any:
    """Format `name`'s columns as `datasets.Features`. JSONL carries no types, so
    `datasets` takes a column that is null throughout its first file as null and then
    refuses the next file's values; given these, it loads several files as one:
    `load_dataset("json", data_files=[...], features=hf_features("labels"))`."""
    from bot.exports.writers import require_datasets

    return require_datasets().Features.from_arrow_schema(FORMATS[name].schema)
