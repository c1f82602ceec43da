"""Signed-off labels as the `labels` export's records, for readers other than a file:
the REST API's labels feed and item status, and the `label.signed_off` webhook.

`label_records` gives, for any labels, the objects `quorum export --format labels`
writes as JSON lines (same keys, same values, times as the same ISO-8601 UTC strings),
built by the same pieces: the label rows of storage/label_queries.py, the provenance
block, `formats.label_rows` and the writers' JSON encoding. A file keeps one column type
per field, so values that differ in shape are JSON text there; a JSON reader of the API
gets them as JSON (`decoded`), and no `content` (its pipeline sent it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlmodel import Session

from bot.audit.provenance import (
    PageSources,
    answer_entries,
    iso,
    provenance_block,
    skip_entries,
)
from bot.exports.formats import JSON_TEXT, Labelled, label_rows
from bot.exports.pseudonyms import People
from bot.exports.writers import encode
from storage import api_queries, label_queries
from storage.models import Project


def labelled(
    row: Any,
    project: tuple[str, str],
    sources: PageSources,
    hashes: dict[int, str],
    people: People,
    criteria: list,
    *,
    content: bool,
    with_content: bool = True,
    scale: tuple[float, float] | None = None,
) -> Labelled:
    """One label row (label columns + the item's) as the format builders take it, with
    its provenance from the page's `sources`; `project` is (name, kind)."""
    history = sources.history.get(row.item_id, {})
    return Labelled(
        id=row.external_id,
        project=project[0],
        kind=project[1],
        value=row.value,
        status=row.status,
        method=row.method,
        agreement=row.agreement,
        confidence=row.confidence,
        config_version=row.config_version,
        signed_off_at=iso(row.signed_off_at),
        signed_off_by=people.person(row.signed_off_by),
        metadata=row.meta,
        content_hash=row.content_hash,
        provenance=provenance_block(row, sources, hashes, people),
        content=row.content if content else None,
        with_content=with_content,
        criteria=criteria,
        scale=scale,
        media=row.media,
        imported_at=row.imported_at,
        answers=answer_entries(sources.responses.get(row.item_id, []), history, people),
        skips=skip_entries(history, people),
    )


def decoded(record: dict) -> dict:
    """A labels-export row as the API and webhooks give it: its JSON text as JSON (the
    value, metadata, provenance …, and every answer's values)."""
    out = {k: orjson.loads(v) if k in JSON_TEXT and v is not None else v for k, v in record.items()}
    for key in ("prediction", "prelabel"):
        if out.get(key) and out[key].get("value") is not None:
            out[key] = {**out[key], "value": orjson.loads(out[key]["value"])}
    out["answers"] = [
        {
            **a,
            "value": orjson.loads(a["value"]),
            "history": [{**h, "value": orjson.loads(h["value"])} for h in a["history"]],
        }
        for a in out.get("answers") or []
    ]
    return out


def label_records(
    session: Session, project_id: int, label_ids: Sequence[int], *, people: People | None = None
) -> list[dict]:
    """The `labels` export's record of each of these labels of the project, in the order
    of `label_ids` (ids of other projects, or unknown, are left out). Real reviewer ids
    unless `people` pseudonymises them."""
    people = people or People()
    rows = api_queries.label_rows(session, project_id, label_ids)
    if not rows:
        return []
    project = session.get(Project, project_id)
    assert project is not None  # the labels above belong to it
    sources = PageSources.load(session, [row.item_id for row in rows])
    hashes = label_queries.config_hashes(session, project_id)
    records = []
    for row in rows:
        # The labels format reads no criteria (the training formats do); the API leaves
        # the content out (the caller sent it).
        label = labelled(
            row,
            (project.name, project.kind),
            sources,
            hashes,
            people,
            [],
            content=True,
            with_content=False,
        )
        for _, record in label_rows(label, people):
            # Through the export's own encoding, so every value is what a JSONL line holds.
            records.append(decoded(orjson.loads(encode(record))))
    return records
