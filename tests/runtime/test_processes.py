"""Serving processes: `quorum serve --workers 2 --no-background` (two web processes on
one port, supervised) with a `quorum worker` running the background loops, on one
PostgreSQL; and what `serve` and `worker` refuse."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli.main import app
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_requests import SlackRequestSender
from storage.db import make_engine
from storage.models import Assignment, Item, ItemStatus, OutboxMessage, OutboxStatus, Response
from tests.factories import (
    PROCESS_SECRET,
    free_port,
    healthy,
    import_samples,
    posted_keys,
    process_world,
    quorum_process,
    review_dms_sent,
    wait_for,
)

ITEMS = 40
REVIEWERS = [f"U0R{n}" for n in range(1, 9)]
SECRET = PROCESS_SECRET


def quorum(args: list[str], database_url: str, emulator: SlackEmulator, workdir: Path, **env: str):  # type: ignore[no-untyped-def]
    defaults = {"QUORUM_DELIVERY_LEASE_S": "10", "QUORUM_PACING_SCALE": "100"}
    return quorum_process(args, database_url, emulator, workdir, **{**defaults, **env})


def web_children(pid: int) -> set[int]:
    """The web processes a `quorum serve --workers N` supervises (Linux /proc)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                found.add(int(child))
    return found


@pytest.mark.postgres
def test_two_web_processes_and_a_worker_deliver_and_record_a_burst_exactly_once(
    postgres_url, tmp_path: Path
):
    postgres_url = f"{postgres_url}?options=-csynchronous_commit%3Doff"  # test-only speed
    engine = make_engine(postgres_url)
    emulator = process_world(engine, REVIEWERS)
    processes: list[subprocess.Popen] = []
    try:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        serve_args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        web = quorum(
            [*serve_args, "--workers", "2", "--no-background"], postgres_url, emulator, tmp_path
        )
        processes += [web, quorum(["worker"], postgres_url, emulator, tmp_path)]
        wait_for(lambda: healthy(url), what="the web processes")
        wait_for(lambda: len(web_children(web.pid)) == 2, what="two web processes")

        import_samples(engine, tmp_path, "p", ITEMS)
        wait_for(
            lambda: review_dms_sent(engine, ITEMS * 3), timeout_s=90, what="the review requests"
        )
        with Session(engine) as session:
            senders = {
                row.result["sender"].rsplit("-", 1)[0]
                for row in session.exec(select(OutboxMessage))
            }
        assert len(senders) == 1  # only the worker delivers: the web processes have no loops

        # A burst: every DM answered at once from many connections, every fifth click
        # delivered twice (Slack's redelivery), spread over both web processes.
        clicks = [
            (user, message)
            for user in REVIEWERS
            for message in emulator.messages(emulator.dm_channel(user))
        ]
        assert len(clicks) == ITEMS * 3
        clicks += clicks[::5]

        def click(pair) -> int:  # type: ignore[no-untyped-def]
            user, message = pair
            sender = SlackRequestSender(f"{url}/slack/events", SECRET, emulator=emulator)
            return sender.click(user, message, text="Confirm: billing").status

        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = Counter(pool.map(click, clicks))
        assert statuses == Counter({200: len(clicks)})

        def all_signed_off_and_sent() -> bool:
            with Session(engine) as session:
                items = Counter(session.exec(select(Item.status)).all())
                outbox = set(session.exec(select(OutboxMessage.status)).all())
            return items == Counter({ItemStatus.SIGNED_OFF: ITEMS}) and outbox <= {
                OutboxStatus.SENT
            }

        wait_for(
            all_signed_off_and_sent, timeout_s=90, what="every item signed off, every update sent"
        )

        # A web process that dies is replaced; the port keeps answering.
        victim = min(web_children(web.pid))
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: len(web_children(web.pid) - {victim}) == 2 and healthy(url),
            timeout_s=30,
            what="a replacement web process",
        )
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        exits = [process.wait(timeout=60) for process in processes]
        emulator.stop()

    assert exits == [0, 0]  # SIGTERM: a clean stop, web processes included
    with Session(engine) as session:
        responses = session.exec(select(Response)).all()
        assert len(responses) == ITEMS * 3
        assert len({r.assignment_id for r in responses}) == ITEMS * 3
        assert set(Counter(a.item_id for a in session.exec(select(Assignment))).values()) == {3}
    keys = posted_keys(emulator)
    assert len([k for k in keys if k.startswith("review:")]) == ITEMS * 3
    assert set(keys.values()) == {1}  # nothing posted twice
    # Every DM shows its answer: through the click's response_url, or chat.update.
    updates = [c for c in emulator.calls_to("chat.update") if c.status == 200]
    shown = {(c.args["channel"], c.args["ts"]) for c in updates}
    shown |= {
        (p["binding"]["channel"], p["binding"]["message_ts"])
        for p in emulator.response_posts()
        if p["payload"].get("replace_original")
    }
    assert len(shown) == ITEMS * 3
    engine.dispose()


# -- what the commands refuse ----------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return monkeypatch


def test_several_web_processes_need_postgresql(env):
    env.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    env.setenv("SLACK_SIGNING_SECRET", "s")
    result = runner.invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2 and "--workers needs PostgreSQL" in result.output


def test_several_web_processes_are_for_http_mode(env):
    env.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    env.setenv("SLACK_APP_TOKEN", "xapp-x")
    result = runner.invoke(app, ["serve", "--workers", "3"])
    assert result.exit_code == 2 and "Socket Mode" in result.output


def test_worker_needs_the_bot_token_but_not_the_signing_secret(env):
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 2 and "SLACK_BOT_TOKEN is not set" in result.output
    assert "SIGNING" not in result.output
