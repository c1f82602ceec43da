"""Delivery fixtures: the real Bolt app and delivery worker against the Slack emulator,
with reviewers in chosen time zones and a frozen clock."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.sandbox.harness import SlackSandbox
from bot.sandbox.slack_emulator import SlackEmulator
from storage.models import Assignment, Event, Item, OutboxMessage
from tests.conftest import apply, label_config
from tests.workflow.test_label_loop import conversation, import_file, write_items

REVIEWERS = ["U01ALICE", "U02BOB", "U03CARA", "U04DAN"]
LEAD = "U09LEAD"


@contextmanager
def slack_world(
    database_url: str,
    clock,  # type: ignore[no-untyped-def]
    *,
    time_zones: dict[str, tuple[str, int]] | None = None,
    **settings: object,
) -> Iterator[SlackSandbox]:
    """A sandbox whose emulator knows the reviewers (London unless told otherwise)."""
    emulator = SlackEmulator(bot_token="xoxb-emulator-token").start()
    for user in [*REVIEWERS, LEAD]:
        tz, offset = (time_zones or {}).get(user, ("Europe/London", 0))
        emulator.add_user(user, tz=tz, tz_offset=offset)
    for channel in ("C0ESCALATE", "C0DIGEST"):
        emulator.add_channel(channel, channel.lower())
    sandbox = SlackSandbox(
        database_url, clock=clock, emulator=emulator, settings_overrides=settings
    )
    try:
        with sandbox:
            yield sandbox
    finally:
        emulator.stop()


@pytest.fixture
def world(database_url: str, clock) -> Iterator[SlackSandbox]:  # type: ignore[no-untyped-def]
    with slack_world(database_url, clock) as sandbox:
        yield sandbox


def start_items(sandbox: SlackSandbox, tmp_path: Path, count: int = 1, **config: object) -> None:
    """Apply the label project and import `count` items for humans (not settled)."""
    apply(sandbox.ctx.engine, label_config(**config))
    items = [
        {
            "id": f"t-{n}",
            "conversation": conversation(f"question number {n}"),
            "prediction": {"label": "billing", "confidence": 0.5, "model": "intent-v3"},
        }
        for n in range(1, count + 1)
    ]
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))


def posted_keys(emulator: SlackEmulator) -> Counter:
    """Idempotency key -> how many chat.postMessage calls Slack accepted with it."""
    counts: Counter = Counter()
    for call in emulator.calls_to("chat.postMessage"):
        if call.status != 200 or not call.response.get("ok"):
            continue
        metadata = call.args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        counts[metadata["event_payload"]["idempotency_key"]] += 1
    return counts


def outbox_rows(sandbox: SlackSandbox) -> list[OutboxMessage]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def assignments(sandbox: SlackSandbox) -> list[Assignment]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Assignment).order_by(Assignment.id)))


def items(sandbox: SlackSandbox) -> list[Item]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Item).order_by(Item.id)))


def events(sandbox: SlackSandbox, kind: str) -> list[Event]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(Event.id)))


def top_level_dms(sandbox: SlackSandbox, user: str) -> list[dict]:
    return [m for m in sandbox.dm(user) if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]


def thread_replies(sandbox: SlackSandbox, user: str) -> list[dict]:
    return [m for m in sandbox.dm(user) if m.get("thread_ts") and m["thread_ts"] != m["ts"]]
