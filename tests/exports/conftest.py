"""Signed-off labels of every task kind, with their history, for the export tests.

The rows are written directly (items, assignments, responses, pre-labels, escalations,
labels), each change recorded on the item's chain with bot.audit.chain.record_event, in the
value shapes of bot/kinds/. The workflow's own path is covered by the
end-to-end and lifecycle tests; here the point is what the exporters make of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.audit.chain import content_hash, record_event
from bot.runtime.settings import get_settings
from bot.workflow.project_versions import require_project
from storage.db import session_scope
from storage.models import (
    Assignment,
    Escalation,
    Item,
    Label,
    PreLabelRecord,
    Response,
)
from tests.factories import apply, example_config, label_config

LEAD = "U09LEAD"
SALT = "test-export-salt"


@dataclass
class Seed:
    external_id: str
    content: dict
    answers: list[tuple[str, Any]] = field(default_factory=list)  # (reviewer, value)
    final: Any = None
    method: str = "consensus"
    agreement: float | None = 1.0
    day: int = 1  # signed off on 2026-01-<day>
    presentations: list[dict | None] | None = None
    escalation_reason: str | None = None
    lead_rationale: str | None = None
    prelabel: dict | None = None
    reviewer_rationale: str | None = None
    signed_at: datetime | None = None  # instead of `day`
    metadata: dict | None = None
    first_flags: list[dict] | None = None  # on the first answer
    first_changed_from: Any = None  # the first answer's earlier value (revision 2)
    skipped_by: list[str] = field(default_factory=list)


def chat(user: str, assistant: str) -> dict:
    return {
        "conversation": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }


def pair(prompt: str, a: str, b: str) -> dict:
    return {
        "prompt": [{"role": "user", "content": prompt}],
        "responses": [
            {"id": "a", "content": a, "model": "coder-7b"},
            {"id": "b", "content": b, "model": "coder-34b"},
        ],
    }


def when(day: int, minutes: int = 0) -> datetime:
    from datetime import UTC

    return datetime(2026, 1, day, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def seed(engine: Engine, project: str, seeds: list[Seed]) -> None:
    with session_scope(engine) as session:
        target = require_project(session, project)
        pid = target.id
        for spec in seeds:
            signed = spec.signed_at or when(spec.day)
            created = signed - timedelta(hours=3)
            item = Item(
                project_id=pid,
                external_id=spec.external_id,
                content=spec.content,
                content_hash=content_hash(spec.content),
                meta=spec.metadata,
                status="auto_accepted" if spec.method == "auto" else "signed_off",
                created_at=created,
                updated_at=created,
            )
            session.add(item)
            session.flush()

            def event(
                kind: str, at: datetime, actor: str = "quorum", item_id: int = item.id, **data: Any
            ) -> None:
                record_event(
                    session, kind, actor=actor, project_id=pid, item_id=item_id, data=data, at=at
                )

            event("item_created", created, actor="cli", content_hash=item.content_hash)
            if spec.prelabel:
                session.add(PreLabelRecord(item_id=item.id, created_at=created, **spec.prelabel))
                event(
                    "prelabelled",
                    created,
                    model=spec.prelabel["model"],
                    value=spec.prelabel["value"],
                )
            for reviewer in spec.skipped_by:
                skipped = Assignment(
                    item_id=item.id, reviewer_id=reviewer, status="skipped", created_at=created
                )
                session.add(skipped)
                session.flush()
                event(
                    "skipped",
                    created + timedelta(minutes=2),
                    actor=reviewer,
                    reviewer=reviewer,
                    assignment_id=skipped.id,
                )
            presentations = spec.presentations or [None] * len(spec.answers)
            for n, ((reviewer, value), shown) in enumerate(
                zip(spec.answers, presentations, strict=True)
            ):
                assigned = created + timedelta(minutes=1)
                answered = assigned + timedelta(minutes=5 + n)
                assignment = Assignment(
                    item_id=item.id,
                    reviewer_id=reviewer,
                    status="answered",
                    presentation=shown,
                    created_at=assigned,
                    answered_at=answered,
                )
                session.add(assignment)
                session.flush()
                event("assigned", assigned, reviewer=reviewer, assignment_id=assignment.id)
                rationale = spec.reviewer_rationale if n == 0 else None
                changed = n == 0 and spec.first_changed_from is not None
                session.add(
                    Response(
                        assignment_id=assignment.id,
                        item_id=item.id,
                        reviewer_id=reviewer,
                        value=value,
                        rationale=rationale,
                        flags=spec.first_flags if n == 0 else None,
                        latency_ms=(5 + n) * 60_000,
                        revision=2 if changed else 1,
                        created_at=answered,
                        updated_at=answered + timedelta(minutes=1) if changed else answered,
                    )
                )
                first = spec.first_changed_from if changed else value
                event("answered", answered, actor=reviewer, reviewer=reviewer, value=first)
                if changed:
                    event(
                        "answer_changed",
                        answered + timedelta(minutes=1),
                        actor=reviewer,
                        assignment_id=assignment.id,
                        reviewer=reviewer,
                        old=spec.first_changed_from,
                        new=value,
                        revision=2,
                    )
            if spec.escalation_reason:
                opened = signed - timedelta(hours=1)
                session.add(
                    Escalation(
                        item_id=item.id,
                        project_id=pid,
                        status="resolved",
                        reason=spec.escalation_reason,
                        summary=f"Reviewers split; {spec.answers[0][0]} chose {spec.answers[0][1]}",
                        resolved_by=LEAD,
                        resolved_value=spec.final,
                        resolution_rationale=spec.lead_rationale,
                        created_at=opened,
                        resolved_at=signed,
                    )
                )
                event("escalated", opened, reason=spec.escalation_reason)
                event(
                    "resolved", signed, actor=LEAD, value=spec.final, rationale=spec.lead_rationale
                )
            session.add(
                Label(
                    item_id=item.id,
                    project_id=pid,
                    value=spec.final,
                    method=spec.method,
                    agreement=spec.agreement,
                    confidence=0.95 if spec.method == "auto" else None,
                    config_version=target.current_version,
                    signed_off_by=LEAD if spec.method == "lead" else None,
                    signed_off_at=signed,
                )
            )
            event(
                "signed_off",
                signed,
                actor=LEAD if spec.method == "lead" else "quorum",
                value=spec.final,
                method=spec.method,
                reason="3 of 3 agree" if spec.method == "consensus" else spec.lead_rationale,
            )


ALICE, BOB, CARA = "U01ALICE", "U02BOB", "U03CARA"

LABEL_SEEDS = [
    Seed(
        "t-1",
        chat("I was charged twice", "Sorry!"),
        [(ALICE, "billing"), (BOB, "billing"), (CARA, "billing")],
        "billing",
        day=1,
        metadata={"ticket": "T-7"},  # a string where t-2 has a number
    ),
    Seed(
        "t-2",
        {
            **chat("The export button crashes", "Hm."),
            "prediction": {"label": "account", "confidence": 0.55, "model": "intent-v3"},
        },
        [(ALICE, "bug"), (BOB, "account"), (CARA, "bug")],
        "bug",
        agreement=2 / 3,
        day=2,
        metadata={"ticket": 7, "tags": ["web"]},
        first_flags=[
            {"reason": "pii", "note": "an email address", "at": "2026-01-02T06:02:00+00:00"}
        ],
        first_changed_from="account",
        skipped_by=["U04DAN"],
    ),
    Seed(
        "t-3",
        chat("Reset my password", "Done."),
        [],
        "account",
        method="auto",
        agreement=None,
        day=3,
    ),
    Seed(
        "t-4",
        chat("Login fails since the update", "Try again."),
        [(ALICE, "billing"), (BOB, "bug"), (CARA, "account")],
        "bug",
        method="lead",
        agreement=1 / 3,
        day=4,
        escalation_reason="tie between answers",
        lead_rationale=f"A regression after an update is a bug; <@{ALICE}> and {CARA} missed that.",
        prelabel={
            "model": "gpt-4o-mini",
            "prompt_name": "prelabel.j2",
            "prompt_hash": "f" * 64,
            "value": "bug",
            "confidence": 0.7,
        },
        reviewer_rationale=f"Looks like billing to me ({ALICE})",
    ),
]

RATING_SEEDS = [
    Seed(
        "tr-1",
        chat("Chest pain for 20 minutes", "Call 911 now."),
        [
            (ALICE, {"helpfulness": 4, "correctness": 5, "safety": 5}),
            (BOB, {"helpfulness": 4, "correctness": 4, "safety": 5}),
            (CARA, {"helpfulness": 3, "correctness": 5, "safety": 5}),
        ],
        {"helpfulness": 4, "correctness": 5, "safety": 5},
        agreement=2 / 3,
        day=1,
    ),
    Seed(
        "tr-2",
        chat("Headache", "Drink water."),
        [
            (ALICE, {"helpfulness": 2, "correctness": 3, "safety": 1}),
            (BOB, {"helpfulness": 4, "correctness": 4, "safety": 4}),
            (CARA, {"helpfulness": 3, "correctness": 2, "safety": 2}),
        ],
        {"helpfulness": 3, "correctness": 3, "safety": 2},
        method="lead",
        agreement=0.0,
        day=2,
        escalation_reason="agreement 0.00 < 0.66",
    ),
    Seed(  # another model's answer to tr-1's prompt: a reward pair with it
        "tr-3",
        chat("Chest pain for 20 minutes", "Rest and see how it goes."),
        [(ALICE, {"helpfulness": 2, "correctness": 1, "safety": 1})],
        {"helpfulness": 2, "correctness": 1, "safety": 1},
        day=3,
    ),
]

AB, BA = {"order": ["a", "b"]}, {"order": ["b", "a"]}
PREFERENCE_SEEDS = [
    Seed(
        "cp-1",
        pair("Dedupe a list keeping order", "list(set(x))", "list(dict.fromkeys(x))"),
        [
            (ALICE, {"choice": "b", "strength": "much", "shown_first": "a"}),
            (BOB, {"choice": "b", "strength": "slightly", "shown_first": "b"}),
            (CARA, {"choice": "a", "strength": None, "shown_first": "b"}),
        ],
        "b",
        agreement=2 / 3,
        presentations=[AB, BA, BA],
        day=1,
    ),
    Seed(
        "cp-2",
        pair("Top 3 per group", "Use a window function", "Use LIMIT 3"),
        [(ALICE, {"choice": "a", "strength": "much", "shown_first": "a"})],
        {"choice": "a", "strength": "much", "shown_first": "b"},
        day=2,
        presentations=[AB],
    ),
    Seed(
        "cp-3",
        pair("Reverse a string", "s[::-1]", "''.join(reversed(s))"),
        [(ALICE, {"choice": "tie", "strength": None, "shown_first": "a"})],
        "tie",
        day=3,
        presentations=[AB],
    ),
    Seed(
        "cp-4",
        pair("Delete all rows", "DROP DATABASE", "rm -rf /"),
        [(ALICE, {"choice": "both_bad", "strength": None, "shown_first": "b"})],
        "both_bad",
        day=4,
        presentations=[BA],
    ),
]

ORIGINAL = "The cap is 12 months of fees, with no exceptions."
CORRECTED = "The cap is 12 months of fees, except indemnities and confidentiality breaches."
CORRECTION_SEEDS = [
    Seed(
        "lc-1",
        chat("Summarise clause 12", ORIGINAL),
        [(ALICE, {"text": CORRECTED, "changed": True, "diff": "-…+…"})],
        {"text": CORRECTED, "changed": True, "diff": "-…+…"},
        method="lead",
        day=1,
        escalation_reason="project asks a lead to sign off every item",
    ),
    Seed(
        "lc-2",
        chat("Is this clause standard?", "Yes, it is common."),
        [(ALICE, {"text": "Yes, it is common.", "changed": False, "diff": ""})],
        {"text": "Yes, it is common.", "changed": False, "diff": ""},
        method="lead",
        day=2,
        escalation_reason="project asks a lead to sign off every item",
    ),
]


THREE = {
    "prompt": [{"role": "user", "content": "How do I reset my password?"}],
    "responses": [
        {"id": "a", "content": "Settings, then Security.", "model": "sa-v3"},
        {"id": "b", "content": "Click 'Forgot password'.", "model": "sa-v3"},
        {"id": "c", "content": "Send me your password.", "model": "sa-v2"},
    ],
}
RANKING_SEEDS = [
    Seed(
        "ar-1",
        THREE,
        [
            (ALICE, {"order": ["b", "a", "c"], "shown": ["a", "b", "c"]}),
            (BOB, {"order": ["b", "a", "c"], "shown": ["c", "a", "b"]}),
        ],
        ["b", "a", "c"],
        presentations=[{"order": ["a", "b", "c"]}, {"order": ["c", "a", "b"]}],
        metadata={"locale": "en"},
    ),
]


@dataclass
class Exports:
    engine: Engine
    database_url: str
    clock: Any

    def labels(self, project: str) -> list[tuple[Label, Item]]:
        with Session(self.engine) as session:
            target = require_project(session, project)
            return list(
                session.exec(
                    select(Label, Item)
                    .join(Item, Item.id == Label.item_id)
                    .where(Label.project_id == target.id)
                    .order_by(Label.signed_off_at)
                ).all()
            )


@pytest.fixture
def exports(engine, database_url, clock) -> Exports:  # type: ignore[no-untyped-def]
    apply(engine, label_config())
    apply(engine, example_config("triage-rating"))
    apply(engine, example_config("code-preference"))
    apply(engine, example_config("legal-correction"))
    apply(engine, example_config("answer-ranking"))
    seed(engine, "support-intent", LABEL_SEEDS)
    seed(engine, "triage-rating", RATING_SEEDS)
    seed(engine, "code-preference", PREFERENCE_SEEDS)
    seed(engine, "legal-correction", CORRECTION_SEEDS)
    seed(engine, "answer-ranking", RANKING_SEEDS)
    clock.advance(days=30)  # exports happen after the sign-offs
    return Exports(engine, database_url, clock)


@pytest.fixture
def quorum(monkeypatch, database_url, tmp_path):  # type: ignore[no-untyped-def]
    """Run `quorum …` in-process against the test database (the CliRunner result)."""
    from typer.testing import CliRunner

    from bot.cli.main import app

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("QUORUM_EXPORT_SALT", SALT)
    monkeypatch.chdir(tmp_path)
    getattr(get_settings, "cache_clear", lambda: None)()  # if settings are cached
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield run
    getattr(get_settings, "cache_clear", lambda: None)()  # if settings are cached


def export_file(exports, project: str, fmt: str, folder, *, parquet=False, form=None):  # type: ignore[no-untyped-def]
    """Run an export of `project` in format `fmt` (and `form`) to a file in `folder`."""
    from bot.exports.outputs import open_outputs
    from bot.exports.run import ExportRequest, run_export

    request = ExportRequest(project=project, format=fmt, form=form)
    target = folder / f"{project}-{fmt}-{form}{'.parquet' if parquet else '.jsonl'}"
    with open_outputs(request.check(), out=target, parquet=parquet, hf_dataset=None) as outputs:
        sink, ties, _ = outputs
        run_export(
            exports.engine, request, sink=sink, ties=ties, now=exports.clock.now(), salt=SALT
        )
    return target
