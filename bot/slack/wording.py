"""Slack message wording, rendered from the Jinja2 templates in prompts/slack/.

Teams reword messages by editing templates, not code. Templates render plain strings;
the block builders decide where they go.

`say` is for mrkdwn and notification texts: every value a template prints goes through
bot.slack.text.escape_mrkdwn (the environment's `finalize`, and a `join` filter that
escapes each item), so a template cannot let a sample's `<!here>` through, and values
that are already `Mrkdwn` (an escaped answer, a mention, a date token) are kept as they
are. `say_plain` renders the same templates without escaping, for plain_text fields
(buttons, options, headers, input labels), which Slack shows as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, meta

from bot import PROMPTS_DIR
from bot.slack.text import Mrkdwn, escape_mrkdwn, join_mrkdwn


def _join(items: Iterable[object], separator: str = "") -> Mrkdwn:
    return join_mrkdwn(separator, items)


@lru_cache(maxsize=2)
def _environment(escaping: bool = True) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(PROMPTS_DIR / "slack"),
        undefined=StrictUndefined,
        autoescape=False,  # Jinja's autoescape is HTML's; Slack's is escape_mrkdwn
        finalize=escape_mrkdwn if escaping else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    if escaping:
        environment.filters["join"] = _join
    return environment


def say(template: str, **context: Any) -> str:
    """Render prompts/slack/<template>.j2 as mrkdwn, every value escaped, and strip
    surrounding whitespace. The result is a `Mrkdwn` (typed `str`, so callers may mix it
    with other texts), which another template prints as it is."""
    return Mrkdwn(_environment(True).get_template(f"{template}.j2").render(**context).strip())


def say_plain(template: str, **context: Any) -> str:
    """Render prompts/slack/<template>.j2 for a plain_text field: values as they are."""
    return _environment(False).get_template(f"{template}.j2").render(**context).strip()


def template_names() -> list[str]:
    return sorted(name.removesuffix(".j2") for name in _environment().list_templates())


def template_variables(template: str) -> set[str]:
    """The names a template reads from its context (for tests that fill every one)."""
    environment = _environment()
    assert environment.loader is not None
    source, _, _ = environment.loader.get_source(environment, f"{template}.j2")
    return meta.find_undeclared_variables(environment.parse(source))
