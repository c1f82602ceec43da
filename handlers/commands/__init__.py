"""Slash command listeners."""

from slack_bolt import App

from bot.runtime.context import QuorumContext
from bot.slack import ids
from handlers.commands.quorum import make_quorum_command


def register(app: App, ctx: QuorumContext) -> None:
    app.command(ids.COMMAND)(make_quorum_command(ctx))
