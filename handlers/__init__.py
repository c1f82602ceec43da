"""Slack listeners only: parse the payload, ack, call one bot/ service, render."""

from slack_bolt import App

from bot.runtime.context import QuorumContext
from handlers import actions, commands, errors, events, middleware, views


def register_listeners(app: App, ctx: QuorumContext) -> None:
    errors.register(app)
    middleware.register(app, ctx)
    actions.register(app, ctx)
    views.register(app, ctx)
    commands.register(app, ctx)
    events.register(app, ctx)
