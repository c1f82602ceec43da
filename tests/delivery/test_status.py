"""`quorum status` shows the outbox: backlog, oldest waiting message, retries, failures."""

from __future__ import annotations

from rich.console import Console
from typer.testing import CliRunner

from bot.cli.render.delivery import delivery_status_table
from tests.factories import slack_world, start_items


def render(table) -> str:  # type: ignore[no-untyped-def]
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def rows_of(text: str) -> dict[str, str]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) >= 2:
            rows[cells[0]] = cells[1:]
    return rows


def test_status_shows_backlog_retries_and_failures(database_url, clock, tmp_path):
    zones = {"U04DAN": ("America/Los_Angeles", -28800)}
    with slack_world(database_url, clock, time_zones=zones) as sandbox:
        emulator = sandbox.emulator
        emulator.fail_next("chat.postMessage", status=500, error="internal_error")
        start_items(sandbox, tmp_path, count=2, overlap=4)
        sandbox.settle()  # Dan is asleep; one post hit a 500
        text = render(delivery_status_table(sandbox.ctx.engine, clock.now()))
        rows = rows_of(text)
        assert rows["waiting to send"][0] == "3"  # Dan's two DMs and the retry
        assert rows["held for work hours or pacing"][0] == "2"
        assert rows["retrying after an error"][0] == "1" and "internal_error x1" in text
        assert rows["failed for good"][0] == "0"
        assert "oldest queued 0 s ago: review:assignment:" in text and "(item t-1)" in text
        emulator.fail_next("chat.postMessage", error="account_inactive", status=200)
        clock.advance(seconds=2)
        sandbox.settle()
        rows = rows_of(render(delivery_status_table(sandbox.ctx.engine, clock.now())))
        assert rows["failed for good"][0] == "1" and rows["retrying after an error"][0] == "0"


def test_quorum_status_prints_the_outbox_table(database_url, clock, tmp_path, monkeypatch):
    from bot.cli.main import app

    with slack_world(database_url, clock) as sandbox:
        start_items(sandbox, tmp_path)
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "Slack delivery (outbox)" in result.output and "waiting to send" in result.output
