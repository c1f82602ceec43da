"""Turning data into safe, bounded Slack mrkdwn.

`escape_mrkdwn` is the one way a string from data (sample text, ids, response ids,
names, labels, rationales, notes) enters mrkdwn or a notification `text`: Slack reads
`<!here>`, `<@U…>`, `<#C…>` and `<https://…|…>` as pings, mentions and links, and only
`&`, `<` and `>` need escaping. Its result is a `Mrkdwn`, a string that is already safe,
so escaping twice changes nothing and the wording templates (bot.slack.wording), which
escape every value they are given, leave it alone. The bot's own markup (a mention of a
validated member id, a channel link, a date token) is built here too, as `Mrkdwn`.

plain_text fields (buttons, options, headers, modal titles and labels) show text as it
is and need no escaping; they take raw strings (bot.slack.wording.say_plain).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SECTION_LIMIT = 3000
ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}

# The shapes bot.config.project accepts; anything else is shown as text, never linked.
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class Mrkdwn(str):
    """Text that is already Slack mrkdwn: escaped data and the bot's own markup.

    Only this module and the wording templates make one from data; string operations
    (slicing, f-strings, `+`) give back a plain `str`, which counts as unescaped again.
    """

    __slots__ = ()


def escape_mrkdwn(text: object) -> Mrkdwn:
    """Escape the three characters Slack treats as control sequences.

    Without this a sample containing `<!channel>` would ping a whole channel and
    `<https://evil|click me>` would render as a disguised link. Text that is already
    `Mrkdwn` is returned as it is, so nothing is escaped twice.
    """
    if isinstance(text, Mrkdwn):
        return text
    raw = str(text)
    return Mrkdwn(raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def join_mrkdwn(separator: str, items: Iterable[object]) -> Mrkdwn:
    """Items joined as mrkdwn, each escaped unless it already is."""
    return Mrkdwn(escape_mrkdwn(separator).join(escape_mrkdwn(item) for item in items))


def mention(user_id: object) -> Mrkdwn:
    """`<@U…>` for a member id; anything else (a forged or hostile id) as plain text."""
    raw = str(user_id)
    return Mrkdwn(f"<@{raw}>") if USER_ID.match(raw) else escape_mrkdwn(raw)


def channel_link(channel_id: object) -> Mrkdwn:
    """`<#C…>` for a channel id; anything else as plain text."""
    raw = str(channel_id)
    return Mrkdwn(f"<#{raw}>") if CHANNEL_ID.match(raw) else escape_mrkdwn(raw)


def date_token(timestamp: int, token_format: str, fallback: str) -> Mrkdwn:
    """Slack's `<!date^…>`: a time each reader sees in their own zone, with a fallback."""
    return Mrkdwn(f"<!date^{int(timestamp)}^{token_format}|{escape_mrkdwn(fallback)}>")


def same_kind(original: str, result: str) -> str:
    """A cut of `original` stays `Mrkdwn` if `original` was (cuts never split an escape)."""
    return Mrkdwn(result) if isinstance(original, Mrkdwn) else result


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
    return same_kind(text, cut + marker), True


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role.capitalize())


def format_turn(turn: dict) -> Mrkdwn:
    role = escape_mrkdwn(role_name(str(turn.get("role", ""))))
    return Mrkdwn(f"*{role}:*\n{escape_mrkdwn(str(turn.get('content', '')))}")
