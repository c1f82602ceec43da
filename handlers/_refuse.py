"""A request a listener cannot read (bot.slack.inbound found it malformed): one log line
naming what and who, never what was sent, and nothing else happens."""

from __future__ import annotations

import logging
from typing import Any

from handlers.errors import describe_request

log = logging.getLogger("handlers")


def ignore(body: dict[str, Any], what: str) -> None:
    log.warning("ignored %s (%s)", what, describe_request(body))
