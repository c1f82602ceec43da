"""Running one export: pick the labels, stream them through a format into a sink, and
record the run (an ExportRun row and one `exported` event on the project's chain).

Memory stays flat: labels are read a page at a time (keyset pagination), each page's
provenance comes from a handful of queries, and rows are written as they are built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from bot.audit.chain import record_event
from bot.audit.provenance import PageSources, iso
from bot.exports.formats import FORMATS, LEFT_OUT, SET_ASIDE, ExportFormat, format_for, in_form
from bot.exports.pseudonyms import People, Pseudonyms
from bot.exports.read_ahead import read_ahead
from bot.exports.records import labelled
from bot.exports.writers import DiscardSink, ExportError, RowSink
from bot.kinds.registry import kind_named
from bot.workflow.project_versions import project_config, require_project
from storage import label_queries
from storage.db import session_scope
from storage.label_queries import LabelFilter
from storage.models import ExportRun, ItemStatus, LabelMethod, Project

STATUSES = (ItemStatus.SIGNED_OFF, ItemStatus.AUTO_ACCEPTED)
METHODS = LabelMethod.ALL
PAGE = 1000


@dataclass(frozen=True)
class ExportRequest:
    """What to export; every filter is optional."""

    project: str
    format: str = "labels"
    statuses: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    signed_from: datetime | None = None
    signed_before: datetime | None = None
    min_agreement: float | None = None
    since_last_run: bool = False
    pseudonymise: bool = False
    form: str | None = None  # another layout of the format's rows (ExportFormat.forms)
    content: bool = True  # the labels format's `content` column (--no-content leaves it null)

    def check(self) -> ExportFormat:
        if self.format not in FORMATS:
            raise ExportError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")
        for status in self.statuses:
            if status not in STATUSES:
                raise ExportError(
                    f"--status {status!r}: choose {' or '.join(STATUSES)} (only decided items "
                    "have labels)"
                )
        for method in self.methods:
            if method not in METHODS:
                raise ExportError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
        if self.min_agreement is not None and not 0 <= self.min_agreement <= 1:
            raise ExportError("--min-agreement is a share between 0 and 1, e.g. 0.67")
        return in_form(FORMATS[self.format], self.form)

    def described(self) -> dict:
        """The filters as plain JSON, for the ExportRun row and the `exported` event."""
        values = asdict(self)
        values.pop("project")
        values.pop("format")
        values["signed_from"] = iso(self.signed_from)
        values["signed_before"] = iso(self.signed_before)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


@dataclass
class ExportResult:
    labels: int = 0  # signed-off labels read
    rows: int = 0  # rows written to the main output
    set_aside: int = 0  # ties and both-bad pairs (to --ties-out, or left out)
    skipped: int = 0  # labels whose value does not fit the format
    left_out: dict[str, int] = field(default_factory=dict)  # rows not written, by reason
    since: str | None = None  # the previous run's watermark, for --since
    until: str | None = None
    run_id: int | None = None
    notes: list[str] = field(default_factory=list)


def _two_decimals(threshold: float | None) -> float | None:
    """Agreement is compared as shown, to two decimals, like the sign-off rule: 2 of 3
    (0.6667) passes --min-agreement 0.67."""
    return None if threshold is None else threshold - 0.005 - 1e-9


def _watermark(session: Session, project: Project, request: ExportRequest) -> datetime | None:
    if not request.since_last_run:
        return None
    assert project.id is not None  # loaded from the database, so it has its key
    previous = label_queries.last_export_run(session, project.id, request.format)
    if previous is None:
        return None
    until = (previous.filters or {}).get("until")
    return datetime.fromisoformat(until) if until else previous.created_at


def check_export(engine: Engine, request: ExportRequest) -> ExportFormat:
    """The format to write, once the request's options, its project and the format's fit
    with the project's kind are checked: everything that can be refused before a file is
    opened or a progress bar shown."""
    fmt = request.check()
    with Session(engine) as session:
        project = require_project(session, request.project)
        found = format_for(kind_named(project.kind), fmt.name, project=project.name)
        return in_form(found, request.form)


def run_export(
    engine: Engine,
    request: ExportRequest,
    *,
    sink: RowSink,
    now: datetime,
    salt: SecretStr | str,
    ties: RowSink | None = None,
    output: str | None = None,
    actor: str = "cli",
    on_total: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Stream the project's signed-off labels matching `request` into `sink`.

    Labels signed off up to `now` are read, so an incremental (`since_last_run`) export
    next time starts exactly where this one ended. The sinks are closed here, before the
    run is recorded: a failed write never moves the watermark.
    """
    fmt = request.check()
    ties = ties or DiscardSink()
    result = ExportResult(until=iso(now))
    with Session(engine) as session:
        project = require_project(session, request.project)
        assert project.id is not None  # loaded from the database, so it has its key
        fmt = format_for(kind_named(project.kind), fmt.name, project=project.name)
        fmt = in_form(fmt, request.form)
        config = project_config(session, project)
        since = _watermark(session, project, request)
        result.since = iso(since)
        where = LabelFilter(
            statuses=request.statuses,
            methods=request.methods,
            signed_after=since,
            signed_from=request.signed_from,
            signed_before=request.signed_before,
            signed_until=now,
            min_agreement=_two_decimals(request.min_agreement),
        )
        if on_total:
            on_total(label_queries.count_labels(session, project.id, where))
        hashes = label_queries.config_hashes(session, project.id)
        people: People = (
            Pseudonyms(salt, label_queries.project_people(session, project.id))
            if request.pseudonymise
            else People()
        )
        criteria = list(config.criteria)
        scale = (float(config.scale.min), float(config.scale.max))
        project_id, name_and_kind = project.id, (project.name, project.kind)

    def pages() -> Iterator[tuple[list, PageSources]]:
        # One session, so one read snapshot, for the whole stream.
        with Session(engine) as reader:
            for page in label_queries.iter_label_pages(
                reader, project_id, where, page=PAGE, with_content=fmt.needs_content
            ):
                yield page, PageSources.load(reader, [row.item_id for row in page])

    gathering = fmt.gather() if fmt.gather else None
    for page, sources in read_ahead(pages):
        for row in page:
            label = labelled(
                row,
                name_and_kind,
                sources,
                hashes,
                people,
                criteria,
                content=fmt.needs_content,
                with_content=request.content,
                scale=scale,
            )
            wrote = False
            for destination, out in fmt.build(label, people):
                wrote = True
                if destination == SET_ASIDE:
                    ties.write(out)
                    result.set_aside += 1
                elif destination == LEFT_OUT:
                    result.left_out[out["reason"]] = result.left_out.get(out["reason"], 0) + 1
                elif gathering is not None:
                    gathering.add(out)
                else:
                    sink.write(out)
                    result.rows += 1
            result.skipped += 0 if wrote else 1
        result.labels += len(page)
        if on_progress:
            on_progress(len(page))
    for out in gathering.rows() if gathering is not None else ():
        sink.write(out)
        result.rows += 1
    sink.close()
    ties.close()
    result.run_id = _record_run(engine, project_id, request, result, now, output, actor)
    return result


def _record_run(
    engine: Engine,
    project_id: int,
    request: ExportRequest,
    result: ExportResult,
    now: datetime,
    output: str | None,
    actor: str,
) -> int:
    """One ExportRun and one `exported` event per run (never one per label)."""
    filters = request.described() | {"since": result.since, "until": result.until}
    with session_scope(engine) as session:
        run = ExportRun(
            project_id=project_id,
            format=request.format,
            filters=filters,
            rows=result.rows,
            path=output,
            created_at=now.astimezone(UTC),
        )
        session.add(run)
        session.flush()
        record_event(
            session,
            "exported",
            actor=actor,
            project_id=project_id,
            at=now,
            data={
                "run_id": run.id,
                "format": request.format,
                "labels": result.labels,
                "rows": result.rows,
                "set_aside": result.set_aside,
                "skipped": result.skipped,
                "left_out": result.left_out,
                "filters": filters,
                "output": Path(output).name if output else "stdout",
            },
        )
        assert run.id is not None  # flush() gave the new row its key
        return run.id
