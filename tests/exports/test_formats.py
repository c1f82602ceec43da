"""Each export format, read back by the library that consumes it, matches the
signed-off labels: json for JSONL, pyarrow for Parquet, `datasets` for a dataset folder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlmodel import Session, select

from bot.audit.chain import item_chain
from bot.exports.outputs import open_outputs
from bot.exports.run import ExportRequest, run_export
from bot.exports.writers import ExportError, JsonlSink
from storage.models import Event, ProjectVersion
from tests.exports.conftest import CORRECTED, LEAD, ORIGINAL, SALT


def export(exports, project: str, fmt: str, tmp_path: Path, *, parquet=False, hf=False, **filters):
    """Run an export to a file; return the rows as the consumer reads them."""
    request = ExportRequest(project=project, format=fmt, **filters)
    target = tmp_path / f"{project}-{fmt}{'.parquet' if parquet else '.jsonl'}"
    folder = tmp_path / f"{project}-{fmt}-dataset"
    with open_outputs(
        request.check(),
        out=None if hf else target,
        parquet=parquet,
        hf_dataset=folder if hf else None,
    ) as (sink, ties, _):
        run_export(
            exports.engine, request, sink=sink, ties=ties, now=exports.clock.now(), salt=SALT
        )
    if hf:
        import datasets

        return list(datasets.load_from_disk(str(folder)))
    if parquet:
        return pq.read_table(target).to_pylist()
    return [json.loads(line) for line in target.read_text().splitlines()]


def test_labels_jsonl_carries_the_value_and_full_provenance(exports, tmp_path):
    rows = export(exports, "support-intent", "labels", tmp_path)
    stored = exports.labels("support-intent")
    assert [(r["id"], json.loads(r["value"]), r["label"], r["method"]) for r in rows] == [
        (item.external_id, label.value, label.value, label.method) for label, item in stored
    ]
    escalated = next(r for r in rows if r["id"] == "t-4")
    assert [(a["reviewer"], a["value"], a["latency_ms"]) for a in escalated["answers"]] == [
        ("U01ALICE", '"billing"', 300_000),
        ("U02BOB", '"bug"', 360_000),
        ("U03CARA", '"account"', 420_000),
    ]
    assert json.loads(escalated["content"])["conversation"][0]["content"] == (
        "Login fails since the update"
    )
    assert escalated["imported_at"] == "2026-01-04T06:00:00.000000+00:00"
    assert escalated["prelabel"] == {
        "model": "gpt-4o-mini",
        "value": '"bug"',
        "confidence": 0.7,
        "prompt": "prelabel.j2",
        "at": "2026-01-04T06:00:00.000000+00:00",
    }
    provenance = json.loads(escalated["provenance"])
    assert provenance["escalation"]["reason"] == "tie between answers"
    assert provenance["escalation"]["resolved_by"] == LEAD
    assert provenance["sign_off"] == {
        "method": "lead",
        "by": LEAD,
        "at": "2026-01-04T09:00:00.000000+00:00",
        "agreement": pytest.approx(1 / 3),
        "confidence": None,
        "reason": provenance["escalation"]["rationale"],
    }
    label, item = next((lab, it) for lab, it in stored if it.external_id == "t-4")
    with Session(exports.engine) as session:
        version = session.exec(
            select(ProjectVersion).where(ProjectVersion.project_id == label.project_id)
        ).one()
        head = session.exec(
            select(Event).where(Event.chain == item_chain(item.id)).order_by(Event.seq.desc())
        ).first()
    assert provenance["config"] == {"version": 1, "hash": version.config_hash}
    assert provenance["chain"]["head_hash"] == head.hash and head.kind == "signed_off"


def test_a_label_row_has_the_prediction_flags_skips_and_each_answers_history(exports, tmp_path):
    row = next(r for r in export(exports, "support-intent", "labels", tmp_path) if r["id"] == "t-2")
    assert row["prediction"] == {"value": '"account"', "confidence": 0.55, "model": "intent-v3"}
    assert row["skips"] == [{"reviewer": "U04DAN", "at": "2026-01-02T06:02:00.000000+00:00"}]
    first = row["answers"][0]
    assert (first["reviewer"], first["value"], first["revision"]) == ("U01ALICE", '"bug"', 2)
    assert first["history"] == [
        {"value": '"account"', "replaced_at": "2026-01-02T06:07:00.000000+00:00"}
    ]
    assert first["flags"] == [
        {"reason": "pii", "note": "an email address", "at": "2026-01-02T06:02:00+00:00"}
    ]
    assert all(isinstance(a["response_id"], int) for a in row["answers"])
    assert json.loads(row["metadata"]) == {"ticket": 7, "tags": ["web"]}
    bare = export(exports, "support-intent", "labels", tmp_path, content=False)
    assert {r["content"] for r in bare} == {None}
    assert [r["content_hash"] for r in bare] == [
        r["content_hash"] for r in export(exports, "support-intent", "labels", tmp_path)
    ]


def test_labels_parquet_and_dataset_hold_the_same_rows(exports, tmp_path):
    jsonl = export(exports, "support-intent", "labels", tmp_path)
    parquet = export(exports, "support-intent", "labels", tmp_path, parquet=True)
    dataset = export(exports, "support-intent", "labels", tmp_path, hf=True)
    assert parquet == jsonl
    assert dataset == jsonl


def test_ratings_one_row_per_item_and_criterion_with_every_score(exports, tmp_path):
    rows = export(exports, "triage-rating", "ratings", tmp_path)
    assert [(r["id"], r["criterion"]) for r in rows] == [
        (i, c) for i in ("tr-1", "tr-2", "tr-3") for c in ("helpfulness", "correctness", "safety")
    ]
    helpfulness = rows[0]
    assert helpfulness["scores"] == [4, 3 + 1, 3] and helpfulness["reviewers"] == [
        "U01ALICE",
        "U02BOB",
        "U03CARA",
    ]
    assert helpfulness["mean"] == pytest.approx(11 / 3)
    assert helpfulness["score"] == 4 and helpfulness["agreement"] == pytest.approx(2 / 3)
    safety = rows[2]
    assert (safety["mean"], safety["agreement"]) == (5, 1.0)
    split = rows[3]  # tr-2 helpfulness: 2, 4, 3 — nobody agrees
    assert split["agreement"] == pytest.approx(1 / 3) and split["method"] == "lead"
    stored = {item.external_id: label.value for label, item in exports.labels("triage-rating")}
    assert all(r["score"] == stored[r["id"]][r["criterion"]] for r in rows)
    assert export(exports, "triage-rating", "ratings", tmp_path, parquet=True) == rows
    assert export(exports, "triage-rating", "ratings", tmp_path, hf=True) == rows


def test_dpo_pairs_in_trl_conversational_format_without_ties(exports, tmp_path):
    rows = export(exports, "code-preference", "dpo", tmp_path)
    assert [r["id"] for r in rows] == ["cp-1", "cp-2"]
    first = rows[0]
    assert first["prompt"] == [{"role": "user", "content": "Dedupe a list keeping order"}]
    assert first["chosen"] == [{"role": "assistant", "content": "list(dict.fromkeys(x))"}]
    assert first["rejected"] == [{"role": "assistant", "content": "list(set(x))"}]
    assert rows[1]["chosen"][0]["content"] == "Use a window function"  # {"choice": "a", …}
    dataset = export(exports, "code-preference", "dpo", tmp_path, hf=True)
    assert dataset == rows
    assert export(exports, "code-preference", "dpo", tmp_path, parquet=True) == rows


def test_dpo_ties_and_both_bad_go_to_their_own_file_when_asked(exports, quorum, tmp_path):
    result = quorum(
        "export",
        "-p",
        "code-preference",
        "-f",
        "dpo",
        "--out",
        "pairs.jsonl",
        "--ties-out",
        "ties.jsonl",
    )
    assert result.exit_code == 0, result.output
    assert "2 tie/both-bad pair(s) written to ties.jsonl" in result.output
    pairs = [json.loads(line) for line in (tmp_path / "pairs.jsonl").read_text().splitlines()]
    ties = [json.loads(line) for line in (tmp_path / "ties.jsonl").read_text().splitlines()]
    assert [p["id"] for p in pairs] == ["cp-1", "cp-2"]
    assert [(t["id"], t["choice"]) for t in ties] == [("cp-3", "tie"), ("cp-4", "both_bad")]
    assert [r["id"] for r in ties[0]["responses"]] == ["a", "b"]


def test_sft_messages_end_with_the_signed_off_assistant_turn(exports, tmp_path):
    rows = export(exports, "legal-correction", "sft", tmp_path)
    assert [(r["id"], r["changed"]) for r in rows] == [("lc-1", True), ("lc-2", False)]
    assert rows[0]["messages"] == [
        {"role": "user", "content": "Summarise clause 12"},
        {"role": "assistant", "content": CORRECTED},
    ]
    assert ORIGINAL not in json.dumps(rows[0])
    assert rows[1]["messages"][-1]["content"] == "Yes, it is common."
    assert export(exports, "legal-correction", "sft", tmp_path, hf=True) == rows


def test_a_format_for_another_kind_is_refused_with_a_hint(exports):
    request = ExportRequest(project="support-intent", format="dpo")
    with pytest.raises(
        ExportError, match="dpo reads preference or ranking projects.*label project"
    ):
        run_export(
            exports.engine,
            request,
            sink=JsonlSink(io.StringIO()),
            now=exports.clock.now(),
            salt=SALT,
        )


def test_every_format_is_available_from_the_command_line(exports, quorum, tmp_path):
    for project, fmt in [
        ("support-intent", "labels"),
        ("triage-rating", "ratings"),
        ("code-preference", "dpo"),
        ("legal-correction", "sft"),
    ]:
        result = quorum("export", "--project", project, "--format", fmt)
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert lines and all("id" in line for line in lines)
    bad = quorum("export", "-p", "support-intent", "-f", "ratings")
    assert bad.exit_code == 2 and "ratings reads rating projects" in bad.output
    parquet_without_file = quorum("export", "-p", "support-intent", "--parquet")
    assert parquet_without_file.exit_code == 2 and "--out FILE" in parquet_without_file.output


def test_hf_dataset_without_the_datasets_package_is_a_clear_error(exports, quorum, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    result = quorum("export", "-p", "support-intent", "--hf-dataset", "out")
    assert result.exit_code == 2
    assert "needs the `datasets` package" in result.output and "--parquet" in result.output
