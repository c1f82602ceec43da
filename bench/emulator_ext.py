"""The Slack emulator as the benchmark needs it: per-channel rate caps on top of the
emulator's workspace-wide ones, and a timestamp for the moment each review DM first shows
a recorded answer.

``SlackEmulator(rate_limits={method: per_minute})`` caps a method workspace-wide (a
60-second sliding window, 429 + Retry-After beyond it). Slack also caps
chat.postMessage per channel (about one a second); the emulator has no such cap, so
``BenchEmulator(per_channel_limits={method: per_minute})`` adds one, checked before the
workspace cap and answered the same way. A call refused by either cap does not count
against the other.

Answer shown: the bot shows a recorded answer either by chat.update of the review DM or
by a ``replace_original`` POST to the click's response_url. Both paths are watched: the
first time the stored DM has no ``answer:<assignment>`` block any more, the time
(``time.monotonic``, the same clock as the load generator's) is kept in ``shown_at``.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from typing import Any

from bot.sandbox.slack_emulator import SlackEmulator


def _has_answer_block(message: dict[str, Any]) -> bool:
    return any(
        str(block.get("block_id", "")).startswith("answer:")
        for block in message.get("blocks") or []
        if isinstance(block, dict)
    )


class BenchEmulator(SlackEmulator):
    def __init__(self, *, per_channel_limits: dict[str, int] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._per_channel_limits = dict(per_channel_limits or {})
        self._channel_windows: dict[tuple[str, str], deque[float]] = {}
        self.shown_at: dict[tuple[str, str], float] = {}  # (channel, ts) -> first time
        self.shown_via: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()  # "<method> workspace|channel" -> 429s

    # ---- per-channel caps ------------------------------------------------------------------

    def _channel_wait(self, method: str, channel: str) -> int | None:
        limit = self._per_channel_limits[method]
        now = self._clock()
        window = self._channel_windows.setdefault((method, channel), deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= limit:
            return max(1, math.ceil(window[0] + 60 - now))
        return None

    def _handle_api(
        self, method: str, args: dict[str, Any], auth_header: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        with self._lock:  # re-entrant: the parent takes it again
            channel = None
            if method in self._per_channel_limits and isinstance(args.get("channel"), str):
                channel = self._known_channel_id(args["channel"])
                wait = self._channel_wait(method, channel)
                if wait is not None:
                    body = {"ok": False, "error": "ratelimited"}
                    self._record(method, {k: v for k, v in args.items() if k != "token"}, body, 429)
                    self.rate_limited[f"{method} channel"] += 1
                    return 429, body, {"Retry-After": str(wait)}
            answer = super()._handle_api(method, args, auth_header)
            if answer is None:
                return None
            status, body, _headers = answer
            if status == 429 and body.get("error") == "ratelimited":
                self.rate_limited[f"{method} workspace"] += 1
            elif channel is not None:
                self._channel_windows[(method, channel)].append(self._clock())
            if method == "chat.update" and status == 200 and body.get("ok"):
                self._note_shown(body.get("channel"), body.get("ts"), via="chat.update")
            return answer

    # ---- answer shown ----------------------------------------------------------------------

    def _note_shown(self, channel: Any, ts: Any, *, via: str) -> None:
        if not isinstance(channel, str) or not isinstance(ts, str):
            return
        key = (channel, ts)
        if key in self.shown_at:
            return
        for message in self._messages.get(channel, []):
            if message["ts"] == ts:
                if not _has_answer_block(message):
                    self.shown_at[key] = time.monotonic()
                    self.shown_via[via] += 1
                return

    def _handle_response_url(self, token: str, payload: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            binding = self._responses.get(token)
            status, body = super()._handle_response_url(token, payload)
            if status == 200 and binding is not None:
                self._note_shown(binding.channel, binding.message_ts, via="response_url")
            return status, body

    # ---- inspection ------------------------------------------------------------------------

    def post_times(self, method: str = "chat.postMessage") -> list[float]:
        """Emulator-clock times of the accepted calls of ``method``."""
        with self._lock:
            return [
                c.at
                for c in self.calls
                if c.method == method and c.status == 200 and c.response.get("ok")
            ]

    def posted_keys(self) -> Counter[str]:
        """Idempotency key -> chat.postMessage calls accepted with it."""
        import json

        counts: Counter[str] = Counter()
        with self._lock:
            calls = [c for c in self.calls if c.method == "chat.postMessage"]
            for call in calls:
                if call.status != 200 or not call.response.get("ok"):
                    continue
                metadata = call.args.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                key = ((metadata or {}).get("event_payload") or {}).get("idempotency_key")
                counts[str(key)] += 1
        return counts

    def count_accepted(self, method: str, prefix: str = "review:") -> int:
        """Accepted chat.postMessage calls whose idempotency key starts with ``prefix``
        (cheap enough to poll: no copies)."""
        with self._lock:
            n = 0
            for call in self.calls:
                if call.method != method or call.status != 200:
                    continue
                metadata = call.args.get("metadata")
                if isinstance(metadata, str):
                    if f'"idempotency_key": "{prefix}' in metadata or (
                        f'"idempotency_key":"{prefix}' in metadata
                    ):
                        n += 1
                elif isinstance(metadata, dict):
                    key = (metadata.get("event_payload") or {}).get("idempotency_key", "")
                    n += str(key).startswith(prefix)
            return n

    def status_counts(self) -> Counter[str]:
        with self._lock:
            return Counter(f"{c.method} {c.status}" for c in self.calls)
