"""Quorum's webhook signature: `Quorum-Webhook-Signature: v1=<hex HMAC-SHA256(secret,
"{id}.{timestamp}.{raw body}")>`, the key being the secret's UTF-8 bytes exactly as
`quorum webhook add` printed it. The server signs with `signature`; a receiver checks
with `verify_webhook`. Standard library only."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

ID_HEADER = "Quorum-Webhook-Id"
TIMESTAMP_HEADER = "Quorum-Webhook-Timestamp"
SIGNATURE_HEADER = "Quorum-Webhook-Signature"
TOLERANCE_S = 300  # a replayed delivery older than this is refused


def signature(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """The header value for one attempt: `v1=` and the hex digest."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance_s: int | None = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when `body` was signed by Quorum with `secret` within `tolerance_s` seconds
    (None: any age). Header names in any case; the body exactly as received."""
    lower = {name.lower(): value for name, value in headers.items()}
    webhook_id = lower.get(ID_HEADER.lower())
    timestamp = lower.get(TIMESTAMP_HEADER.lower())
    given = lower.get(SIGNATURE_HEADER.lower())
    if not (webhook_id and timestamp and given) or not timestamp.isdigit():
        return False
    if tolerance_s is not None:
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > tolerance_s:
            return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    expected = signature(secret, webhook_id, timestamp, raw)
    # Several comma-separated signatures may come while a secret is being rotated.
    return any(hmac.compare_digest(expected, part.strip()) for part in given.split(","))
