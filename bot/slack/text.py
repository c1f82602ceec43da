"""Turning sample text into safe, bounded Slack mrkdwn."""

from __future__ import annotations

SECTION_LIMIT = 3000
ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control sequences.

    Without this a sample containing `<!channel>` would ping a whole channel and
    `<https://evil|click me>` would render as a disguised link.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int, *, marker: str = "…") -> tuple[str, bool]:
    """Cut text to at most `limit` characters without splitting an escape sequence and
    keeping code fences balanced; return (text, was_cut)."""
    if len(text) <= limit:
        return text, False
    cut = text[: limit - len(marker) - 4]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    if cut.count("```") % 2 == 1:
        cut += "\n```"
    return cut + marker, True


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role.capitalize())


def format_turn(turn: dict) -> str:
    return (
        f"*{role_name(str(turn.get('role', '')))}:*\n{escape_mrkdwn(str(turn.get('content', '')))}"
    )
