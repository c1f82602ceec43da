"""View submission listeners: modals the bot opened."""

from slack_bolt import App

from bot.runtime.context import QuorumContext
from handlers.views import decide, reviewing


def register(app: App, ctx: QuorumContext) -> None:
    decide.register(app, ctx)
    reviewing.register(app, ctx)
