"""The API's rate limit: a token bucket per caller in this process's memory (each web
process keeps its own, so N processes allow up to N times the rate). The key is the
SHA-256 of the bearer token presented, valid or not, or the client's address when none
was: taken on the event loop before a request asks for a thread (bot/api/runtime.py)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

# Buckets kept before full ones are dropped: a client sending a new garbage token each
# time would otherwise grow the table without end.
PRUNE_ABOVE = 10_000


class RateLimiter:
    """`rate` requests a second on average, up to `burst` at once, per key."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._prune_above = PRUNE_ABOVE

    def take(self, key: str) -> int | None:
        """None when the request may go ahead; else the whole seconds (>= 1) after which
        one would (Retry-After)."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = None
            else:
                self._buckets[key] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / self.rate))
            if len(self._buckets) > self._prune_above:
                self._prune(now)
            return wait

    def _prune(self, now: float) -> None:
        """Drop buckets that have refilled (forgetting them changes nothing); if most are
        still in use, prune again only once the table has doubled (no scan per request)."""
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        self._prune_above = max(PRUNE_ABOVE, 2 * len(self._buckets))
