"""Events API listeners."""

from slack_bolt import App

from bot.runtime.context import QuorumContext
from bot.slack import ids
from handlers.events.app_home import make_app_home_listener


def register(app: App, ctx: QuorumContext) -> None:
    app.event(ids.APP_HOME_OPENED)(make_app_home_listener(ctx))
