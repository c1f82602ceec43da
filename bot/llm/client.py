"""The openai client, and the retry loop every LLM call in Quorum goes through.

The client is built with `max_retries=0` because we retry ourselves: each failure is
classified (timeout, rate limit, server error, malformed output, bad credentials),
logged without the API key, and turned into a reason a team lead can read.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable
from typing import TypeVar

import openai
from pydantic import SecretStr

log = logging.getLogger("bot.llm")

T = TypeVar("T")

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
RETRY_AFTER_MAX_S = 60.0
# Anything shaped like an OpenAI key, in case a server echoes one in an error message.
_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{2})[A-Za-z0-9_\-]{4,}")


class LLMUnavailable(RuntimeError):
    """The LLM cannot be used at all (no key configured); the message says what to set."""


class LLMCallFailed(Exception):
    """An LLM call that did not produce a usable answer; `reason` is meant for a person."""

    def __init__(self, reason: str, *, attempts: int = 0, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts
        self.retryable = retryable


class MalformedOutput(Exception):
    """The model answered, but not in the shape the task needs; worth another try."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def make_openai_client(
    *, api_key: str | SecretStr | None, base_url: str | None, timeout_s: float
) -> openai.OpenAI:
    """Build the official client; None falls back to OPENAI_API_KEY / OPENAI_BASE_URL.

    Accepts the settings' SecretStr as is, so the key is unwrapped only here.
    """
    if isinstance(api_key, SecretStr):
        api_key = api_key.get_secret_value()
    try:
        return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0)
    except openai.OpenAIError:
        # The client's own message is fine today, but keep ours stable and key-free.
        raise LLMUnavailable(
            "LLM assist needs an API key: set OPENAI_API_KEY (and OPENAI_BASE_URL for a "
            "compatible server)"
        ) from None


def client_secret(client: object) -> str | None:
    """The key the client sends, so that it can be scrubbed from every message."""
    key = getattr(client, "api_key", None)
    return key if isinstance(key, str) and key else None


def redact(text: str, secret: str | None = None) -> str:
    """Remove the API key (and anything that looks like one) from text meant for logs."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "[redacted]")
    return _KEY_PATTERN.sub(r"\1…[redacted]", text)


def _retry_after_s(exc: openai.APIStatusError) -> float | None:
    """Seconds from `retry-after-ms` / `retry-after` (numbers only); None if absent."""
    headers = exc.response.headers
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return min(seconds, RETRY_AFTER_MAX_S)
    return None


def _server_message(exc: openai.APIStatusError, secret: str | None) -> str:
    """The server's own error message, short and scrubbed, for 4xx reasons."""
    body = exc.body
    message = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else None
    message = str(message or exc.message or "").strip()
    return redact(message[:200], secret)


def classify(exc: Exception, secret: str | None) -> tuple[str, bool, float | None]:
    """(reason, retryable, retry_after_s) for one failed attempt."""
    if isinstance(exc, MalformedOutput):
        return f"malformed output ({redact(exc.detail, secret)})", True, None
    if isinstance(exc, json.JSONDecodeError):
        # The client raises this as-is when a 200 carries a body that is not JSON.
        return "malformed output (response body is not JSON)", True, None
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", True, None
    if isinstance(exc, openai.APIConnectionError):
        return "cannot connect to the LLM server", True, None
    if isinstance(exc, openai.APIResponseValidationError):
        return "malformed output (unexpected response shape)", True, None
    if isinstance(exc, openai.RateLimitError):
        return "rate limited (HTTP 429)", True, _retry_after_s(exc)
    if isinstance(exc, openai.InternalServerError):
        return f"server error (HTTP {exc.status_code})", True, _retry_after_s(exc)
    if isinstance(exc, openai.AuthenticationError):
        return "authentication failed (HTTP 401): check OPENAI_API_KEY", False, None
    if isinstance(exc, openai.PermissionDeniedError):
        return f"permission denied (HTTP 403): {_server_message(exc, secret)}", False, None
    if isinstance(exc, openai.NotFoundError):
        reason = "model or endpoint not found (HTTP 404): check llm.model and OPENAI_BASE_URL"
        return reason, False, None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in (408, 409)
        return f"request rejected (HTTP {status}): {_server_message(exc, secret)}", retryable, None
    if isinstance(exc, openai.OpenAIError):
        return f"LLM client error ({type(exc).__name__})", False, None
    return f"unexpected error ({type(exc).__name__})", False, None


def call_with_retries(
    attempt: Callable[[], T],
    *,
    what: str,
    max_retries: int,
    secret: str | None,
    sleep: Callable[[float], None] = time.sleep,
    error: type[LLMCallFailed] = LLMCallFailed,
) -> tuple[T, int]:
    """Run `attempt` until it succeeds; return (result, attempts) or raise `error`.

    Transient failures (timeouts, connection errors, 429, 5xx, malformed output) are
    retried up to `max_retries` times with exponential backoff from 0.5 s, or after the
    server's Retry-After; other failures (401, 403, 400...) are final at once.
    """
    total = max_retries + 1
    for number in range(1, total + 1):
        try:
            return attempt(), number
        except Exception as exc:  # every failure gets classified, none escapes raw
            reason, retryable, retry_after = classify(exc, secret)
        if not retryable or number == total:
            suffix = f" after {number} attempts" if retryable and number > 1 else ""
            message = f"{what} failed: {reason}{suffix}"
            log.warning("%s", message)
            raise error(message, attempts=number, retryable=retryable)
        delay = retry_after if retry_after is not None else BACKOFF_BASE_S * 2 ** (number - 1)
        delay = min(delay, BACKOFF_MAX_S)
        log.warning(
            "%s attempt %d/%d failed: %s; retrying in %.2fs", what, number, total, reason, delay
        )
        sleep(delay)
    raise AssertionError("unreachable")  # the loop always returns or raises
