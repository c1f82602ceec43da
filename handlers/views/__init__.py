"""View submission listeners: modals the bot opened."""

from bot.runtime.context import QuorumContext
from handlers.views import decide, reviewing


def register(app, ctx: QuorumContext) -> None:  # type: ignore[no-untyped-def]
    decide.register(app, ctx)
    reviewing.register(app, ctx)
