"""`quorum import`: read JSONL or CSV items, validate them all, store them all or none.

Two passes, in memory that does not grow with the file: `validate_file` reads the file
once, checks every record and stages the valid ones on disk (bot/intake/staging.py);
`import_records` writes the stage in batches inside the caller's one transaction, and
raises ImportRejected (for the caller to roll back) if the database refuses any of it.
`validate_items` is `validate_file` for records already parsed (the REST API's body),
with each problem placed by the record's index instead of its line.
Limits and messages: docs/import.md.
"""

from __future__ import annotations

import errno
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot.audit.chain import GENESIS_HASH, build_event_row, item_chain, record_event
from bot.config.project import ProjectConfig
from bot.content.media import media_of
from bot.intake.bounds import ItemLimits
from bot.intake.media import WINDOW, MediaIntake, MediaProblem
from bot.intake.reading import FileUnreadable, read_records, record_unit
from bot.intake.records import RecordError, validate_record
from bot.intake.staging import IdIndex, StagedItem, StagedItems, stage_item
from bot.runtime.settings import Settings, get_settings
from storage import bulk, queries
from storage.models import Item, ItemStatus, Project, utcnow

MAX_ERRORS_SHOWN = 20
LIST_SOURCE = "request"  # what a refusal of validate_items names instead of a file
_FIELD = re.compile(r"field `([^`]*)`: (.*)", re.DOTALL)


@dataclass(frozen=True)
class ItemProblem:
    """One problem of a refused import: where (a file's line, a list's index; None for the
    whole input), the field at fault when there is one, and what is wrong with it."""

    at: int | None
    field: str | None
    message: str

    @classmethod
    def of(cls, at: int | None, problem: str) -> ItemProblem:
        """Split a problem as the checks word it (`field `x.y`: ...`)."""
        named = _FIELD.fullmatch(problem)
        if named is None:
            return cls(at, None, problem)
        return cls(at, named[1], named[2])


class ImportRejected(ValueError):
    """The file had problems; nothing was stored. `problems` holds the first ones found
    (up to ItemLimits.max_problems), `total` counts them all; `details` are the same
    problems as ItemProblems."""

    def __init__(
        self,
        path: str,
        problems: list[str],
        total: int | None = None,
        *,
        details: list[ItemProblem] | None = None,
    ) -> None:
        self.problems = problems
        self.total = max(total or 0, len(problems))
        self.details = (
            details if details is not None else [ItemProblem(None, None, p) for p in problems]
        )
        shown = problems[:MAX_ERRORS_SHOWN]
        more = self.total - len(shown)
        lines = [f"{path}: {self.total} problem(s), nothing was imported:"]
        lines += [f"  {problem}" for problem in shown]
        if more:
            lines.append(f"  … and {more} more")
        super().__init__("\n".join(lines))


class ItemsConflict(ImportRejected):
    """Refused by what is stored already (an id imported before with other content), not
    by the records themselves: the same records are fine in another project."""


class _Problems:
    """Problems by line: the first `keep` are kept, every one is counted."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.kept: list[tuple[int, str]] = []
        self.total = 0

    def add(self, line: int, problem: str) -> None:
        self.total += 1
        if len(self.kept) < self.keep:
            self.kept.append((line, problem))

    def __bool__(self) -> bool:
        return self.total > 0

    def rejection(
        self, source: str, *, unit: str = "line", error: type[ImportRejected] = ImportRejected
    ) -> ImportRejected:
        ordered = sorted(self.kept, key=lambda kept: kept[0])
        return error(
            source,
            [f"{unit} {line}: {problem}" for line, problem in ordered],
            self.total,
            details=[ItemProblem.of(line, problem) for line, problem in ordered],
        )


@dataclass
class ImportReport:
    created: int = 0
    unchanged: int = 0
    updated: int = 0
    changed_ids: list[str] = field(default_factory=list)


class _Stager:
    """Stages valid items in order; items with media go through the media intake in
    windows (fetched in parallel), which stores their media once the whole input is
    valid (`finish`). Once a problem is found nothing more is fetched or staged: the
    input is read on only to find its other problems."""

    def __init__(
        self,
        staged: StagedItems,
        problems: _Problems,
        base_dir: Path | None,
        settings: Settings | None,
    ) -> None:
        self.staged = staged
        self.problems = problems
        self.base_dir = base_dir
        self.settings = settings
        self.intake: MediaIntake | None = None
        self.window: list[StagedItem] = []

    def add(self, item: StagedItem) -> None:
        if not self.problems:
            self.window.append(item)
            if len(self.window) >= WINDOW:
                self.flush()

    def flush(self) -> None:
        window, self.window = self.window, []
        if self.problems:
            return
        if not any(True for item in window for _ in media_of(item.content)):
            for item in window:
                self.staged.add(item)
            return
        if self.intake is None:
            problem = (self.settings or get_settings()).media_store_problem()
            if problem is not None:
                for item in window:
                    if any(True for _ in media_of(item.content)):
                        self.problems.add(item.line, problem)
                return
            self.intake = MediaIntake.for_import(self.base_dir, self.settings)
        for result in self.intake.resolve(window):
            if isinstance(result, MediaProblem):
                self.problems.add(result.line, result.problem)
            elif not self.problems:
                self.staged.add(result)

    def finish(self) -> None:
        """Hand the staged media to the staged items if the input was valid (stored by
        import_records), else drop them."""
        try:
            self.flush()
        finally:
            if self.intake is not None and self.problems:
                self.intake.close()
            elif self.intake is not None:
                self.staged.media = self.intake

    def discard(self) -> None:
        if self.intake is not None:
            self.intake.close()


def _ids_at(path: Path, lines: set[int], limits: ItemLimits) -> dict[int, str]:
    """The ids on the given lines: read again, only to name repeated ids."""
    found: dict[int, str] = {}
    for raw in read_records(path, limits):
        if raw.line in lines and isinstance(raw.data, dict):
            found[raw.line] = str(raw.data.get("id"))
    return found


def validate_file(
    path: Path,
    config: ProjectConfig,
    *,
    limits: ItemLimits | None = None,
    settings: Settings | None = None,
) -> StagedItems:
    """Every record of the file, validated and staged; raise ImportRejected naming each
    bad line (and field) when there is any. Reads the file as a stream: memory stays flat
    however long it is. The items' media are fetched, checked and staged too; they go to
    the media store of `settings` (the environment's otherwise) when import_records has
    taken every item."""
    limits = limits or ItemLimits.from_settings()
    problems = _Problems(limits.max_problems)
    unit = record_unit(path)
    staged = StagedItems(unit=unit)
    folder = path.resolve() if path.is_dir() else path.resolve().parent
    stager = _Stager(staged, problems, folder, settings)
    ids = IdIndex()
    try:
        for raw in read_records(path, limits):
            if isinstance(raw.data, RecordError):
                problems.add(raw.line, str(raw.data))
                continue
            try:
                record = validate_record(raw.data, config, limits=limits, size=raw.size)
            except RecordError as exc:
                problems.add(raw.line, str(exc))
                continue
            ids.add(record.id, raw.line)
            stager.add(stage_item(raw.line, record))
        stager.flush()
        repeats = ids.repeats()
        wanted = {line for line, _ in repeats[: limits.max_problems]}
        named = _ids_at(path, wanted, limits) if wanted else {}
    except FileUnreadable as exc:
        problems.add(exc.line, str(exc))
        repeats, named = [], {}
    except OSError as exc:
        staged.close()
        stager.discard()
        if exc.errno == errno.ENOSPC:  # staging the items (or the file itself is on it)
            problem = (
                f"no space left on the disk of {tempfile.gettempdir()} (TMPDIR) to stage the items"
            )
        else:
            problem = f"cannot read the file: {exc.strerror or exc}"
        raise ImportRejected(str(path), [problem]) from None
    for line, first in repeats:
        problems.add(line, f"id {named.get(line, '?')!r} repeats {unit} {first}")
    stager.finish()
    if problems:
        staged.close()
        raise problems.rejection(str(path), unit=unit)
    if not staged:
        staged.close()
        raise ImportRejected(str(path), ["the file holds no items"])
    return staged


def validate_items(
    items: Sequence[object],
    config: ProjectConfig,
    *,
    limits: ItemLimits | None = None,
    settings: Settings | None = None,
) -> StagedItems:
    """`validate_file` for records already parsed (JSON values, as the lines of a JSONL
    file would give them): every record validated and staged, or ImportRejected naming
    each bad record by its index (from 0) and field."""
    limits = limits or ItemLimits.from_settings()
    problems = _Problems(limits.max_problems)
    staged = StagedItems(unit="item")
    stager = _Stager(staged, problems, None, settings)
    first: dict[str, int] = {}
    for index, data in enumerate(items):
        try:
            record = validate_record(data, config, limits=limits)
        except RecordError as exc:
            for problem in exc.problems:
                problems.add(index, problem)
            continue
        if record.id in first:
            problems.add(index, f"field `id`: {record.id!r} repeats item {first[record.id]}")
            continue
        first[record.id] = index
        stager.add(stage_item(index, record))
    stager.finish()
    if problems:
        staged.close()
        raise problems.rejection(LIST_SOURCE, unit="item")
    if not staged:
        staged.close()
        raise ImportRejected(LIST_SOURCE, ["the request holds no items"])
    return staged


def _update_items(
    session: Session,
    changed: list[tuple[StagedItem, int]],
    problems: _Problems,
    *,
    source: str,
    actor: str,
    now: datetime,
) -> list[str]:
    """Replace the content of items nobody has seen yet; refuse the rest (their answers
    were given to the old content). Each replacement is an `item_updated` event; the
    ids replaced."""
    updated = []
    for staged, item_id in changed:
        item = queries.lock_item(session, item_id)
        assert item is not None  # found by items_by_external_id in this transaction
        if item.status != ItemStatus.QUEUED or item.route_reason is not None:
            problems.add(
                staged.line,
                f"id {staged.external_id!r} changed but is already "
                f"{item.status.replace('_', ' ')}; its answers belong to the old content "
                "(give the new version a new id)",
            )
            continue
        if problems:
            continue  # the import is refused: look for more refusals, change nothing
        old_hash = item.content_hash
        item.content = staged.content
        item.content_hash = staged.content_hash
        item.meta = staged.meta
        item.gold = staged.gold
        item.media = staged.media
        item.requires = staged.requires
        item.confidence = staged.confidence
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
        session.expunge(item)  # written: the session need not hold a batch's objects
        updated.append(staged.external_id)
    return updated


def _insert_new(
    session: Session,
    project_id: int,
    new: list[StagedItem],
    *,
    source: str,
    actor: str,
    now: datetime,
) -> None:
    """New items and their `item_created` events, with Core bulk inserts."""
    rows: list[dict[str, Any]] = [
        {
            "project_id": project_id,
            "external_id": staged.external_id,
            "content": staged.content,
            "content_hash": staged.content_hash,
            "meta": staged.meta,
            "gold": staged.gold,
            "media": staged.media,
            "requires": staged.requires,
            "status": ItemStatus.QUEUED,
            "confidence": staged.confidence,
            "created_at": now,
            "updated_at": now,
        }
        for staged in new
    ]
    bulk.insert_items(session, rows)
    new_ids = queries.items_by_external_id(session, project_id, (s.external_id for s in new))
    name = Path(source).name
    events = [
        build_event_row(
            chain=item_chain(new_ids[staged.external_id][0]),
            seq=0,
            prev_hash=GENESIS_HASH,
            kind="item_created",
            actor=actor,
            data={
                "external_id": staged.external_id,
                "content_hash": staged.content_hash,
                "source": name,
                **({"requires": staged.requires} if staged.requires else {}),
            },
            project_id=project_id,
            item_id=new_ids[staged.external_id][0],
            at=now,
        )
        for staged in new
    ]
    bulk.insert_events(session, events)


def import_records(
    session: Session,
    project: Project,
    records: StagedItems,
    *,
    source: str,
    actor: str = "cli",
    now: datetime | None = None,
    update_changed: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store new items; known ids with the same content are skipped. Known ids with
    different content reject the whole import (never a silent overwrite), unless
    `update_changed`, which replaces items still waiting in the queue.

    Writes batch by batch in the caller's transaction; on ImportRejected (found in any
    batch) the caller rolls back, and nothing of the file is stored."""
    assert project.id is not None  # a project read from the table has its key
    report = ImportReport()
    now = now or utcnow()
    problems = _Problems(ItemLimits().max_problems)
    # Only a file's importer has --update-changed to offer.
    instead = (
        ""
        if records.unit == "item"
        else ", or pass --update-changed to replace items nobody has reviewed yet"
    )
    for batch in records.batches():
        existing = queries.items_by_external_id(
            session, project.id, (staged.external_id for staged in batch)
        )
        changed = [
            (staged, existing[staged.external_id][0])
            for staged in batch
            if staged.external_id in existing
            and existing[staged.external_id][1] != staged.content_hash
        ]
        if changed and not update_changed:
            for staged, _ in changed:
                problems.add(
                    staged.line,
                    f"id {staged.external_id!r} was imported before with different content; "
                    f"it was not overwritten (give the new version a new id{instead})",
                )
        elif changed:
            updated = _update_items(session, changed, problems, source=source, actor=actor, now=now)
            report.updated += len(updated)
            report.changed_ids += updated
        new = [staged for staged in batch if staged.external_id not in existing]
        if not problems:
            _insert_new(session, project.id, new, source=source, actor=actor, now=now)
        report.created += len(new)
        report.unchanged += len(existing) - len(changed)
        if progress:
            progress(len(batch))
    if problems:
        raise problems.rejection(source, unit=records.unit, error=ItemsConflict)
    records.store_media()  # every item was taken: now their media may be stored
    return report


__all__ = [
    "ImportRejected",
    "ImportReport",
    "ItemProblem",
    "ItemsConflict",
    "Item",
    "StagedItems",
    "import_records",
    "validate_file",
    "validate_items",
]
