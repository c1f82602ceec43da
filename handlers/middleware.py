"""Global listeners' middleware: drop Slack's redeliveries of events already handled."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltResponse

from bot.runtime.context import QuorumContext
from bot.workflow.deliveries import first_delivery


def register(app: App, ctx: QuorumContext) -> None:
    @app.middleware
    def dedupe_events(body: dict, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        event_id = body.get("event_id")
        if event_id and not first_delivery(ctx, event_id):
            return BoltResponse(status=200, body="")
        return next()
