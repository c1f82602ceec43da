"""What the client raises: `QuorumError` for anything the server refused or could not be
reached for, built from the API's `{"error": {"code", "message", "details"}}` envelope;
`ItemFailedError` (a kind of QuorumError) when an awaited item failed; and
`LabelTimeoutError` (a TimeoutError) when a label did not come in time."""

from __future__ import annotations

import json
from typing import Any

import httpx

# How much of a body that is not the error envelope is quoted in the message.
EXCERPT_CHARS = 200
# How many of an error's details its message lists (all of them stay in `details`).
SHOWN_DETAILS = 5


class QuorumError(Exception):
    """The server answered with an error (4xx, 5xx), answered what is not JSON, or could
    not be reached (`status` 0, code `connection_error` or `timeout`).

    `details` are the envelope's per-field problems, e.g. `{"index": 3, "field":
    "conversation", "message": "..."}` for a refused item; `retry_after` the seconds a
    429 or 503 asked to wait, when it said."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details or [])
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = f"{self.status} {self.code}: {self.message}" if self.status else self.message
        shown = [_detail_text(d) for d in self.details[:SHOWN_DETAILS]]
        if len(self.details) > SHOWN_DETAILS:
            shown.append(f"... and {len(self.details) - SHOWN_DETAILS} more")
        return "; ".join([head, *shown])

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (multiprocessing, task queues) despite the keyword-only argument.
        return (_rebuild, (self.status, self.code, self.message, self.details, self.retry_after))

    @classmethod
    def from_response(
        cls, response: httpx.Response, *, retry_after: float | None = None
    ) -> QuorumError:
        """The server's envelope as an error; a body of another shape (a proxy's HTML page,
        plain text) becomes code `http_<status>` with an excerpt of it."""
        envelope = _envelope(response)
        if envelope is not None:
            details = envelope.get("details")
            return cls(
                response.status_code,
                str(envelope.get("code") or f"http_{response.status_code}"),
                str(envelope.get("message") or response.reason_phrase),
                [d if isinstance(d, dict) else {"message": str(d)} for d in details]
                if isinstance(details, list)
                else [],
                retry_after=retry_after,
            )
        request = response.request
        excerpt = " ".join(response.text[:EXCERPT_CHARS].split())
        message = f"{response.reason_phrase or 'error'} from {request.method} {request.url}"
        return cls(
            response.status_code,
            f"http_{response.status_code}",
            f"{message}: {excerpt}" if excerpt else message,
            retry_after=retry_after,
        )


class ItemFailedError(QuorumError):
    """The awaited item became `failed` (it could not be sent to reviewers); `reason` is
    the server's explanation and `item` its whole record."""

    def __init__(self, project: str, item_id: str, item: dict[str, Any]) -> None:
        self.project = project
        self.item_id = item_id
        self.item = item
        self.reason = _failure_text(item.get("failure"))
        super().__init__(
            200,
            "item_failed",
            f"item {item_id!r} of project {project!r} failed: {self.reason}",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (ItemFailedError, (self.project, self.item_id, self.item))


class LabelTimeoutError(TimeoutError):
    """No label for the item within the timeout; `last_status` is what the server last
    said about it (queued, in_review, escalated, ...)."""

    def __init__(self, project: str, item_id: str, timeout_s: float, last_status: str) -> None:
        self.project = project
        self.item_id = item_id
        self.timeout_s = timeout_s
        self.last_status = last_status
        super().__init__(
            f"no label for item {item_id!r} of project {project!r} after {timeout_s:g} s "
            f"(last status: {last_status})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (LabelTimeoutError, (self.project, self.item_id, self.timeout_s, self.last_status))


def _rebuild(
    status: int, code: str, message: str, details: list[dict[str, Any]], retry_after: float | None
) -> QuorumError:
    return QuorumError(status, code, message, details, retry_after=retry_after)


def _envelope(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _detail_text(detail: dict[str, Any]) -> str:
    where = ".".join(
        str(part)
        for part in (
            f"items[{detail['index']}]" if detail.get("index") is not None else None,
            detail.get("field"),
        )
        if part
    )
    message = str(detail.get("message", detail))
    return f"{where}: {message}" if where else message


def _failure_text(failure: object) -> str:
    if isinstance(failure, dict):
        return str(failure.get("reason") or failure.get("message") or json.dumps(failure))
    return str(failure) if failure else "no reason given"
