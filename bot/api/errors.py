"""The REST API's one error shape, `{"error": {"code", "message", "details": [...]}}`, for
every refusal: the API's own, FastAPI's validation errors, unknown paths and methods,
and the HTTP server's 408 and 413 (bot/runtime/server.py). Each detail names the field
at fault (`items.3.prediction.label`, `limit`, `Authorization`, `body`), and `index` the
item, for problems of one item of a POST."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.responses import Response

# Error codes (docs/api.md lists them with their statuses).
BAD_REQUEST = "bad_request"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
REQUEST_TIMEOUT = "request_timeout"
ITEM_CONFLICT = "item_conflict"
IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
PAYLOAD_TOO_LARGE = "payload_too_large"
INVALID_REQUEST = "invalid_request"
INVALID_ITEMS = "invalid_items"
TOO_MANY_ITEMS = "too_many_items"
RATE_LIMITED = "rate_limited"
INTERNAL_ERROR = "internal_error"
UNAVAILABLE = "unavailable"

_BY_STATUS = {
    400: BAD_REQUEST,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    408: REQUEST_TIMEOUT,
    413: PAYLOAD_TOO_LARGE,
    422: INVALID_REQUEST,
    429: RATE_LIMITED,
    503: UNAVAILABLE,
}


def code_for(status: int) -> str:
    return _BY_STATUS.get(status, BAD_REQUEST if status < 500 else INTERNAL_ERROR)


def detail(field: str, message: str, index: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"field": field, "message": message}
    if index is not None:
        found["index"] = index
    return found


class ApiError(Exception):
    """A refusal, raised anywhere under a route and answered in the error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or code_for(status)
        self.message = message
        self.details = [dict(d) for d in details] or (
            [detail(field, message)] if field is not None else []
        )
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return error_response(
            self.status, self.code, self.message, self.details, headers=self.headers
        )


def _printable(text: str) -> str:
    """Lone surrogates (a hostile field name may hold one) cannot be encoded as UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


def envelope(code: str, message: str, details: Sequence[Mapping[str, Any]] = ()) -> dict:
    return {
        "error": {
            "code": code,
            "message": _printable(message),
            "details": [
                {k: _printable(v) if isinstance(v, str) else v for k, v in d.items()}
                for d in details
            ],
        }
    }


def json_response(status: int, body: Any, *, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[Mapping[str, Any]] = (),
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return json_response(status, envelope(code, message, details), headers=headers)
