"""`quorum import`: read JSONL or CSV items, validate them all, store them all or none."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot.audit.chain import GENESIS_HASH, build_event_row, content_hash, item_chain, record_event
from bot.config.project import ProjectConfig
from bot.intake.records import ItemRecord, RecordError, item_content, validate_record
from storage import bulk, queries
from storage.models import Item, ItemStatus, Project, utcnow

MAX_ERRORS_SHOWN = 20
CSV_JSON_COLUMNS = ("conversation", "prediction", "prompt", "responses", "metadata", "gold")


class ImportRejected(ValueError):
    """The file had problems; nothing was stored. `problems` holds every one found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_ERRORS_SHOWN]
        more = len(problems) - len(shown)
        lines = [f"{path}: {len(problems)} problem(s), nothing was imported:"]
        lines += [f"  {problem}" for problem in shown]
        if more:
            lines.append(f"  … and {more} more")
        super().__init__("\n".join(lines))


@dataclass
class ImportReport:
    created: int = 0
    unchanged: int = 0
    updated: int = 0
    changed_ids: list[str] = field(default_factory=list)


def _read_jsonl(path: Path) -> Iterator[tuple[int, object | RecordError]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, RecordError(f"not valid JSON ({exc.msg} at column {exc.colno})")


def _read_csv(path: Path) -> Iterator[tuple[int, object | RecordError]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            number = reader.line_num
            record: dict[str, object] = {}
            try:
                for column, cell in row.items():
                    if column is None or cell in (None, ""):
                        continue
                    record[column] = json.loads(cell) if column in CSV_JSON_COLUMNS else cell
            except json.JSONDecodeError as exc:
                yield number, RecordError(f"column `{column}` is not valid JSON ({exc.msg})")
                continue
            yield number, record


def read_records(path: Path) -> Iterator[tuple[int, object | RecordError]]:
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    return _read_jsonl(path)


def validate_file(path: Path, config: ProjectConfig) -> list[tuple[int, ItemRecord]]:
    """Every record of the file, validated; raise ImportRejected naming each bad line."""
    problems: list[str] = []
    records: list[tuple[int, ItemRecord]] = []
    seen: dict[str, int] = {}
    for number, data in read_records(path):
        if isinstance(data, RecordError):
            problems.append(f"line {number}: {data}")
            continue
        try:
            record = validate_record(data, config)
        except RecordError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if record.id in seen:
            problems.append(f"line {number}: id {record.id!r} repeats line {seen[record.id]}")
            continue
        seen[record.id] = number
        records.append((number, record))
    if problems:
        raise ImportRejected(str(path), problems)
    if not records:
        raise ImportRejected(str(path), ["the file holds no items"])
    return records


def _fingerprint(record: ItemRecord) -> str:
    return content_hash(record.model_dump(mode="json", exclude_none=True))


def _changed_records(
    records: list[tuple[int, ItemRecord]],
    fingerprints: dict[str, str],
    existing: dict[str, tuple[int, str]],
) -> list[tuple[int, ItemRecord]]:
    return [
        (number, record)
        for number, record in records
        if record.id in existing and existing[record.id][1] != fingerprints[record.id]
    ]


def _update_items(
    session: Session,
    changed: list[tuple[int, ItemRecord]],
    fingerprints: dict[str, str],
    existing: dict[str, tuple[int, str]],
    *,
    source: str,
    actor: str,
    now: datetime,
) -> None:
    """Replace the content of items nobody has seen yet; refuse the rest (their answers
    were given to the old content). Each replacement is an `item_updated` event."""
    refused = []
    items = []
    for number, record in changed:
        item = queries.lock_item(session, existing[record.id][0])
        assert item is not None  # found by items_by_external_id in this transaction
        if item.status != ItemStatus.QUEUED or item.route_reason is not None:
            refused.append(
                f"line {number}: id {record.id!r} changed but is already {item.status.replace('_', ' ')}; "
                "its answers belong to the old content (give the new version a new id)"
            )
        items.append((item, record))
    if refused:
        raise ImportRejected(source, refused)
    for item, record in items:
        old_hash = item.content_hash
        prediction = getattr(record, "prediction", None)
        item.content = item_content(record)
        item.content_hash = fingerprints[record.id]
        item.meta = record.metadata
        item.gold = record.gold
        item.confidence = prediction.confidence if prediction else None
        item.updated_at = now
        session.add(item)
        record_event(
            session,
            "item_updated",
            actor=actor,
            project_id=item.project_id,
            item_id=item.id,
            at=now,
            data={
                "old_content_hash": old_hash,
                "content_hash": item.content_hash,
                "source": Path(source).name,
            },
        )


def import_records(
    session: Session,
    project: Project,
    records: list[tuple[int, ItemRecord]],
    *,
    source: str,
    actor: str = "cli",
    now: datetime | None = None,
    update_changed: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store new items; known ids with the same content are skipped. Known ids with
    different content reject the whole import (never a silent overwrite), unless
    `update_changed`, which replaces items still waiting in the queue."""
    assert project.id is not None  # a project read from the table has its key
    report = ImportReport()
    now = now or utcnow()
    fingerprints = {record.id: _fingerprint(record) for _, record in records}
    existing = queries.items_by_external_id(session, project.id, fingerprints)
    changed = _changed_records(records, fingerprints, existing)
    if changed and not update_changed:
        raise ImportRejected(
            source,
            [
                f"line {number}: id {record.id!r} was imported before with different content; "
                "it was not overwritten (give the new version a new id, or pass --update-changed "
                "to replace items nobody has reviewed yet)"
                for number, record in changed
            ],
        )
    if changed:
        _update_items(session, changed, fingerprints, existing, source=source, actor=actor, now=now)
        report.updated = len(changed)
        report.changed_ids = [record.id for _, record in changed]
    changed_ids = set(report.changed_ids)
    rows: list[dict[str, Any]] = []
    for _, record in records:
        if record.id in existing:
            report.unchanged += record.id not in changed_ids
            if progress:
                progress(1)
            continue
        prediction = getattr(record, "prediction", None)
        rows.append(
            {
                "project_id": project.id,
                "external_id": record.id,
                "content": item_content(record),
                "content_hash": fingerprints[record.id],
                "meta": record.metadata,
                "gold": record.gold,
                "status": ItemStatus.QUEUED,
                "confidence": prediction.confidence if prediction else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    bulk.insert_items(session, rows, progress=lambda n: progress(n // 2) if progress else None)
    new_ids = queries.items_by_external_id(
        session, project.id, (row["external_id"] for row in rows)
    )
    events = [
        build_event_row(
            chain=item_chain(new_ids[row["external_id"]][0]),
            seq=0,
            prev_hash=GENESIS_HASH,
            kind="item_created",
            actor=actor,
            data={
                "external_id": row["external_id"],
                "content_hash": row["content_hash"],
                "source": Path(source).name,
            },
            project_id=project.id,
            item_id=new_ids[row["external_id"]][0],
            at=now,
        )
        for row in rows
    ]
    bulk.insert_events(
        session, events, progress=lambda n: progress(n - n // 2) if progress else None
    )
    report.created = len(rows)
    return report


__all__ = ["ImportRejected", "ImportReport", "Item", "import_records", "validate_file"]
