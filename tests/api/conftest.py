"""The REST API as `quorum serve` serves it: the real Bolt app and the API in one Starlette
app under uvicorn (bot/runtime/server.py), on loopback HTTP, against the Slack emulator,
on both backends. Requests go through httpx; Slack's requests through the signed sender.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.api.app import build_api
from bot.api.tokens import create_token
from bot.runtime.server import HttpLimits, HttpServer
from bot.sandbox.harness import SANDBOX_SECRET, SlackSandbox
from bot.sandbox.slack_requests import SlackRequestSender
from storage.db import session_scope
from tests.factories import apply, conversation, kind_config, slack_world

PROJECT = "support-intent"


def item(n: int | str, text: str | None = None, **fields: Any) -> dict[str, Any]:
    """An item of the support-intent project, as a JSONL line holds it."""
    return {
        "id": f"t-{n}",
        "conversation": conversation(text or f"question number {n}"),
        "prediction": {"label": "billing", "confidence": 0.5, "model": "intent-v3"},
        **fields,
    }


@dataclass
class ApiWorld:
    sandbox: SlackSandbox
    server: HttpServer

    @property
    def url(self) -> str:
        return f"{self.server.url}/api/v1"

    def token(self, scope: str = "write", project: str = PROJECT) -> str:
        with session_scope(self.sandbox.ctx.engine) as session:
            made = create_token(
                session, project=project, scope=scope, name=None, now=self.sandbox.clock.now()
            )
        return made.token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def api_world(database_url: str, clock: Any, **settings: Any) -> Iterator[ApiWorld]:
    """The sandbox's Bolt app served together with the API (as Runtime.start_http will
    serve them), the support-intent project applied; the sandbox's sender posts to it."""
    with slack_world(database_url, clock, **settings) as sandbox:
        assert sandbox.runtime is not None
        server = HttpServer(
            sandbox.runtime.app,
            signing_secret=SANDBOX_SECRET,
            port=0,
            limits=HttpLimits.from_settings(sandbox.ctx.settings),
            api=build_api(sandbox.ctx),
        ).start()
        sandbox.sender = SlackRequestSender(
            f"{server.url}/slack/events", SANDBOX_SECRET, emulator=sandbox.emulator
        )
        apply(sandbox.ctx.engine, kind_config(PROJECT))
        try:
            yield ApiWorld(sandbox, server)
        finally:
            server.stop()


@pytest.fixture
def open_world(database_url: str, clock: Any) -> Callable[..., AbstractContextManager[ApiWorld]]:
    """`with open_world(quorum_api_rate=1) as world:`: a world with these settings."""
    return lambda **settings: api_world(database_url, clock, **settings)


@pytest.fixture
def world(database_url: str, clock: Any) -> Iterator[ApiWorld]:
    with api_world(database_url, clock) as running:
        yield running


@pytest.fixture
def writer(world: ApiWorld) -> Iterator[httpx.Client]:
    """A client with a write token of the project."""
    with world.client(world.token("write")) as client:
        yield client
