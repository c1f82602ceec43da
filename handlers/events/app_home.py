"""Someone opened the app's Home tab: publish their queue (and, for leads, escalations)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime.context import QuorumContext
from bot.slack import inbound
from bot.workflow.review import interactions
from handlers._refuse import ignore


def make_app_home_listener(ctx: QuorumContext) -> Callable[..., None]:
    def on_home_opened(
        body: dict[str, Any], event: dict[str, Any], client: WebClient, logger: logging.Logger
    ) -> None:
        opened = inbound.app_home_opened(event)
        if opened is None:
            return ignore(body, "a malformed app_home_opened event")
        if opened.tab not in (None, "home"):
            return  # the Messages tab
        user = opened.user

        def timezone() -> tuple[str | None, int | None]:
            profile = client.users_info(user=user)["user"]
            return profile.get("tz"), profile.get("tz_offset")

        view = interactions.home_view(ctx, user_id=user, timezone_lookup=timezone)
        try:
            # With the hash of the view Slack showed, a newer one published meanwhile
            # (after an answer) is not overwritten by this older request.
            client.views_publish(user_id=user, view=view, hash=opened.view_hash)
        except SlackApiError as exc:
            if exc.response.get("error") != "hash_conflict":
                raise
            logger.info("home not republished: a newer view is showing")

    return on_home_opened
