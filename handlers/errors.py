"""The one error boundary of every listener: Bolt calls it when a listener or middleware
raises, and still answers Slack with its error response (500 unless already acked)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App


def describe_request(body: dict[str, Any]) -> str:
    """What was being handled, for the log: the request type, the action, view, command or
    event it named, the user and the team. Never a payload body or what a person typed."""
    event = body.get("event") or {}
    parts = [f"type={body.get('type') or ('slash_command' if body.get('command') else '?')}"]
    actions = [a.get("action_id") for a in body.get("actions") or [] if isinstance(a, dict)]
    if actions:
        parts.append(f"action_id={','.join(str(a) for a in actions)}")
    view = body.get("view") or {}
    if body.get("type") == "view_submission" and view.get("callback_id"):
        parts.append(f"callback_id={view['callback_id']}")
    if body.get("command"):
        parts.append(f"command={body['command']}")
    if event.get("type"):
        parts.append(f"event={event['type']}")
    user = body.get("user")
    user_id = (user or {}).get("id") if isinstance(user, dict) else user
    user_id = user_id or body.get("user_id") or event.get("user")
    if user_id:
        parts.append(f"user={user_id}")
    team = body.get("team")
    team_id = (team or {}).get("id") if isinstance(team, dict) else team
    team_id = team_id or body.get("team_id")
    if team_id:
        parts.append(f"team={team_id}")
    return " ".join(parts)


def log_listener_failure(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
    logger.error("listener failed (%s)", describe_request(body), exc_info=error)


def register(app: App) -> None:
    app.error(log_listener_failure)
