"""Export filters (status, dates, agreement, method) and incremental `--since` exports,
each run recorded once: an ExportRun row and one `exported` event on the project chain."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.audit.chain import project_chain
from bot.exports.outputs import parse_when
from bot.exports.run import ExportRequest, run_export
from bot.exports.writers import JsonlSink
from storage.models import Event, ExportRun
from tests.exports.conftest import LABEL_SEEDS, SALT, Seed, chat, seed


def ids(exports, **filters) -> list[str]:
    out = io.StringIO()
    request = ExportRequest(project="support-intent", format="labels", **filters)
    run_export(exports.engine, request, sink=JsonlSink(out), now=exports.clock.now(), salt=SALT)
    return [json.loads(line)["id"] for line in out.getvalue().splitlines()]


def test_no_filter_exports_every_signed_off_label_in_sign_off_order(exports):
    assert ids(exports) == [s.external_id for s in LABEL_SEEDS]


def test_status_method_and_agreement_filters(exports):
    assert ids(exports, statuses=("auto_accepted",)) == ["t-3"]
    assert ids(exports, statuses=("signed_off",)) == ["t-1", "t-2", "t-4"]
    assert ids(exports, methods=("lead",)) == ["t-4"]
    assert ids(exports, methods=("consensus", "auto")) == ["t-1", "t-2", "t-3"]
    # 2 of 3 is shown and compared as 0.67; auto labels have no agreement and drop out.
    assert ids(exports, min_agreement=0.67) == ["t-1", "t-2"]
    assert ids(exports, min_agreement=1.0) == ["t-1"]


def test_date_range_takes_whole_days(exports):
    assert ids(exports, signed_from=parse_when("2026-01-02", "--from")) == ["t-2", "t-3", "t-4"]
    to = parse_when("2026-01-03", "--to", end_of_day=True)
    assert ids(exports, signed_before=to) == ["t-1", "t-2", "t-3"]
    from_, to = (
        parse_when("2026-01-02", "--from"),
        parse_when("2026-01-02", "--to", end_of_day=True),
    )
    assert ids(exports, signed_from=from_, signed_before=to) == ["t-2"]


def test_since_exports_only_what_was_signed_off_after_the_last_run(exports, quorum, tmp_path):
    def exported(name: str) -> list[str]:
        return [json.loads(x)["id"] for x in (tmp_path / name).read_text().splitlines()]

    assert quorum("export", "-p", "support-intent", "--since", "-o", "first.jsonl").exit_code == 0
    assert exported("first.jsonl") == ["t-1", "t-2", "t-3", "t-4"]
    assert quorum("export", "-p", "support-intent", "--since", "-o", "again.jsonl").exit_code == 0
    assert exported("again.jsonl") == []
    # Signed off after those runs (the command line runs on the system clock).
    late = Seed("t-5", chat("Invoice missing", "Sent."), [("U01ALICE", "billing")], "billing")
    late.signed_at = datetime.now(UTC)
    seed(exports.engine, "support-intent", [late])
    assert quorum("export", "-p", "support-intent", "--since", "-o", "third.jsonl").exit_code == 0
    assert exported("third.jsonl") == ["t-5"]
    # Without --since, everything again; and other formats keep their own watermark.
    assert quorum("export", "-p", "support-intent", "-o", "all.jsonl").exit_code == 0
    assert len(exported("all.jsonl")) == 5


def test_each_run_is_recorded_once_not_once_per_label(exports):
    ids(exports)
    exports.clock.advance(hours=1)
    ids(exports, methods=("lead",), since_last_run=True)
    with Session(exports.engine) as session:
        runs = session.exec(select(ExportRun).order_by(ExportRun.id)).all()
        exported = session.exec(select(Event).where(Event.kind == "exported")).all()
    assert [(r.format, r.rows) for r in runs] == [("labels", 4), ("labels", 0)]
    assert runs[1].filters["methods"] == ["lead"] and runs[1].filters["since"] is not None
    assert [e.chain for e in exported] == [project_chain(runs[0].project_id)] * 2
    assert [e.data["rows"] for e in exported] == [4, 0]
