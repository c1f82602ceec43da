"""Slash command listeners."""

from bot.runtime.context import QuorumContext
from bot.slack import ids
from handlers.commands.quorum import make_quorum_command


def register(app, ctx: QuorumContext) -> None:  # type: ignore[no-untyped-def]
    app.command(ids.COMMAND)(make_quorum_command(ctx))
