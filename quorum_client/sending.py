"""One API call with the client's retry rules: a 429 waits what its Retry-After asks (a
bounded number of times) and is sent again, whatever the method, since the server did
nothing with it; a lost connection or a 502/503/504 is retried with backoff only when
repeating the call cannot do anything twice (GET, or a POST with an Idempotency-Key),
or when the connection was never made. Error answers become QuorumError."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from quorum_client.errors import QuorumError

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Answers from a proxy or a restarting server in front of Quorum: worth another try.
UNAVAILABLE = frozenset({502, 503, 504})
# The request never reached the server, so sending it again cannot repeat anything.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a call tries. `max_retries` counts the attempts after the first;
    `backoff_s` doubles per attempt (with jitter); a Retry-After above `max_wait_s`
    is not slept through: the 429 is raised with its `retry_after`."""

    max_retries: int = 3
    backoff_s: float = 0.5
    max_wait_s: float = 60.0

    def backoff(self, attempt: int) -> float:
        return self.backoff_s * (2.0**attempt) * random.uniform(0.75, 1.25)


def send(
    http: httpx.Client,
    method: str,
    path: str,
    *,
    policy: RetryPolicy,
    params: Mapping[str, str | int] | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """The server's successful answer to one call, after the retries the rules allow."""
    idempotent = method in ("GET", "HEAD") or IDEMPOTENCY_HEADER in (headers or {})
    for attempt in range(policy.max_retries + 1):
        last = attempt == policy.max_retries
        try:
            response = http.request(method, path, params=params, content=content, headers=headers)
        except httpx.TransportError as exc:
            if last or not (idempotent or isinstance(exc, NOT_SENT)):
                raise _unreachable(http, method, path, exc, attempt + 1) from exc
            sleep(policy.backoff(attempt))
            continue
        if response.is_success:
            return response
        wait = retry_after(response.headers.get("Retry-After"))
        retryable = response.status_code == 429 or (
            idempotent and response.status_code in UNAVAILABLE
        )
        if retryable and not last:
            pause = policy.backoff(attempt) if wait is None else wait
            if pause <= policy.max_wait_s:
                response.close()
                sleep(pause)
                continue
        raise QuorumError.from_response(response, retry_after=wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def decoded(response: httpx.Response) -> Any:
    """A successful answer's JSON; anything else is a QuorumError naming what came."""
    try:
        return response.json()
    except ValueError:
        excerpt = " ".join(response.text[:200].split())
        raise QuorumError(
            response.status_code,
            "invalid_response",
            f"expected JSON from {response.request.method} {response.request.url}, "
            f"got {response.headers.get('content-type', 'no content type')}: {excerpt!r}",
        ) from None


def _unreachable(
    http: httpx.Client, method: str, path: str, exc: httpx.TransportError, attempts: int
) -> QuorumError:
    code = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection_error"
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    reason = str(exc) or type(exc).__name__
    url = str(http.base_url).rstrip("/") + path
    return QuorumError(0, code, f"{method} {url} failed after {tries}: {reason}")
