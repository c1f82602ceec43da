"""LLM assist in the background: one thread that pre-labels waiting items
(bot.workflow.intake.prelabel) and then summarises new escalations for the leads
(bot.workflow.decision.summary). A thread of `Runtime`; `SlackSandbox.settle()` calls
`run_once` directly.
"""

from __future__ import annotations

import logging
import threading

from bot.delivery.outbox import wake_delivery
from bot.runtime.context import QuorumContext
from bot.workflow.decision.summary import summarize_pending_escalations
from bot.workflow.intake.prelabel import prelabel_pending

log = logging.getLogger(__name__)


class _Stopping(BaseException):
    """Raised from a backoff sleep when the worker stops: the item's call is abandoned
    and it stays waiting (a BaseException so the LLM layer does not turn it into a
    pre-label failure)."""


class LLMAssistWorker:
    """The background thread of LLM assist: pre-labels, then escalation summaries."""

    def __init__(self, ctx: QuorumContext, *, interval_s: float = 1.0) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopping

    def run_once(self) -> int:
        done = prelabel_pending(self.ctx, sleep=self._sleep).total
        done += summarize_pending_escalations(self.ctx, sleep=self._sleep)
        return done

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once():
                    wake_delivery()
            except _Stopping:
                return
            except Exception:
                log.exception("LLM assist: pre-labelling or summarising failed; will retry")
            self._stop.wait(self.interval_s)

    def start(self) -> LLMAssistWorker:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, daemon=True, name="llm-assist")
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
