"""Events API listeners."""

from bot.runtime.context import QuorumContext
from bot.slack import ids
from handlers.events.app_home import make_app_home_listener


def register(app, ctx: QuorumContext) -> None:  # type: ignore[no-untyped-def]
    app.event(ids.APP_HOME_OPENED)(make_app_home_listener(ctx))
