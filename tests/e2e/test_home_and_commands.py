"""App Home for reviewers and leads, and the /quorum command."""

from __future__ import annotations

import json

from bot.delivery.outbox import HOME_REFRESH_DELAY
from bot.slack import ids
from tests.factories import (
    LEADS,
    REVIEWERS,
    assert_slack_accepted_everything,
    assignments,
    conversation,
    events,
    kind_config,
    outbox_rows,
    press,
    shown,
    start,
    texts,
)

LEAD = LEADS[0]


def items(count: int) -> list[dict]:
    return [
        {
            "id": f"si-{n}",
            "conversation": conversation(f"Question number {n}"),
            "prediction": {"label": "billing", "confidence": 0.5, "model": "intent-v3"},
        }
        for n in range(count)
    ]


def open_home(sandbox, user: str) -> dict:
    response = sandbox.sender.app_home_opened(user)
    assert response.status == 200
    home = sandbox.emulator.home_view(user)
    assert home is not None
    return home


def commanded(sandbox, user: str, text: str) -> str:
    before = len(sandbox.emulator.ephemerals(user))
    response = sandbox.sender.slash_command(user, text)
    assert response.status == 200
    answers = sandbox.emulator.ephemerals(user)[before:]
    assert len(answers) == 1, answers
    return answers[0]["text"]


def test_home_shows_the_queue_oldest_first_with_counts(sandbox, tmp_path, clock):
    config = kind_config("support-intent", overlap=4)
    start(sandbox, tmp_path, config, items(1))
    clock.advance(hours=1)
    start(sandbox, tmp_path, config, items(3)[1:])
    user = REVIEWERS[0]
    first = next(m for m in sandbox.dm(user) if "Question number 0" in shown(m))
    press(sandbox, user, first, "bug")
    sandbox.settle()

    home = open_home(sandbox, user)
    text = shown(home)
    assert "*2* waiting for you · answered *1* today, *1* this week" in text
    assert text.index("item `si-1`") < text.index("item `si-2`")
    assert "item `si-0`" not in text  # answered: no longer in the queue
    assert texts(home).count("Open") == 2
    assert "Pause my reviews" in texts(home)
    assert "Open escalations" not in text  # not a lead
    assert sandbox.emulator.calls_to("users.info")  # time zone looked up once, for "today"
    assert_slack_accepted_everything(sandbox)


def test_open_reposts_the_item_at_the_bottom_of_the_dm(sandbox, tmp_path):
    start(sandbox, tmp_path, kind_config("support-intent", overlap=4), items(2))
    user = REVIEWERS[0]
    home = open_home(sandbox, user)
    old = next(m for m in sandbox.dm(user) if "Question number 0" in shown(m))
    response = sandbox.sender.click_in_view(user, home, text="Open")
    assert response.status == 200
    sandbox.settle()
    newest = sandbox.latest_dm(user)
    assert "Question number 0" in shown(newest) and newest["ts"] != old["ts"]
    assert "newer message below" in shown(sandbox.emulator.message(old["channel"], old["ts"]))
    press(sandbox, user, newest, "Confirm: billing")
    sandbox.settle()
    assert "Recorded *billing*" in shown(sandbox.latest_dm(user))  # updates follow the new copy


def settle_home(sandbox, clock) -> None:  # type: ignore[no-untyped-def]
    """Let the Home publish queued after a change fall due, and send it."""
    clock.advance(seconds=HOME_REFRESH_DELAY.total_seconds())
    sandbox.settle()


def publishes_to(sandbox, user: str) -> list[dict]:
    return [
        json.loads(c.args["view"]) if isinstance(c.args["view"], str) else c.args["view"]
        for c in sandbox.emulator.calls_to("views.publish")
        if c.args.get("user_id") == user and c.response.get("ok")
    ]


def test_home_refreshes_after_each_answer(sandbox, tmp_path, clock):
    start(sandbox, tmp_path, kind_config("support-intent", overlap=4), items(3))
    user = REVIEWERS[1]
    open_home(sandbox, user)
    press(sandbox, user, sandbox.dm(user)[0], "bug")
    settle_home(sandbox, clock)
    home = sandbox.emulator.home_view(user)
    assert "*2* waiting for you · answered *1* today" in shown(home)

    # Two answers before the worker runs: one publish, with the newer view.
    publishes = len(sandbox.emulator.calls_to("views.publish"))
    press(sandbox, user, sandbox.dm(user)[1], "bug")
    press(sandbox, user, sandbox.dm(user)[2], "bug")
    settle_home(sandbox, clock)
    assert len(sandbox.emulator.calls_to("views.publish")) == publishes + 1
    assert "*0* waiting for you · answered *3* today" in shown(sandbox.emulator.home_view(user))


def test_a_burst_of_answers_publishes_home_a_few_times_ending_with_the_final_counts(
    sandbox, tmp_path, clock
):
    """20 answers, half a second apart, the delivery worker keeping up after each: the
    Home is not rebuilt per answer but published every few seconds, and the last publish
    shows the state after the last answer."""
    start(sandbox, tmp_path, kind_config("support-intent", overlap=4), items(20))
    user = REVIEWERS[2]
    requests = [m for m in sandbox.dm(user) if texts(m, block_prefix="answer:")]
    assert len(requests) == 20
    for message in requests:
        press(sandbox, user, message, "bug")
        clock.advance(seconds=0.5)
        sandbox.settle()
    settle_home(sandbox, clock)

    published = publishes_to(sandbox, user)
    # 10 s of answers, one publish at most every HOME_REFRESH_DELAY, and the last one.
    assert 1 <= len(published) <= 5
    assert "*0* waiting for you · answered *20* today" in shown(published[-1])
    assert "*0* waiting for you · answered *20* today" in shown(sandbox.emulator.home_view(user))
    assert all(a.status == "answered" for a in assignments(sandbox) if a.reviewer_id == user)
    assert not [r for r in outbox_rows(sandbox) if r.status != "sent"]  # nothing left over
    assert_slack_accepted_everything(sandbox)


def test_agreement_with_final_labels(sandbox, tmp_path):
    given = start(sandbox, tmp_path, kind_config("support-intent", agreement=0.6), items(1))
    picks = dict(zip(given, ["Confirm: billing", "Confirm: billing", "bug"], strict=True))
    for user, pick in picks.items():
        press(sandbox, user, sandbox.latest_dm(user), pick)
    sandbox.settle()
    for user, pick in picks.items():
        expected = "*100%* of 1" if pick.endswith("billing") else "*0%* of 1"
        assert f"agreement with final labels: {expected}" in commanded(sandbox, user, "stats")
        assert "agreement with final labels *" in shown(open_home(sandbox, user))


def test_lead_home_lists_open_escalations_and_flags(sandbox, tmp_path):
    config = kind_config("support-intent", agreement=0.9)
    given = start(sandbox, tmp_path, config, items(1))
    press(sandbox, given[0], sandbox.latest_dm(given[0]), "Flag")
    modal = sandbox.emulator.views_opened()[-1]
    sandbox.sender.submit_view(
        given[0], modal, {ids.FLAG_REASON_BLOCK: {ids.CHOICE_INPUT: "personal_data"}}
    )
    for user, pick in zip(given, ["Confirm: billing", "bug", "account"], strict=True):
        press(sandbox, user, sandbox.latest_dm(user), pick)
    sandbox.settle()
    home = open_home(sandbox, LEAD)
    text = shown(home)
    assert "Open escalations" in text
    assert "*support-intent* · item `si-0`" in text
    assert "<#C0ESCALATE>" in text
    assert "Recently flagged items" in text
    assert f"Contains personal data · flagged by <@{given[0]}>" in text
    assert "Your review queue" not in text  # a lead who reviews nothing sees only their part
    assert_slack_accepted_everything(sandbox)


def test_quorum_help_and_unknown_subcommands(sandbox):
    assert "/quorum next" in commanded(sandbox, REVIEWERS[0], "help")
    unknown = commanded(sandbox, REVIEWERS[0], "dance")
    assert "I don't know `dance`" in unknown and "/quorum pause" in unknown
    assert "/quorum stats" in commanded(sandbox, REVIEWERS[0], "")
    assert all(e["is_ephemeral"] for e in sandbox.emulator.ephemerals(REVIEWERS[0]))


def test_quorum_next_resends_the_oldest_item(sandbox, tmp_path):
    start(sandbox, tmp_path, kind_config("support-intent", overlap=4), items(2))
    user = REVIEWERS[2]
    before = len(sandbox.dm(user))
    answer = commanded(sandbox, user, "next")
    assert "Sent you item `si-0` of *support-intent*" in answer and "1 more after it" in answer
    sandbox.settle()
    assert len(sandbox.dm(user)) == before + 1
    assert "Question number 0" in shown(sandbox.latest_dm(user))
    for message in sandbox.dm(user):
        if texts(message, block_prefix="answer:"):
            press(sandbox, user, message, "bug")
    assert "Nothing is waiting for you" in commanded(sandbox, user, "next")


def test_quorum_stats(sandbox, tmp_path):
    start(sandbox, tmp_path, kind_config("support-intent", overlap=4), items(2))
    user = REVIEWERS[3]
    press(sandbox, user, sandbox.dm(user)[0], "bug")
    stats = commanded(sandbox, user, "stats")
    assert "waiting for you: *1*" in stats
    assert "answered today: *1*, this week: *1*, in all: *1*" in stats


def test_quorum_pause_moves_open_items_and_resume_brings_them_back(sandbox, tmp_path):
    given = start(sandbox, tmp_path, kind_config("support-intent", overlap=3), items(2))
    user = given[0]
    spare = [u for u in REVIEWERS if u not in given]
    mine = [a for a in assignments(sandbox) if a.reviewer_id == user]
    assert mine

    answer = commanded(sandbox, user, "pause")
    assert "Paused" in answer and f"your {len(mine)} open" in answer
    sandbox.settle()
    statuses = {a.id: a.status for a in assignments(sandbox)}
    assert all(statuses[a.id] == "reassigned" for a in mine)
    assert len(events(sandbox, "reassigned")) == len(mine)
    assert events(sandbox, "paused")
    assert all("moved to another reviewer" in shown(m) for m in sandbox.dm(user))
    if spare:
        assert sandbox.dm(spare[0])  # the items went to someone who was free
    assert "already paused" in commanded(sandbox, user, "pause")
    assert "paused" in commanded(sandbox, user, "stats")

    start(sandbox, tmp_path, kind_config("support-intent", overlap=3), items(4)[2:])
    assert not any(a.reviewer_id == user and a.status == "pending" for a in assignments(sandbox))
    assert "Welcome back" in commanded(sandbox, user, "resume")
    assert events(sandbox, "resumed")
    assert "were not paused" in commanded(sandbox, user, "resume")
    assert_slack_accepted_everything(sandbox)


def test_pause_and_resume_from_app_home(sandbox, tmp_path):
    start(sandbox, tmp_path, kind_config("support-intent", overlap=3), items(1))
    user = REVIEWERS[0]
    home = open_home(sandbox, user)
    sandbox.sender.click_in_view(user, home, text="Pause my reviews")
    home = sandbox.emulator.home_view(user)
    assert "Your reviews are paused" in shown(home)
    sandbox.sender.click_in_view(user, home, text="Resume my reviews")
    assert "Pause my reviews" in texts(sandbox.emulator.home_view(user))
    assert_slack_accepted_everything(sandbox)
