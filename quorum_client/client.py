"""`Client`: Quorum's REST API (`/api/v1`) from a model pipeline, in plain Python values.

    from quorum_client import Client

    quorum = Client("http://quorum.internal:3000", token)
    quorum.submit("support-intent", [{"id": "t-1", "conversation": [...], "prediction": {...}}])
    label = quorum.wait_for_label("support-intent", "t-1", timeout=3600)
    for label in quorum.labels("support-intent", after=saved_cursor): ...

Every method raises QuorumError for what the server refused (its code, message and
per-field details) or when it cannot be reached; sending.py has the retry rules."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass
from itertools import islice
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from quorum_client.errors import ItemFailedError, LabelTimeoutError, QuorumError
from quorum_client.feed import LabelFeed, Page
from quorum_client.sending import IDEMPOTENCY_HEADER, RetryPolicy, decoded, send

API = "/api/v1"
BATCH_LIMIT = 1000  # items per POST the server accepts
MAX_KEY = 255  # an Idempotency-Key's length the server accepts, a batch's suffix included
# Room kept for the `:n` suffix when the number of batches is not known in advance (a
# generator): `:999999`, a billion items at 1,000 a batch.
SUFFIX_ROOM = 7
_ITEM_FIELD = re.compile(r"^items\.(\d+)(?=\.|$)")
USER_AGENT = f"quorum-client/0.1 httpx/{httpx.__version__}"


@dataclass(frozen=True)
class SubmitResult:
    """What `submit` did: items new to Quorum, items it already had with the same
    content (a re-sent item is a no-op), and the POSTs it took."""

    created: int = 0
    unchanged: int = 0
    batches: int = 0

    def __add__(self, other: SubmitResult) -> SubmitResult:
        return SubmitResult(
            self.created + other.created,
            self.unchanged + other.unchanged,
            self.batches + other.batches,
        )


class Client:
    """A connection to one Quorum server for one API token (a token is for one project).

    `url` is the server's root, as `quorum serve` listens (`http://host:3000`); a
    trailing `/api/v1` is tolerated. `timeout` is per HTTP request, in seconds.
    `transport` replaces httpx's network transport (tests, proxies, custom TLS).
    Use it as a context manager, or call `close()`, to release its connections."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = 3,
        max_retry_wait_s: float = 60.0,
    ) -> None:
        if not token or not token.strip():
            raise ValueError("token is empty: pass the token `quorum token create` printed")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        root = url.rstrip("/")
        for suffix in (API, "/api"):
            root = root.removesuffix(suffix)
        self.url = root
        self._policy = RetryPolicy(max_retries=max_retries, max_wait_s=max_retry_wait_s)
        self._http = httpx.Client(
            base_url=root,
            timeout=timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token.strip()}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"Client({self.url!r})"  # never the token

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- reading ------------------------------------------------------------------------

    def projects(self) -> list[dict[str, Any]]:
        """The projects this token may see (its own), each with its name and kind."""
        body = self._get(f"{API}/projects")
        return list(body["projects"]) if isinstance(body, dict) else list(body)

    def item(self, project: str, item_id: str) -> dict[str, Any]:
        """One item by your own id: its `status` (queued, in_review, escalated,
        signed_off, auto_accepted, failed), its answers so far, and its `label` (the
        `labels` export record, provenance included) once signed off."""
        body: dict[str, Any] = self._get(f"{_project_path(project)}/items/{_segment(item_id)}")
        return body

    def stats(self, project: str) -> dict[str, Any]:
        """Counts by state, agreement figures, throughput and backlog."""
        body: dict[str, Any] = self._get(f"{_project_path(project)}/stats")
        return body

    def labels(
        self,
        project: str,
        *,
        after: str | None = None,
        follow: bool = False,
        poll_s: float = 5.0,
        limit: int | None = None,
    ) -> LabelFeed:
        """Signed-off labels in sign-off order from `after` (None: the first), following
        the server's cursors: none missed, none repeated. Ends at the first empty page
        unless `follow`, which waits `poll_s` and asks again. The returned feed's
        `cursor` is what to store to resume (LabelFeed says exactly when it moves)."""
        path = f"{_project_path(project)}/labels"

        def read_page(cursor: str | None) -> Page:
            params: dict[str, str | int] = {} if cursor is None else {"after": cursor}
            if limit is not None:
                params["limit"] = limit
            body = self._get(path, params=params)
            labels = body.get("labels") if isinstance(body, dict) else None
            if not isinstance(labels, list):
                raise QuorumError(200, "invalid_response", f"no `labels` list from GET {path}")
            following = body.get("next")
            return labels, following if isinstance(following, str) else None

        return LabelFeed(read_page, after=after, follow=follow, poll_s=poll_s)

    def wait_for_label(
        self, project: str, item_id: str, *, timeout: float = 600.0, poll_s: float = 2.0
    ) -> dict[str, Any]:
        """The item's label record once it is signed off (or auto-accepted), asking every
        `poll_s` seconds. LabelTimeoutError after `timeout` seconds, naming the last
        status; ItemFailedError if the item failed (it will not be labelled as it is)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.item(project, item_id)
            label = record.get("label")
            if isinstance(label, dict):
                return label
            status = str(record.get("status") or "unknown")
            if status == "failed":
                raise ItemFailedError(project, item_id, record)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LabelTimeoutError(project, item_id, timeout, status)
            time.sleep(min(poll_s, remaining))

    # -- writing ------------------------------------------------------------------------

    def submit(
        self,
        project: str,
        items: Iterable[Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        batch_size: int = BATCH_LIMIT,
    ) -> SubmitResult:
        """Send items (objects exactly as in a JSONL import) for review, `batch_size` per
        POST. Each POST is all or nothing: a QuorumError (422: `details` name each
        refused item's index in `items` and its field; 409: an id already imported with
        other content) leaves that batch unstored, and says how many earlier batches
        were. With `idempotency_key`, a retried call returns the first answer instead of
        importing again: the first batch carries the key as given, batch n `KEY:n` (every
        one at most 255 characters: a longer key is a ValueError before anything is
        sent)."""
        if isinstance(items, Mapping | str | bytes):
            raise TypeError("items must be a list of item objects, not a single one")
        if not 1 <= batch_size <= BATCH_LIMIT:
            raise ValueError(f"batch_size must be 1 to {BATCH_LIMIT}, got {batch_size}")
        if idempotency_key is not None:
            _check_key(idempotency_key, items, batch_size)
        path = f"{_project_path(project)}/items"
        total = SubmitResult()
        for number, batch in enumerate(_batches(items, batch_size)):
            offset = number * batch_size
            headers = {"Content-Type": "application/json"}
            if idempotency_key is not None:
                key = idempotency_key if number == 0 else f"{idempotency_key}:{number}"
                if len(key) > MAX_KEY:  # past the million batches _check_key made room for
                    raise ValueError(
                        f"batch {number + 1}'s Idempotency-Key {key[-20:]!r} would exceed "
                        f"{MAX_KEY} characters; the {offset} items before it were sent"
                    )
                headers[IDEMPOTENCY_HEADER] = key
            content = _encoded(batch, offset)
            try:
                response = send(
                    self._http, "POST", path, policy=self._policy, content=content, headers=headers
                )
            except QuorumError as error:
                if number == 0:
                    raise
                raise _in_batch(error, number, offset, len(batch), total) from error
            body = decoded(response)
            total += SubmitResult(int(body.get("created", 0)), int(body.get("unchanged", 0)), 1)
        return total

    # -- plumbing -----------------------------------------------------------------------

    def _get(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        return decoded(send(self._http, "GET", path, policy=self._policy, params=params))


def _segment(value: str) -> str:
    """One path segment: ids and names may hold `/`, `?`, `#`, spaces."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return quote(value, safe="")


def _project_path(project: str) -> str:
    return f"{API}/projects/{_segment(project)}"


def _check_key(key: str, items: Iterable[Mapping[str, Any]], batch_size: int) -> None:
    """Every batch's key fits the server's limit: the last one's suffix is known for a
    list, and room kept for it otherwise."""
    if not key:
        raise ValueError("idempotency_key is empty: give 1 to 255 characters, or None")
    if isinstance(items, Sized):
        batches = max(1, -(-len(items) // batch_size))
        longest = len(key) if batches == 1 else len(f"{key}:{batches - 1}")
        if longest > MAX_KEY:
            raise ValueError(
                f"idempotency_key is {len(key)} characters; with the `:{batches - 1}` of "
                f"the last of {batches} batches it would exceed the server's limit of "
                f"{MAX_KEY}: use a key of at most {MAX_KEY - len(f':{batches - 1}')}"
            )
    elif len(key) > MAX_KEY - SUFFIX_ROOM:
        raise ValueError(
            f"idempotency_key is {len(key)} characters; the server's limit is {MAX_KEY}, "
            f"and items given as an iterator keep room for a `:n` batch suffix: use a key "
            f"of at most {MAX_KEY - SUFFIX_ROOM} (or pass a list)"
        )


def _batches(items: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    """Consecutive lists of `size` items, read lazily (a generator of a million items is
    never held whole)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _encoded(batch: list[Mapping[str, Any]], offset: int) -> bytes:
    """The POST body; an item JSON cannot carry (NaN, a set, a datetime) is named by its
    index before anything is sent."""
    try:
        return _json({"items": batch})
    except (TypeError, ValueError):
        for index, item in enumerate(batch):
            try:
                _json(item)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"items[{offset + index}] is not valid JSON: {exc}") from exc
        raise


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _in_batch(
    error: QuorumError, number: int, offset: int, size: int, done: SubmitResult
) -> QuorumError:
    """A later batch's error, with its item indexes counted in the caller's whole list and
    what the earlier batches stored."""
    details = [_shifted(d, offset) for d in error.details]
    message = (
        f"{error.message} (batch {number + 1}, items {offset} to {offset + size - 1}; "
        f"the {offset} items before it were accepted: {done.created} created, "
        f"{done.unchanged} unchanged)"
    )
    return QuorumError(error.status, error.code, message, details, retry_after=error.retry_after)


def _shifted(detail: dict[str, Any], offset: int) -> dict[str, Any]:
    """A detail of a batch's item in the caller's numbers: its `index`, and the leading
    `items.N` of its `field` (`items.3.prediction.label` of batch 2 is `items.1003...`)."""
    moved = dict(detail)
    if isinstance(detail.get("index"), int):
        moved["index"] = detail["index"] + offset
    field = detail.get("field")
    if isinstance(field, str):
        moved["field"] = _ITEM_FIELD.sub(
            lambda found: f"items.{int(found.group(1)) + offset}", field, count=1
        )
    return moved
