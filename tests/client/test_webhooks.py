"""verify_webhook, as a receiver uses it: the signature Quorum sends is accepted with the
printed secret and refused with any other secret, any change to the body, a replayed old
timestamp or missing headers; header names in any case, the body as bytes or str, and
several signatures while a secret is rotated."""

from __future__ import annotations

import email.message
import json
import time

import httpx
import pytest

from quorum_client import verify_webhook
from quorum_client.webhooks import signature

SECRET = "whsec_3kq0v9T1s2Xb7y8Zc4d5E6f7G8h9J0kL"
EVENT_ID = "evt_5d41402abc4b2a76b9719d911017c592"
BODY = json.dumps(
    {
        "id": EVENT_ID,
        "type": "label.signed_off",
        "created_at": "2025-01-01T12:00:00Z",
        "project": "support-intent",
        "data": {"id": "t-1", "value": "billing", "note": "naïve café ✓"},
    },
    ensure_ascii=False,
).encode()


def signed_headers(
    body: bytes = BODY, *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    sent_at = int(time.time()) if timestamp is None else timestamp
    return {
        "Quorum-Webhook-Id": EVENT_ID,
        "Quorum-Webhook-Timestamp": str(sent_at),
        "Quorum-Webhook-Signature": signature(secret, EVENT_ID, sent_at, body),
    }


def test_the_right_secret_is_accepted_and_any_other_refused():
    headers = signed_headers()
    assert verify_webhook(SECRET, headers, BODY) is True
    assert verify_webhook("whsec_another-secret", headers, BODY) is False
    assert verify_webhook(SECRET.upper(), headers, BODY) is False


def test_the_signature_is_the_documented_hmac():
    import hashlib
    import hmac

    sent_at = 1_700_000_000
    digest = hmac.new(
        SECRET.encode(), f"{EVENT_ID}.{sent_at}.".encode() + BODY, hashlib.sha256
    ).hexdigest()
    headers = signed_headers(timestamp=sent_at)
    assert headers["Quorum-Webhook-Signature"] == f"v1={digest}"
    assert verify_webhook(SECRET, headers, BODY, now=sent_at + 10)


def test_a_tampered_body_id_or_timestamp_is_refused():
    headers = signed_headers()
    assert not verify_webhook(SECRET, headers, BODY.replace(b"billing", b"bug"))
    assert not verify_webhook(SECRET, headers, BODY + b"\n")
    assert not verify_webhook(SECRET, {**headers, "Quorum-Webhook-Id": "evt_other"}, BODY)
    later = str(int(headers["Quorum-Webhook-Timestamp"]) + 1)
    assert not verify_webhook(SECRET, {**headers, "Quorum-Webhook-Timestamp": later}, BODY)


def test_header_names_in_any_case_and_headers_of_any_http_library():
    headers = signed_headers()
    assert verify_webhook(SECRET, {k.lower(): v for k, v in headers.items()}, BODY)
    assert verify_webhook(SECRET, {k.upper(): v for k, v in headers.items()}, BODY)
    assert verify_webhook(SECRET, httpx.Headers(headers), BODY)
    # What http.server hands a BaseHTTPRequestHandler as self.headers.
    message = email.message.Message()
    for name, value in headers.items():
        message[name.lower()] = value
    assert verify_webhook(SECRET, message, BODY)


def test_the_body_as_bytes_or_as_the_str_it_decodes_to():
    headers = signed_headers()
    assert verify_webhook(SECRET, headers, BODY)
    assert verify_webhook(SECRET, headers, BODY.decode("utf-8"))
    assert verify_webhook(SECRET, headers, bytearray(BODY))  # type: ignore[arg-type]
    # Parsed and re-serialised is not the body as sent: the raw body must be checked.
    reserialised = json.dumps(json.loads(BODY))
    assert not verify_webhook(SECRET, headers, reserialised)


def test_an_old_or_future_timestamp_is_refused_unless_asked():
    now = time.time()
    old = signed_headers(timestamp=int(now) - 301)
    assert not verify_webhook(SECRET, old, BODY, now=now)
    assert verify_webhook(SECRET, old, BODY, now=now, tolerance_s=600)
    assert verify_webhook(SECRET, old, BODY, now=now, tolerance_s=None)
    future = signed_headers(timestamp=int(now) + 301)
    assert not verify_webhook(SECRET, future, BODY, now=now)
    recent = signed_headers(timestamp=int(now) - 299)
    assert verify_webhook(SECRET, recent, BODY, now=now)


def test_a_rotated_secret_header_with_several_signatures():
    sent_at = int(time.time())
    old_secret, new_secret = "whsec_old-one", "whsec_new-one"
    both = [signature(s, EVENT_ID, sent_at, BODY) for s in (old_secret, new_secret)]
    for joined in (",".join(both), ", ".join(both), " ".join(both)):
        headers = {**signed_headers(timestamp=sent_at), "Quorum-Webhook-Signature": joined}
        assert verify_webhook(old_secret, headers, BODY)
        assert verify_webhook(new_secret, headers, BODY)
        assert not verify_webhook("whsec_neither", headers, BODY)


@pytest.mark.parametrize(
    "change",
    [
        {"Quorum-Webhook-Id": None},
        {"Quorum-Webhook-Timestamp": None},
        {"Quorum-Webhook-Signature": None},
        {"Quorum-Webhook-Timestamp": "soon"},
        {"Quorum-Webhook-Timestamp": "-5"},
        {"Quorum-Webhook-Timestamp": "١٧٠٠٠٠٠٠٠٠"},  # digits, but not ASCII ones
        {"Quorum-Webhook-Signature": ""},
        {"Quorum-Webhook-Signature": "v1="},
        {"Quorum-Webhook-Signature": "v1=zz\u00e9\u00ff not hex"},  # compare_digest refuses str
        {"Quorum-Webhook-Signature": "v0=deadbeef"},
    ],
)
def test_missing_or_malformed_headers_are_false_never_an_exception(change):
    headers = signed_headers()
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    assert verify_webhook(SECRET, headers, BODY) is False


def test_a_secret_pasted_with_its_newline_still_verifies_and_an_empty_one_is_an_error():
    headers = signed_headers()
    assert verify_webhook(SECRET + "\n", headers, BODY)
    with pytest.raises(ValueError, match="secret is empty"):
        verify_webhook("", headers, BODY)
