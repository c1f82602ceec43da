"""Slack listeners only: parse the payload, ack, call one bot/ service, render."""

from bot.runtime.context import QuorumContext
from handlers import actions, commands, events, middleware, views


def register_listeners(app, ctx: QuorumContext) -> None:  # type: ignore[no-untyped-def]
    middleware.register(app, ctx)
    actions.register(app, ctx)
    views.register(app, ctx)
    commands.register(app, ctx)
    events.register(app, ctx)
