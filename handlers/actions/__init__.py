"""Block action listeners: button clicks and menu choices in messages and views."""

from slack_bolt import App

from bot.runtime.context import QuorumContext
from bot.slack import ids
from handlers.actions import escalation, reviewing
from handlers.actions.answer import make_answer_listener


def register(app: App, ctx: QuorumContext) -> None:
    app.action(ids.ANSWER_PATTERN)(make_answer_listener(ctx))
    reviewing.register(app, ctx)
    escalation.register(app, ctx)
