"""Logging for the long-running commands (serve, worker, demo): the level from
QUORUM_LOG_LEVEL, one handler on stderr, and a filter on it that takes Slack tokens, API
tokens, webhook secrets and the configured secrets out of every record, traceback text
included."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import TextIO

from bot.runtime.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# xoxb- (bot), xoxp- (user), xoxa-/xoxr-/xoxe.xoxp- (rotating), xapp- (app-level).
SLACK_TOKEN = re.compile(r"\b(xox[a-z](?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]+")
# Quorum's own: REST API tokens (`quorum token create`) and webhook signing secrets.
QUORUM_SECRET = re.compile(r"\b(qrm|whsec)_[A-Za-z0-9_-]{8,}")
# Credentials inside URLs: a user:password, and query strings (presigned object-store
# URLs carry their signature there; httpx logs every URL it fetches).
URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
URL_QUERY = re.compile(r"(\bhttps?://[^\s?#\"']+)\?[^\s#\"']+", re.IGNORECASE)
# At DEBUG these libraries log whole request and message bodies (slack_sdk: the JSON sent
# and received; Socket Mode: every frame): they stay at INFO whatever the level asked.
BODY_LOGGERS = ("slack_bolt", "slack_sdk", "urllib3", "uvicorn", "httpx", "httpcore", "openai")
SHORTEST_SECRET = 8  # shorter values would redact ordinary words; real secrets are longer


class RedactSecrets(logging.Filter):
    """Replaces Slack tokens (by shape), URL credentials and query strings, and the given
    secret values (exactly) in the record's message, arguments and exception text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values = {value for value in secrets if len(value) >= SHORTEST_SECRET}
        self.secrets = sorted(values, key=len, reverse=True)  # longest first: no half-masks

    def redact(self, text: str) -> str:
        # Tokens by shape first, so a configured one still shows which kind it was.
        text = SLACK_TOKEN.sub(lambda match: f"{match[1]}-[redacted]", text)
        text = QUORUM_SECRET.sub(lambda match: f"{match[1]}_[redacted]", text)
        text = URL_USERINFO.sub(lambda match: f"{match[1]}[redacted]@", text)
        text = URL_QUERY.sub(lambda match: f"{match[1]}?[redacted]", text)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class _Stderr(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is when a record comes (as logging.lastResort)."""

    quorum = True  # marks the handler configure_logging installed, to replace it later

    def __init__(self) -> None:
        super().__init__()

    @property  # a read-only view of sys.stderr
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(settings: Settings, *, default: str = "INFO") -> logging.Handler:
    """One redacting stderr handler on the root logger at QUORUM_LOG_LEVEL (else
    `default`); calling it again replaces the handler it installed before."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "quorum", False):
            root.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(settings.secret_values()))
    root.addHandler(handler)
    level = settings.log_level(default)
    root.setLevel(level)
    if level < logging.INFO:
        for name in BODY_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
    return handler


class _DropMessage(logging.Filter):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


def quiet_bolt_client_warning() -> None:
    """Bolt warns "`token` will be unused" whenever SLACK_BOT_TOKEN is set and an app is
    given a client; Quorum always gives its own (pointed at SLACK_API_URL, with that very
    token), so the warning says nothing and would crowd a start-up error."""
    bolt = logging.getLogger("slack_bolt.App")
    if not any(isinstance(existing, _DropMessage) for existing in bolt.filters):
        bolt.addFilter(_DropMessage("As you gave `client` as well, `token` will be unused."))
