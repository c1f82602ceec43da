"""The one error boundary of every listener: Bolt calls it when a listener or middleware
raises, and still answers Slack with its error response (500 unless already acked)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> str | None:
    """An id fit for a log line: a short string, else nothing."""
    return value if isinstance(value, str) and 0 < len(value) <= 80 else None


def describe_request(body: dict[str, Any]) -> str:
    """What was being handled, for the log: the request type, the action, view, command or
    event it named, the user and the team. Never a payload body or what a person typed;
    a field of the wrong type or length is left out rather than trusted."""
    event = _dict(body.get("event"))
    kind = _short(body.get("type")) or ("slash_command" if body.get("command") else "?")
    parts = [f"type={kind}"]
    actions = body.get("actions")
    names = (
        [_short(_dict(a).get("action_id")) for a in (actions or [])]
        if isinstance(actions, list)
        else []
    )
    if any(names):
        parts.append(f"action_id={','.join(n for n in names if n)}")
    callback = _short(_dict(body.get("view")).get("callback_id"))
    if body.get("type") == "view_submission" and callback:
        parts.append(f"callback_id={callback}")
    if _short(body.get("command")):
        parts.append(f"command={body['command']}")
    if _short(event.get("type")):
        parts.append(f"event={event['type']}")
    user = body.get("user")
    user_id = _short(_dict(user).get("id")) or _short(user)
    user_id = user_id or _short(body.get("user_id")) or _short(event.get("user"))
    if user_id:
        parts.append(f"user={user_id}")
    team = body.get("team")
    team_id = _short(_dict(team).get("id")) or _short(team) or _short(body.get("team_id"))
    if team_id:
        parts.append(f"team={team_id}")
    return " ".join(parts)


def log_listener_failure(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
    logger.error("listener failed (%s)", describe_request(body), exc_info=error)


def register(app: App) -> None:
    app.error(log_listener_failure)
