"""Dispatch with a poison item in the queue: the item is marked failed with its reason
(status, audit trail, one log line) and every other item of every project goes on; a
new project version retries it. Dispatch also stops between items when asked to."""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.intake.problems import dispatch_problems
from bot.workflow.project_versions import apply_project, require_project
from storage.db import session_scope
from storage.models import Event, Item, ItemStatus
from tests.factories import (
    apply,
    conversation,
    import_file,
    kind_config,
    label_config,
    store_as_an_older_release_did,
    write_items,
)

RATING = "triage-rating"


def items_of(engine, project: str) -> list[Item]:
    with Session(engine) as session:
        project_id = require_project(session, project).id
        return list(
            session.exec(select(Item).where(Item.project_id == project_id).order_by(Item.id))
        )


def events_of(engine, kind: str) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(Event.id)))


def chats(prefix: str, count: int) -> list[dict]:
    return [
        {"id": f"{prefix}-{n}", "conversation": conversation(f"sample {n}")} for n in range(count)
    ]


# Thirty long labels: a multi-label item predicted with all of them needs a "Confirm"
# button whose value (every label) is over Slack's 2,000 characters.
LONG_LABELS = [
    f"{n:02d} refund requested for a duplicate charge on the account".ljust(90, ".")
    for n in range(30)
]


def start_poisoned_label_project(engine, tmp_path) -> None:
    """A multi-label support-intent whose first item's review message cannot be built
    (predicted with every label); its other items are predicted with one."""
    apply(engine, label_config(multi_label=True, labels=LONG_LABELS))
    poison = {"id": "p-0", "conversation": conversation("charged twice")}
    poison["prediction"] = {"label": LONG_LABELS, "confidence": 0.1}
    fine = [
        {**item, "prediction": {"label": [LONG_LABELS[1]], "confidence": 0.1}}
        for item in chats("t", 3)
    ]
    import_file(engine, write_items(tmp_path / "label.jsonl", [poison, *fine]))


def test_a_poison_item_does_not_delay_other_items(engine, context, tmp_path, caplog):
    start_poisoned_label_project(engine, tmp_path)  # the poison item comes first
    apply(engine, kind_config(RATING))
    import_file(engine, write_items(tmp_path / "rating.jsonl", chats("r", 2)), name=RATING)

    with caplog.at_level(logging.ERROR, logger="bot.workflow.intake.dispatch"):
        report = dispatch_queued(engine, clock=context.clock, rng=context.rng, batch=2)
    # Every other item went out in the same run: its own project's and the other's.
    assert [i.status for i in items_of(engine, RATING)] == [ItemStatus.ASSIGNED] * 2
    statuses = {i.external_id: i.status for i in items_of(engine, "support-intent")}
    assert statuses == {
        "p-0": ItemStatus.FAILED,
        "t-0": ItemStatus.ASSIGNED,
        "t-1": ItemStatus.ASSIGNED,
        "t-2": ItemStatus.ASSIGNED,
    }
    assert (report.sent_to_reviewers, report.failed) == (5, 1)

    (poisoned,) = [i for i in items_of(engine, "support-intent") if i.external_id == "p-0"]
    assert "2000 characters" in (poisoned.failure or "")
    # Its provenance says why, and nothing of the failed attempt (routing, DMs) was kept.
    (failed,) = events_of(engine, "dispatch_failed")
    assert (failed.item_id, failed.data["reason"]) == (poisoned.id, poisoned.failure)
    assert poisoned.id not in {e.item_id for e in events_of(engine, "routed")}
    # `quorum status` lists it with its reason.
    problems = dispatch_problems(engine)
    assert problems.failed_total == 1
    (shown,) = problems.failed
    assert (shown.project, shown.external_id, shown.reason) == (
        "support-intent",
        "p-0",
        poisoned.failure,
    )

    # Logged once, not on every later pass.
    assert len([r for r in caplog.records if "marked failed" in r.getMessage()]) == 1
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="bot.workflow.intake.dispatch"):
        assert dispatch_queued(engine, clock=context.clock, rng=context.rng).failed == 0
    assert not [r for r in caplog.records if "marked failed" in r.getMessage()]
    assert len(events_of(engine, "dispatch_failed")) == 1


def test_a_stored_config_slack_cannot_show_fails_its_items_with_the_reason(
    engine, context, tmp_path
):
    apply(engine, kind_config(RATING))
    import_file(engine, write_items(tmp_path / "rating.jsonl", chats("r", 2)), name=RATING)
    store_as_an_older_release_did(engine, RATING, criteria=[f"c{n}" for n in range(40)])
    apply(engine, label_config())
    fine = [{**item, "prediction": {"label": "bug", "confidence": 0.1}} for item in chats("t", 2)]
    import_file(engine, write_items(tmp_path / "label.jsonl", fine))

    dispatch_queued(engine, clock=context.clock, rng=context.rng)
    assert [i.status for i in items_of(engine, "support-intent")] == [ItemStatus.ASSIGNED] * 2
    failed = items_of(engine, RATING)
    assert [i.status for i in failed] == [ItemStatus.FAILED] * 2
    assert all("criteria" in (i.failure or "") and "38" in (i.failure or "") for i in failed)


def test_a_fixed_project_version_sends_its_failed_items(engine, context, tmp_path):
    start_poisoned_label_project(engine, tmp_path)
    dispatch_queued(engine, clock=context.clock, rng=context.rng)
    assert len(dispatch_problems(engine).failed) == 1

    # The lead shortens the labels: the old prediction no longer offers a "Confirm".
    with session_scope(engine) as session:
        applied = apply_project(
            session, label_config(multi_label=True, labels=["billing", "bug", "refund"])
        )
    assert applied.requeued == 1
    dispatch_queued(engine, clock=context.clock, rng=context.rng)
    statuses = {i.external_id: i.status for i in items_of(engine, "support-intent")}
    assert statuses["p-0"] == ItemStatus.ASSIGNED
    (requeued,) = events_of(engine, "requeued")
    assert "2000 characters" in requeued.data["failure"]


def test_dispatch_stops_between_items_when_asked(engine, context, tmp_path):
    apply(engine, label_config(overlap=1))
    items = [{**item, "prediction": {"label": "bug", "confidence": 0.1}} for item in chats("t", 30)]
    import_file(engine, write_items(tmp_path / "items.jsonl", items))
    asked = []

    def stop() -> bool:  # a SIGTERM arrives after the fourth item
        asked.append(1)
        return len(asked) > 4

    report = dispatch_queued(engine, clock=context.clock, rng=context.rng, batch=20, stop=stop)
    assert report.total <= 4
    statuses = [i.status for i in items_of(engine, "support-intent")]
    assert statuses.count(ItemStatus.QUEUED) >= 26  # left for the next process, untouched
    assert dispatch_queued(engine, clock=context.clock, rng=context.rng).total == 30 - report.total
