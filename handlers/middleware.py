"""Global listeners' middleware: refuse requests from any workspace but the bot's own, and
drop Slack's redeliveries of events already handled."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse

from bot.runtime.context import QuorumContext, Workspace
from bot.slack import ids
from bot.slack.inbound import reply_url_trusted, reply_urls, trusted_reply_hosts, valid_event_id
from bot.workflow.deliveries import first_delivery

log = logging.getLogger(__name__)


def bound_workspace(ctx: QuorumContext, context: BoltContext) -> Workspace | None:
    """The bot's workspace: learned at start (Runtime.bind_workspace), else from the
    auth.test Bolt made for this request (Socket Mode)."""
    if ctx.workspace is None and context.authorize_result is not None:
        auth = context.authorize_result
        if auth.team_id or auth.enterprise_id:
            ctx.workspace = Workspace(
                team_id=auth.team_id or "",
                enterprise_id=auth.enterprise_id or None,
                enterprise_install=bool(context.is_enterprise_install and auth.enterprise_id),
            )
    return ctx.workspace


def register(app: App, ctx: QuorumContext) -> None:
    @app.middleware
    def own_workspace_only(
        context: BoltContext,
        next: Callable[[], BoltResponse],  # noqa: A002
    ) -> BoltResponse | None:
        workspace = bound_workspace(ctx, context)
        if workspace is None or not workspace.admits(context.team_id, context.enterprise_id):
            log.warning(
                "refused a request from another workspace (team=%s enterprise=%s)",
                context.team_id,
                context.enterprise_id,
            )
            return BoltResponse(status=403, body="")
        return next()

    trusted = trusted_reply_hosts(ctx.settings.slack_api_url)

    @app.middleware
    def own_reply_urls_only(body: dict, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        # The bot POSTs its answers to a request's response_url: only to Slack's own.
        if not all(reply_url_trusted(url, trusted) for url in reply_urls(body)):
            log.warning("refused a request whose response_url is not Slack's")
            return BoltResponse(status=400, body="")
        return next()

    @app.middleware
    def dedupe_events(body: dict, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        event = body.get("event")
        if isinstance(event, dict) and event.get("type") not in ids.EVENTS:
            return next()  # no listener: Bolt answers 404 and nothing is remembered
        if "event_id" in body:
            event_id = valid_event_id(body["event_id"])
            if event_id is None:
                log.info("refused an event with a malformed event_id")
                return BoltResponse(status=400, body="")
            if not first_delivery(ctx, event_id):
                return BoltResponse(status=200, body="")
        return next()
