"""`--pseudonymise`: reviewer and lead ids become stable salted hashes everywhere in an
export; and no token or secret ever reaches an export or a log."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re

import datasets
import pyarrow.parquet as pq

from tests.exports.conftest import SALT

PEOPLE = ["U01ALICE", "U02BOB", "U03CARA", "U09LEAD"]


def expected(user_id: str, salt: str = SALT) -> str:
    return "r_" + hmac.new(salt.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:12]


def test_every_id_is_replaced_including_free_text(exports, quorum, tmp_path):
    result = quorum("export", "-p", "support-intent", "--pseudonymise", "-o", "shared.jsonl")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "shared.jsonl").read_text()
    for person in PEOPLE:
        assert person not in text
    rows = {json.loads(line)["id"]: json.loads(line) for line in text.splitlines()}
    escalated = json.loads(rows["t-4"]["provenance"])
    assert [a["reviewer"] for a in rows["t-4"]["answers"]] == [
        r["reviewer"] for r in escalated["responses"]
    ]
    assert [r["reviewer"] for r in escalated["responses"]] == [
        expected("U01ALICE"),
        expected("U02BOB"),
        expected("U03CARA"),
    ]
    assert escalated["escalation"]["resolved_by"] == expected("U09LEAD")
    assert escalated["sign_off"]["by"] == rows["t-4"]["signed_off_by"] == expected("U09LEAD")
    assert f"<@{expected('U01ALICE')}>" in escalated["escalation"]["rationale"]
    assert expected("U03CARA") in escalated["escalation"]["rationale"]
    assert expected("U01ALICE") in escalated["responses"][0]["rationale"]
    assert expected("U01ALICE") in escalated["escalation"]["summary"]
    assert rows["t-2"]["skips"][0]["reviewer"] == expected("U04DAN")
    assert (
        json.loads(rows["t-1"]["provenance"])["sign_off"]["by"] == "quorum"
    )  # the system, not a person


def test_pseudonyms_are_stable_across_runs_and_formats_and_depend_on_the_salt(
    exports, quorum, tmp_path, monkeypatch
):
    quorum("export", "-p", "support-intent", "--pseudonymise", "-o", "one.jsonl")
    quorum("export", "-p", "support-intent", "--pseudonymise", "-o", "two.jsonl")
    assert (tmp_path / "one.jsonl").read_text() == (tmp_path / "two.jsonl").read_text()
    quorum("export", "-p", "triage-rating", "-f", "ratings", "--pseudonymise", "-o", "r.jsonl")
    ratings = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert ratings[0]["reviewers"] == [expected(p) for p in ("U01ALICE", "U02BOB", "U03CARA")]
    monkeypatch.setenv("QUORUM_EXPORT_SALT", "another-team-salt")
    quorum("export", "-p", "support-intent", "--pseudonymise", "-o", "other.jsonl")
    other = (tmp_path / "other.jsonl").read_text()
    assert expected("U01ALICE", "another-team-salt") in other
    assert expected("U01ALICE") not in other


MARKERS = {
    "SLACK_BOT_TOKEN": "xoxb-MARKER-BOT-TOKEN",
    "SLACK_SIGNING_SECRET": "MARKER-SIGNING-SECRET",
    "SLACK_APP_TOKEN": "xapp-MARKER-APP-TOKEN",
    "OPENAI_API_KEY": "sk-MARKER-OPENAI-KEY",
    "QUORUM_AUDIT_KEY": "MARKER-AUDIT-KEY",
    "QUORUM_EXPORT_SALT": "MARKER-EXPORT-SALT",
}


def test_no_secret_reaches_an_export_a_log_or_the_terminal(
    exports, quorum, tmp_path, monkeypatch, caplog
):
    for name, value in MARKERS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    runs = [
        ("support-intent", "labels"),
        ("triage-rating", "ratings"),
        ("code-preference", "dpo"),
        ("legal-correction", "sft"),
    ]
    for project, fmt in runs:
        for extra in ([], ["--pseudonymise"]):
            for output in ("jsonl", "parquet", "hf"):
                name = f"{project}-{fmt}-{output}{'-p' if extra else ''}"
                args = ["export", "-p", project, "-f", fmt, *extra]
                if output == "jsonl":
                    args += ["-o", f"{name}.jsonl"]
                elif output == "parquet":
                    args += ["--parquet", "-o", f"{name}.parquet"]
                else:
                    args += ["--hf-dataset", name]
                if fmt == "dpo":
                    args += ["--ties-out", f"{name}.ties.jsonl"]
                result = quorum(*args)
                assert result.exit_code == 0, result.output
                seen.append(result.output)
                if output == "jsonl":
                    seen.append((tmp_path / f"{name}.jsonl").read_text())
                elif output == "parquet":
                    seen.append(json.dumps(pq.read_table(tmp_path / f"{name}.parquet").to_pylist()))
                else:
                    seen.append(json.dumps(list(datasets.load_from_disk(str(tmp_path / name)))))
                if fmt == "dpo":
                    seen.append((tmp_path / f"{name}.ties.jsonl").read_text())
    to_stdout = quorum("export", "-p", "support-intent")
    seen.append(to_stdout.output)
    for args in (
        ["audit", "checkpoint"],
        ["audit", "verify"],
        ["provenance", "t-4"],
        ["provenance", "t-4", "--json"],
    ):
        result = quorum(*args)
        assert result.exit_code == 0, result.output
        seen.append(result.output)
    seen += [record.getMessage() for record in caplog.records]
    everything = "\n".join(seen)
    assert "t-4" in everything and len(seen) > 50  # the outputs really were collected
    for name, marker in MARKERS.items():
        assert marker not in everything, f"{name} leaked"
        assert not re.search(re.escape(marker[-10:]), everything), f"part of {name} leaked"
