"""Clicked DMs shown through their click's response_url: the outcome recorded on their
queued chat.update rows in batches, off the click's path.

A click queues the chat.update of the DM's new render, due only after a grace period
(bot.workflow.review.messages.RESPOND_GRACE), and after its commit POSTs the same render
to the response_url. Marking that row sent (or due at once, when the POST failed) in its
own transaction cost every click a pooled connection, a round trip and a commit; here one
thread per database applies the outcomes of every click since its last pass in one
transaction, a fraction of a second later. The delivery worker applies them too before it
claims rows, so it never sends an update that was already shown. If the process dies
before a pass, the worker sends the row after its grace: the same render again, harmless.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from bot.delivery.outbox import wake_delivery
from storage import outbox_store
from storage.db import session_scope, writer_turn

log = logging.getLogger(__name__)

# How often pending outcomes are written while clicks arrive, and how many passes with
# nothing to write end the thread (the next click starts one).
PASS_INTERVAL_S = 0.2
IDLE_PASSES = 5


class ShownMarks:
    """The outcomes not yet written for one database (held weakly: a dropped engine
    takes its marks with it)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._lock = threading.Lock()
        self._shown: set[str] = set()
        self._failed: set[str] = set()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        # Held while a pass writes: a flush returns only after the outcomes recorded
        # before it are committed, whichever thread took them.
        self._writing = threading.Lock()

    def record(self, key: str, *, shown: bool, now: Callable[[], datetime]) -> None:
        with self._lock:
            (self._shown if shown else self._failed).add(key)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, args=(now,), daemon=True, name="shown-marks"
                )
                self._thread.start()
        if not shown:
            self._wake.set()  # the fallback update is waited for: write it at once

    def flush(self, now: datetime) -> None:
        """Write every outcome recorded so far (one transaction)."""
        engine = self._engine()
        with self._writing:
            with self._lock:
                shown, failed = self._shown, self._failed
                self._shown, self._failed = set(), set()
            if engine is None or not (shown or failed):
                return
            try:
                with writer_turn(engine), session_scope(engine) as session:
                    if shown:
                        outbox_store.shown_by_response_url(session, shown, now=now)
                    if failed:
                        outbox_store.due_now(session, failed, now=now)
            except Exception:
                with self._lock:  # kept for the next pass; the rows' grace covers the wait
                    self._shown |= shown
                    self._failed |= failed
                raise
        if failed:
            wake_delivery()

    def _run(self, now: Callable[[], datetime]) -> None:
        idle = 0
        while True:
            self._wake.wait(PASS_INTERVAL_S)
            self._wake.clear()
            with self._lock:
                if not (self._shown or self._failed):
                    idle += 1
                    if idle >= IDLE_PASSES or self._engine() is None:
                        self._thread = None
                        return
                    continue
            idle = 0
            try:
                self.flush(now())
            except Exception:
                log.exception("recording DMs shown through response_url failed; retrying")


_marks: weakref.WeakKeyDictionary[Engine, ShownMarks] = weakref.WeakKeyDictionary()
_marks_lock = threading.Lock()


def marks_for(engine: Engine) -> ShownMarks:
    with _marks_lock:
        marks = _marks.get(engine)
        if marks is None:
            marks = _marks[engine] = ShownMarks(engine)
        return marks


def flush_shown(engine: Engine, now: datetime) -> None:
    """Write the outcomes recorded for `engine` so far: before the worker claims rows,
    and at a stop."""
    with _marks_lock:
        marks = _marks.get(engine)
    if marks is not None:
        marks.flush(now)
