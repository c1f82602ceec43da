"""Media in outgoing messages: a message is built with placeholder file ids
(bot/content/media.py); before it is sent, each rendition it shows is uploaded to Slack
once (the SlackFile row is claimed first, so two live senders do not both upload it; a
sender that dies mid-upload leaves its lease to run out, and the next one uploads again)
and the message waits, without being sent, until files.info shows Slack has processed
the file: an image block naming an unprocessed file is refused with `invalid_blocks`, so
the worker holds the row and comes back instead of posting and failing. Rate limits and
Slack outages only delay it; a file Slack never processes, or that cannot be uploaded at
all, fails the message as one that cannot be shown."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.content.media import ORIGINAL, parse_placeholder, placeholders
from bot.media.limits import EXTENSIONS
from bot.media.sniff import sniff
from bot.runtime.clock import Clock
from bot.slack.messages import context
from bot.slack.outbound import SlackOutbound
from bot.slack.wording import say
from storage import media_queries
from storage.db import session_scope
from storage.media_queries import Key

log = logging.getLogger(__name__)

UPLOAD_LEASE = timedelta(minutes=2)
PROCESSING_POLL_S = 0.5  # how soon a waiting message looks at files.info again
# Slack processes a file in seconds; one still unprocessed after this never will be.
PROCESSING_DEADLINE = timedelta(minutes=15)
MAX_UPLOAD_FAILURES = 5  # failures for good, then the message cannot be shown
TRANSIENT_WAIT_S = 5.0
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


class Renditions(Protocol):
    def get(self, sha256: str) -> bytes: ...

    def get_derived(self, sha256: str, name: str) -> bytes | None: ...


class MediaWait(Exception):
    """The message cannot go out yet: a file is being uploaded or processed."""

    def __init__(self, seconds: float, why: str) -> None:
        super().__init__(why)
        self.seconds = seconds


class MediaUnavailable(Exception):
    """A rendition the message shows cannot be uploaded (missing from the store, or
    Slack refused it for good): the message cannot be shown."""


def _replace(blocks: Any, ids: dict[str, str]) -> Any:
    resolved = copy.deepcopy(blocks)
    for slack_file in placeholders(resolved):
        slack_file["id"] = ids.get(str(slack_file["id"]), slack_file["id"])
    return resolved


def _processed(engine: Engine, blocks: Any) -> tuple[set[str], dict[str, str]]:
    """(the placeholders in the blocks, the file ids of those Slack has processed)."""
    keys = {
        ref: key for f in placeholders(blocks) if (key := parse_placeholder(ref := str(f["id"])))
    }
    if not keys:
        return set(), {}
    with session_scope(engine) as session:
        rows = media_queries.slack_files(session, set(keys.values()))
    ready = {
        ref: str(row.file_id)
        for ref, key in keys.items()
        if (row := rows.get(key)) is not None and row.file_id and row.ready_at is not None
    }
    return set(keys), ready


def resolve_processed(engine: Engine, blocks: Any) -> Any | None:
    """The blocks with their placeholders replaced by files Slack has processed already,
    or None if any is not (the click's response_url render never uploads or waits)."""
    found, ready = _processed(engine, blocks)
    if not found:
        return blocks
    return _replace(blocks, ready) if len(ready) == len(found) else None


def with_processed_files(engine: Engine, view: dict) -> dict:
    """A view opened at once (a modal: no outbox, no waiting) with each placeholder
    replaced by its processed file, and an image whose file Slack has not processed yet
    replaced by a line saying so (an unprocessed file would make Slack refuse it)."""
    found, ready = _processed(engine, view)
    if not found:
        return view
    blocks = []
    for block in view.get("blocks", []):
        ref = (
            str((block.get("slack_file") or {}).get("id", ""))
            if block.get("type") == "image"
            else ""
        )
        if ref in found and ref not in ready:
            blocks.append(context(say("image_not_ready")).to_dict())
        else:
            blocks.append(block)
    return _replace({**view, "blocks": blocks}, ready)


@dataclass
class MediaFiles:
    engine: Engine
    outbound: SlackOutbound
    store: Renditions
    clock: Clock

    def __post_init__(self) -> None:
        self._ready: dict[Key, str] = {}  # processed files never change: cache them
        self._failures: dict[Key, int] = {}
        self._next_check: dict[Key, float] = {}  # time.monotonic() of the next files.info

    def resolve(self, blocks: Any) -> Any:
        """The blocks with every placeholder replaced by a processed Slack file id (the
        same object when there is none); MediaWait or MediaUnavailable otherwise."""
        found = {str(f["id"]) for f in placeholders(blocks)}
        if not found:
            return blocks
        return _replace(blocks, self._file_ids(found))

    def prepare(self, refs: list[str]) -> None:
        """Upload these placeholders' files and wait until Slack has processed them
        (the full view of a message opens at once and can wait for nothing)."""
        self._file_ids(set(refs))

    def _file_ids(self, refs: set[str]) -> dict[str, str]:
        """Every placeholder's processed file id. Each file not uploaded yet is uploaded
        before any wait is raised, so Slack processes them side by side."""
        ids: dict[str, str] = {}
        waits: list[MediaWait] = []
        for ref in sorted(refs):
            key = parse_placeholder(ref)
            if key is None:
                continue
            try:
                ids[ref] = self._file_id(key)
            except MediaWait as wait:
                waits.append(wait)
        if waits:
            raise min(waits, key=lambda wait: wait.seconds)
        return ids

    def original(self, sha256: str) -> bytes:
        """The stored medium itself (a file shared for Slack's own player)."""
        try:
            return self.store.get(sha256)
        except LookupError as exc:  # missing, or no longer its hash
            raise MediaUnavailable(str(exc)) from exc

    def _file_id(self, key: Key) -> str:
        if key in self._ready:
            return self._ready[key]
        now = self.clock.now()
        with session_scope(self.engine) as session:
            row = media_queries.slack_files(session, [key]).get(key)
            if row is not None and row.file_id and row.ready_at is not None:
                self._ready[key] = row.file_id
                return row.file_id
            uploaded = row.file_id if row is not None else None
            uploaded_at = row.uploaded_at if row is not None else None
            claimed = uploaded is None and media_queries.claim_upload(
                session, key, now=now, lease=UPLOAD_LEASE, exists=row is not None
            )
        if uploaded is None:
            if not claimed:
                raise MediaWait(PROCESSING_POLL_S, "another sender is uploading the file")
            uploaded, uploaded_at = self._upload(key), now
        if not self._processed(key, uploaded):
            if uploaded_at is not None and now - uploaded_at > PROCESSING_DEADLINE:
                raise MediaUnavailable(f"Slack had not processed {uploaded} after 15 minutes")
            raise MediaWait(PROCESSING_POLL_S, "Slack is processing the file")
        self._ready[key] = uploaded
        return uploaded

    def _upload(self, key: Key) -> str:
        sha256, rendition = key
        if rendition == ORIGINAL:
            data: bytes | None = self.original(sha256)
        else:
            data = self.store.get_derived(sha256, rendition)
        if data is None:
            self._release(key)
            raise MediaUnavailable(f"the store has no {rendition} rendition of {sha256[:12]}")
        try:
            file_id = self.outbound.upload_file(
                filename=f"{sha256[:16]}-{rendition}{EXTENSIONS.get(sniff(data) or '', '')}",
                data=data,
                title=rendition,
            )
        except Exception as exc:
            self._release(key)
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
            wait = _transient_wait(exc)
            if wait is not None:  # a rate limit, Slack down, a dropped connection
                log.info("upload of %s: %s; again in %.0f s", sha256[:12], error or exc, wait)
                raise MediaWait(wait, "the upload will be tried again") from exc
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            log.warning("upload of %s failed (%s)", sha256[:12], error or type(exc).__name__)
            if failures >= MAX_UPLOAD_FAILURES:
                raise MediaUnavailable(f"upload failed {failures} times: {error or exc}") from exc
            raise MediaWait(2.0**failures, "the upload failed; trying again") from exc
        self._failures.pop(key, None)
        with session_scope(self.engine) as session:
            kept = media_queries.record_upload(session, key, file_id, now=self.clock.now())
        return kept

    def _release(self, key: Key) -> None:
        with session_scope(self.engine) as session:
            media_queries.release_upload(session, key)

    def _processed(self, key: Key, file_id: str) -> bool:
        """Whether Slack has processed the file; asked at most once per poll interval per
        file, however many messages wait for it."""
        now = time.monotonic()
        if now < self._next_check.get(key, 0.0):
            return False
        self._next_check[key] = now + PROCESSING_POLL_S
        try:
            ready = self.outbound.file_ready(file_id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("file_not_found", "file_deleted"):  # gone: upload it again
                with session_scope(self.engine) as session:
                    media_queries.forget_upload(session, key)
            elif (wait := _transient_wait(exc)) is not None:
                self._next_check[key] = now + wait
            log.warning("files.info for %s failed (%s)", file_id, error)
            return False
        if ready:
            with session_scope(self.engine) as session:
                media_queries.mark_ready(session, key, now=self.clock.now())
        return ready


def _transient_wait(exc: Exception) -> float | None:
    """Seconds to wait when a failed call is worth repeating as it is (a rate limit,
    Slack unavailable, a dropped connection), None when it failed for good."""
    if not isinstance(exc, SlackApiError):
        return TRANSIENT_WAIT_S  # timeouts and connection errors
    response = exc.response
    status = getattr(response, "status_code", 200)
    if status == 429 or response.get("error") == "ratelimited":
        headers = getattr(response, "headers", None) or {}
        retry_after = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        value = retry_after[0] if isinstance(retry_after, list) else retry_after
        try:
            return max(1.0, float(value)) if value is not None else TRANSIENT_WAIT_S
        except (TypeError, ValueError):
            return TRANSIENT_WAIT_S
    if status >= 500 or response.get("error") in TRANSIENT_ERRORS:
        return TRANSIENT_WAIT_S
    return None
