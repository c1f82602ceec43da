"""Slack listeners only: parse the payload, ack, call one bot/ service, render."""

from bot.context import QuorumContext
from handlers import actions, middleware


def register_listeners(app, ctx: QuorumContext) -> None:  # type: ignore[no-untyped-def]
    middleware.register(app, ctx)
    actions.register(app, ctx)
