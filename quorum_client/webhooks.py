"""Quorum's webhook signature: `Quorum-Webhook-Signature: v1=<hex HMAC-SHA256(secret,
"{id}.{timestamp}.{raw body}")>`, the key being the secret's UTF-8 bytes exactly as
`quorum webhook add` printed it. The server signs with `signature`; a receiver checks
with `verify_webhook`. Standard library only."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from typing import Protocol

ID_HEADER = "Quorum-Webhook-Id"
TIMESTAMP_HEADER = "Quorum-Webhook-Timestamp"
SIGNATURE_HEADER = "Quorum-Webhook-Signature"
TOLERANCE_S = 300  # a replayed delivery older than this is refused
# Signatures in one header while a secret is rotated: "v1=aaa,v1=bbb" or "v1=aaa v1=bbb".
_SEPARATORS = re.compile(r"[,\s]+")


class Headers(Protocol):
    """Anything with `items()` of name and value: a dict, httpx/Starlette/Flask headers,
    or the `email.message.Message` that `http.server` hands a handler."""

    def items(self) -> Iterable[tuple[str, str]]: ...


def signature(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """The header value for one attempt: `v1=` and the hex digest."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    headers: Headers,
    body: bytes | str,
    *,
    tolerance_s: int | None = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when `body` was signed by Quorum with `secret` within `tolerance_s` seconds
    (None: any age). Header names in any case; the body exactly as received, as bytes or
    str. While a secret is rotated the header may carry several signatures; one matching
    is enough. Missing or malformed headers, a stale timestamp or a wrong signature
    give False, never an exception; only an empty `secret` (a setup mistake, not a bad
    delivery) raises ValueError."""
    key = secret.strip()  # a secret read from a file or pasted keeps its newline
    if not key:
        raise ValueError("the webhook secret is empty: pass the one `quorum webhook add` printed")
    lower = {_text(name).lower(): _text(value).strip() for name, value in headers.items()}
    webhook_id = lower.get(ID_HEADER.lower())
    timestamp = lower.get(TIMESTAMP_HEADER.lower())
    given = lower.get(SIGNATURE_HEADER.lower())
    if not (webhook_id and timestamp and given and timestamp.isascii() and timestamp.isdigit()):
        return False
    if tolerance_s is not None:
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > tolerance_s:
            return False
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    expected = signature(key, webhook_id, timestamp, raw).encode()
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may hold any.
    return any(
        hmac.compare_digest(expected, part.encode("utf-8", "surrogateescape"))
        for part in _SEPARATORS.split(given)
        if part
    )


def _text(value: str | bytes) -> str:
    # Raw ASGI/WSGI header values may still be bytes; HTTP headers are Latin-1.
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
