"""`quorum import`: read JSONL or CSV items, validate them all, store them all or none."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from bot.audit import GENESIS_HASH, build_event_row, content_hash, item_chain
from bot.intake.records import ItemRecord, RecordError, item_content, validate_record
from bot.projects import ProjectConfig
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


def import_records(
    session: Session,
    project: Project,
    records: list[tuple[int, ItemRecord]],
    *,
    source: str,
    actor: str = "cli",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store new items; known ids with the same content are skipped, and known ids with
    different content reject the whole import (never a silent overwrite)."""
    report = ImportReport()
    fingerprints = {record.id: _fingerprint(record) for _, record in records}
    existing = queries.items_by_external_id(session, project.id, fingerprints)
    changed = [
        f"line {number}: id {record.id!r} was imported before with different content; "
        "it was not overwritten (give the new version a new id)"
        for number, record in records
        if record.id in existing and existing[record.id][1] != fingerprints[record.id]
    ]
    if changed:
        raise ImportRejected(source, changed)
    now = utcnow()
    rows = []
    for _, record in records:
        if record.id in existing:
            report.unchanged += 1
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
