"""The offline Slack harness: the emulator, the real Bolt app served over loopback HTTP,
and a signed-request sender, wired together for tests and `quorum demo`."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from bot.delivery.outbox import wake_delivery
from bot.runtime.app import Runtime
from bot.runtime.clock import SYSTEM_CLOCK, Clock
from bot.runtime.context import QuorumContext
from bot.runtime.settings import Settings
from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_requests import SlackRequestSender
from bot.workflow.intake.dispatch import dispatch_queued
from storage.db import make_engine, upgrade_schema

SANDBOX_TOKEN = "xoxb-emulator-token"
SANDBOX_SECRET = "sandbox-signing-secret"


class SlackSandbox:
    """A running Quorum talking to an emulated Slack.

    With `background=False` nothing runs on its own: `settle()` dispatches queued items
    and sends the outbox, so tests see a deterministic world. With `background=True`
    the runtime's own loops do that, as in `quorum serve`.
    """

    def __init__(
        self,
        database_url: str,
        *,
        users: Iterable[str] = (),
        channels: Iterable[str] = (),
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        background: bool = False,
        settings_overrides: dict[str, Any] | None = None,
        emulator: SlackEmulator | None = None,
    ) -> None:
        self.emulator = emulator or SlackEmulator(bot_token=SANDBOX_TOKEN)
        self._own_emulator = emulator is None
        self.database_url = database_url
        self.users = list(users)
        self.channels = list(channels)
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.background = background
        self.settings_overrides = settings_overrides or {}
        self.runtime: Runtime | None = None
        self.sender: SlackRequestSender | None = None

    def __enter__(self) -> SlackSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> SlackSandbox:
        if self._own_emulator:
            self.emulator.start()
        for user in self.users:
            self.emulator.add_user(user)
        for channel in self.channels:
            self.emulator.add_channel(channel, channel.lower())
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "slack_bot_token": SANDBOX_TOKEN,
            "slack_signing_secret": SANDBOX_SECRET,
            "slack_app_token": None,
            "slack_api_url": self.emulator.api_url,
            "quorum_delivery_interval_s": 0.05,
            "quorum_process_before_response": not self.background,
            # Rate pacing runs on the (often frozen) clock; tests of pacing turn it back on
            # with settings_overrides={"quorum_pacing_scale": 1}. 429 pauses still apply.
            "quorum_pacing_scale": 0.0,
        }
        values.update(self.settings_overrides)
        settings = Settings(_env_file=None, **values)
        engine = make_engine(settings.database_url)
        upgrade_schema(engine)
        ctx = QuorumContext(engine=engine, settings=settings, clock=self.clock, rng=self.rng)
        self.runtime = Runtime(ctx, dispatch_interval_s=0.1)
        http = self.runtime.start_http(port=0)
        if self.background:
            self.runtime.start_background()
        self.sender = SlackRequestSender(
            f"{http.url}/slack/events", SANDBOX_SECRET, emulator=self.emulator
        )
        return self

    def stop(self) -> None:
        if self.runtime:
            self.runtime.stop()
            self.runtime.ctx.engine.dispose()
        if self._own_emulator:
            self.emulator.stop()

    @property
    def ctx(self) -> QuorumContext:
        assert self.runtime is not None
        return self.runtime.ctx

    def settle(self) -> None:
        """Pre-label, dispatch queued items and send everything due, until nothing is left."""
        assert self.runtime is not None
        for _ in range(50):
            assisted = self.runtime.llm_assist.run_once()  # pre-labels, escalation summaries
            dispatched = dispatch_queued(self.ctx.engine, clock=self.clock, rng=self.rng).total
            sent = 0
            while batch := self.runtime.delivery.run_once():
                sent += batch
            if not assisted and not dispatched and not sent:
                return
        wake_delivery()

    # -- what a user sees ------------------------------------------------------------
    def dm(self, user: str) -> list[dict]:
        """The messages in the bot's DM with a user, oldest first, each with its channel."""
        channel = self.emulator.dm_channel(user)
        return [dict(m, channel=channel) for m in self.emulator.messages(channel)]

    def latest_dm(self, user: str) -> dict:
        messages = [m for m in self.dm(user) if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]
        assert messages, f"{user} has no DM from the bot"
        return messages[-1]

    def channel_messages(self, channel: str) -> list[dict]:
        return [dict(m, channel=channel) for m in self.emulator.messages(channel)]

    def wait_until(self, predicate: Callable[[], Any], *, timeout_s: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        raise TimeoutError("condition not met in time")
