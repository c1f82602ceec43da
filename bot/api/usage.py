"""`last_used_at` of API tokens, written off the request path: a request only notes the
use; one background thread writes the noted uses. A write that waits for a lock (SQLite's
busy timeout is 30 s) or fails delays or loses a `last used` time, never a request."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import Engine

from storage import api_queries
from storage.db import session_scope

log = logging.getLogger(__name__)

# `last_used_at` is written at most this often per token (per process, and across
# processes by the UPDATE's own condition): not one write per request.
TOUCH_EVERY_S = 60.0
# The writer thread ends after this long with nothing to write (the next use starts it).
IDLE_S = 5.0


class UsageRecorder:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._noted: dict[int, float] = {}  # token id -> monotonic time of the last note
        self._pending: dict[int, datetime] = {}  # token id -> when, not yet written
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None

    def note(self, token_id: int, now: datetime) -> None:
        """Record that the token was used at `now`, soon; at once, never raising."""
        moment = time.monotonic()
        with self._lock:
            if moment - self._noted.get(token_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
                return
            self._noted[token_id] = moment
            self._pending[token_id] = now  # uses noted meanwhile coalesce: the latest wins
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_noted, name="quorum-api-usage", daemon=True
                )
                self._writer.start()
        self._wake.set()

    def _write_noted(self) -> None:
        while True:
            self._wake.wait(IDLE_S)
            with self._lock:
                self._wake.clear()
                pending, self._pending = self._pending, {}
                if not pending:
                    self._writer = None  # a note from now on starts a new writer
                    return
            for token_id, now in pending.items():
                self._write(token_id, now)

    def _write(self, token_id: int, now: datetime) -> None:
        try:
            with session_scope(self.engine) as session:
                api_queries.touch_token(
                    session, token_id, now=now, before=now - timedelta(seconds=TOUCH_EVERY_S)
                )
        except Exception as exc:  # a busy or closed database: the next use records it
            log.debug("could not record the use of API token %s (%s)", token_id, type(exc).__name__)
