"""Slack message wording, rendered from the Jinja2 templates in prompts/slack/.

Teams reword messages by editing templates, not code. Templates render plain strings;
the block builders decide where they go.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot import PROMPTS_DIR


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(PROMPTS_DIR / "slack"),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def say(template: str, **context: Any) -> str:
    """Render prompts/slack/<template>.j2 and strip surrounding whitespace."""
    return _environment().get_template(f"{template}.j2").render(**context).strip()


def template_names() -> list[str]:
    return sorted(name.removesuffix(".j2") for name in _environment().list_templates())
