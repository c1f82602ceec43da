"""Routing by requirement through the real Bolt app and the Slack emulator: items that
need a language or a skill reach only reviewers who have it, an item nobody qualified
can take waits with its reason and goes out when someone qualifies, and `max_open`
caps each reviewer's open work in a project."""

from __future__ import annotations

import threading
from collections import Counter

from sqlmodel import Session, select

from bot.workflow.intake.dispatch import dispatch_queued
from bot.workflow.intake.problems import dispatch_problems
from storage.models import Assignment, AssignmentStatus, Item
from tests.factories import (
    LEADS,
    REVIEWERS,
    apply,
    assert_slack_accepted_everything,
    assignments,
    conversation,
    events,
    import_file,
    kind_config,
    press,
    shown,
    start,
    write_items,
)

ALICE, BOB, CARA, DAN = REVIEWERS


def item(n: int, **fields: object) -> dict:
    return {
        "id": f"r-{n}",
        "conversation": conversation(f"Frage Nummer {n}"),
        "prediction": {"label": "billing", "confidence": 0.5, "model": "intent-v3"},
        **fields,
    }


def reviewers_of(sandbox, external_id: str) -> set[str]:
    with Session(sandbox.ctx.engine) as session:
        found = session.exec(select(Item).where(Item.external_id == external_id)).one()
        return {
            a.reviewer_id
            for a in session.exec(select(Assignment).where(Assignment.item_id == found.id))
        }


def the_item(sandbox, external_id: str) -> Item:
    with Session(sandbox.ctx.engine) as session:
        return session.exec(select(Item).where(Item.external_id == external_id)).one()


def commanded(sandbox, user: str, text: str) -> None:
    assert sandbox.sender.slash_command(user, text).status == 200


def test_german_items_reach_only_german_speakers(sandbox, tmp_path):
    config = kind_config(
        "support-intent",
        reviewers=[
            {"id": ALICE, "languages": ["en", "de"]},
            {"id": BOB, "languages": ["en"]},
            {"id": CARA, "languages": ["de-AT"]},  # a regional German meets `de`
            DAN,  # no attributes: only items that require nothing
        ],
        overlap=2,
        route={"languages": "metadata.lang"},
    )
    german = [item(n, metadata={"lang": "de"}) for n in range(6)]
    english = [item(n, requires={"languages": ["EN"]}) for n in range(6, 9)]
    start(sandbox, tmp_path, config, [*german, *english, item(9)])

    for record in german:
        assert reviewers_of(sandbox, record["id"]) == {ALICE, CARA}
    for record in english:
        assert reviewers_of(sandbox, record["id"]) == {ALICE, BOB}
    assert len(reviewers_of(sandbox, "r-9")) == 2  # anyone may take it
    assert len(sandbox.dm(DAN)) <= 1
    assert not any("Frage Nummer 0" in shown(m) for m in sandbox.dm(BOB) + sandbox.dm(DAN))
    assert all(the_item(sandbox, r["id"]).understaffed is None for r in german + english)
    assert_slack_accepted_everything(sandbox)


def test_an_item_needing_a_skill_nobody_free_has_waits_and_goes_out_on_resume(sandbox, tmp_path):
    config = kind_config(
        "support-intent",
        reviewers=[
            {"id": ALICE, "skills": ["cardiology"]},
            {"id": BOB, "skills": ["Cardiology", "radiology"]},
            CARA,
            DAN,
        ],
        overlap=2,
        escalation_channel="C0ESCALATE",
    )
    apply(sandbox.ctx.engine, config)
    commanded(sandbox, BOB, "pause")
    start(sandbox, tmp_path, config, [item(1, requires={"skills": ["cardiology"]})])

    waiting = the_item(sandbox, "r-1")
    reason = "understaffed: needs cardiology, 1 of 2 qualified reviewers available"
    assert (waiting.status, waiting.understaffed) == ("assigned", reason)
    assert reviewers_of(sandbox, "r-1") == {ALICE}
    [event] = events(sandbox, "understaffed")
    assert event.data["reason"] == reason and event.data["requires"]["skills"] == ["cardiology"]
    [note] = sandbox.channel_messages("C0ESCALATE")
    assert "r-1" in note["text"] and reason in note["text"]
    [row] = dispatch_problems(sandbox.ctx.engine, "support-intent").waiting
    assert (row.reason, row.items, row.example) == (reason, 1, "r-1")

    # Alice answers: the item waits for its second qualified reviewer, not decided on one.
    press(sandbox, ALICE, sandbox.latest_dm(ALICE), "Confirm: billing")
    sandbox.settle()
    sandbox.settle()  # more passes: still one note, not one per tick
    assert the_item(sandbox, "r-1").status == "assigned"
    assert len(sandbox.channel_messages("C0ESCALATE")) == 1
    assert not sandbox.dm(CARA) and not sandbox.dm(DAN)

    commanded(sandbox, BOB, "resume")
    sandbox.settle()
    assert reviewers_of(sandbox, "r-1") == {ALICE, BOB}
    assert the_item(sandbox, "r-1").understaffed is None
    assert events(sandbox, "staffed")
    press(sandbox, BOB, sandbox.latest_dm(BOB), "Confirm: billing")
    sandbox.settle()
    assert the_item(sandbox, "r-1").status == "signed_off"
    assert len(sandbox.channel_messages("C0ESCALATE")) == 1
    assert not sandbox.dm(LEADS[0])  # told in the leads' channel, not also by DM
    assert_slack_accepted_everything(sandbox)


def open_counts(sandbox) -> Counter:
    return Counter(a.reviewer_id for a in assignments(sandbox) if a.status == "pending")


def test_max_open_holds_under_a_burst_of_200_items(sandbox, tmp_path):
    config = kind_config(
        "support-intent",
        reviewers=[{"id": r, "max_open": 5} for r in REVIEWERS],
        overlap=1,
        escalation_channel="C0ESCALATE",
    )
    start(sandbox, tmp_path, config, [item(n) for n in range(200)])
    assert open_counts(sandbox) == dict.fromkeys(REVIEWERS, 5)
    [row] = dispatch_problems(sandbox.ctx.engine, "support-intent").waiting
    assert (row.reason, row.items) == ("understaffed: 0 of 4 reviewers available", 180)
    # Busy people are not news: the leads are not told about items that only wait.
    assert sandbox.channel_messages("C0ESCALATE") == []

    # Each answer frees a slot, which the next waiting item (oldest first) takes.
    for _ in range(3):
        for reviewer in REVIEWERS:
            press(sandbox, reviewer, sandbox.dm(reviewer)[-5], "Confirm: billing")
        sandbox.settle()
        assert open_counts(sandbox) == dict.fromkeys(REVIEWERS, 5)
    given = sorted(
        int(i.external_id.split("-")[1]) for i in _items(sandbox) if i.status != "queued"
    )
    assert given == list(range(32))
    assert_slack_accepted_everything(sandbox)


def _items(sandbox) -> list[Item]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Item)))


def test_max_open_holds_with_two_dispatchers_at_once(sandbox, tmp_path, clock):
    config = kind_config(
        "support-intent", reviewers=[{"id": r, "max_open": 3} for r in REVIEWERS], overlap=2
    )
    apply(sandbox.ctx.engine, config)
    import_file(
        sandbox.ctx.engine, write_items(tmp_path / "burst.jsonl", [item(n) for n in range(60)])
    )
    errors: list[BaseException] = []

    def dispatch() -> None:
        try:
            dispatch_queued(sandbox.ctx.engine, clock=clock)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    pending = [a for a in assignments(sandbox) if a.status == AssignmentStatus.PENDING]
    assert Counter(a.reviewer_id for a in pending) == dict.fromkeys(REVIEWERS, 3)
    per_item = Counter(a.item_id for a in pending)
    assert set(per_item.values()) <= {1, 2}
