"""Delivery rate: N review DMs to R reviewers through `quorum serve`, with the emulator
enforcing Slack's chat.postMessage caps (workspace-wide and per channel) scaled by the
same factor as the bot's pacing (`QUORUM_PACING_SCALE`), so the bot's pacer and the cap
it must respect describe the same Slack.

Measured: DMs per minute (from the import to the last DM, and first to last DM), the
most DMs the emulator accepted in any 60 s window (against the cap), the same per
channel, 429s the emulator answered (workspace / channel), review DMs posted twice
(same idempotency key accepted twice), outbox rows left unsent, server CPU per DM.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.clicks import (
    LEAD,
    PROJECT_POOL,
    import_items,
    reviewers_for,
    setup_projects,
    wait_for_posts,
)
from bench.emulator_ext import BenchEmulator
from bench.servers import Checkout, ScratchDb, quorum_env, start_quorum

SLACK_WORKSPACE_POSTS_PER_MIN = 300  # bot/delivery/pacing.py LIMITS, docs/delivery.md
SLACK_CHANNEL_POSTS_PER_MIN = 60


def max_in_window(times: list[float], window_s: float = 60.0) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def review_posts(emulator: BenchEmulator) -> list[tuple[float, str, str]]:
    """(time, channel, idempotency key) of every accepted review DM."""
    found = []
    for call in emulator.calls_to("chat.postMessage"):
        if call.status != 200 or not call.response.get("ok"):
            continue
        metadata = call.args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        key = str(((metadata or {}).get("event_payload") or {}).get("idempotency_key"))
        if key.startswith("review:"):
            found.append((call.at, str(call.response.get("channel")), key))
    return found


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def pacing_backlog(db: ScratchDb) -> dict[str, Any]:
    """When the wait ended: review DMs still pending, how far ahead their reserved pacing
    slots reach, and how far each pace bucket's schedule (`tat`) runs ahead of now."""
    from sqlalchemy import text

    now = datetime.now(UTC)
    with db.engine().connect() as connection:
        pending = connection.execute(
            text(
                "SELECT pace_slot_at FROM outboxmessage WHERE status = 'pending' "
                "AND operation = 'post_dm'"
            )
        ).all()
        buckets = connection.execute(text("SELECT key, tat FROM pace_bucket")).all()
    slots = [s for s in (_as_utc(row[0]) for row in pending) if s is not None]
    ahead = {
        str(key): round((tat - now).total_seconds(), 1)
        for key, tat in ((k, _as_utc(t)) for k, t in buckets)
        if tat is not None and not str(key).startswith("chat.postMessage:")
    }
    channel = [
        (tat - now).total_seconds()
        for key, tat in ((k, _as_utc(t)) for k, t in buckets)
        if tat is not None and str(key).startswith("chat.postMessage:")
    ]
    return {
        "pending_dms": len(pending),
        "pending_with_reserved_slot": len(slots),
        "latest_slot_ahead_s": round(max((s - now).total_seconds() for s in slots), 1)
        if slots
        else None,
        "bucket_ahead_s": ahead,
        "channel_bucket_max_ahead_s": round(max(channel), 1) if channel else None,
    }


def run_delivery(
    checkout: Checkout,
    db: ScratchDb,
    workdir: Path,
    *,
    dms: int,
    reviewers: int,
    scale: float,
    overlap: int = 2,
    max_wait_s: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    workspace_cap = int(SLACK_WORKSPACE_POSTS_PER_MIN * scale)
    channel_cap = int(SLACK_CHANNEL_POSTS_PER_MIN * scale)
    capped = scale > 0  # 0: the bot's pacing off and the emulator uncapped (raw speed)
    emulator = BenchEmulator(
        bot_token="xoxb-emulator-token",
        rate_limits={"chat.postMessage": workspace_cap} if capped else None,
        per_channel_limits={"chat.postMessage": channel_cap} if capped else None,
    ).start()
    try:
        people = reviewers_for("DLV", reviewers)
        for user in [*people, LEAD]:
            emulator.add_user(user)
        emulator.add_channel("C0ESCALATE", "escalations")
        env = quorum_env(checkout, db.url, emulator.api_url, QUORUM_PACING_SCALE=str(scale))
        # Projects of at most PROJECT_POOL reviewers: at 01f69fb dispatch costs grow with the
        # square of a project's pool (see the dispatch probe), which would measure that.
        projects = {
            f"bench-delivery-{j // PROJECT_POOL + 1}": people[j : j + PROJECT_POOL]
            for j in range(0, reviewers, PROJECT_POOL)
        }
        setup_projects(checkout, env, workdir, projects, overlap=overlap)
        per_project = math.ceil(dms / overlap / len(projects))
        items = per_project * len(projects)
        expected = items * overlap
        server = start_quorum(
            checkout, db.url, emulator.api_url, workdir, QUORUM_PACING_SCALE=str(scale)
        )
        try:
            cpu0 = server.cpu()
            started = time.monotonic()
            import_items(checkout, env, workdir, dict.fromkeys(projects, per_project))
            imported = time.monotonic()
            # At the cap this takes expected / cap minutes; allow twice that and a minute.
            limit_s = expected / (workspace_cap or 3000) * 60 * 2 + 60
            if max_wait_s is not None:
                limit_s = min(limit_s, max_wait_s)
            count, _waited = wait_for_posts(
                emulator, expected, timeout_s=limit_s, on_progress=on_progress
            )
            finished = time.monotonic()
            cpu = server.cpu() - cpu0
            backlog = pacing_backlog(db)
        finally:
            exit_code = server.stop()
        posts = review_posts(emulator)
        times = [t for t, _, _ in posts]
        keys = Counter(key for _, _, key in posts)
        per_channel: dict[str, list[float]] = defaultdict(list)
        for t, channel, _ in posts:
            per_channel[channel].append(t)
        with db.engine().connect() as connection:
            from sqlalchemy import text

            outbox = {
                f"{op} {status}": int(n)
                for op, status, n in connection.execute(
                    text(
                        "SELECT operation, status, COUNT(*) FROM outboxmessage "
                        "GROUP BY operation, status"
                    )
                )
            }
        first, last = (min(times), max(times)) if times else (started, started)
        per_10s = Counter(int((t - started) // 10) for t in times)
        return {
            "backend": db.backend,
            "dms_expected": expected,
            "dms_delivered": len(keys),
            "reviewers": reviewers,
            "items": items,
            "projects": len(projects),
            "overlap": overlap,
            "pacing_scale": scale,
            "workspace_cap_per_min": workspace_cap,
            "channel_cap_per_min": channel_cap,
            "import_s": imported - started,
            "seconds_to_last": last - started,
            "seconds_first_to_last": last - first,
            "timed_out": count < expected,
            "wait_limit_s": limit_s,
            "per_min_from_import": len(times) / (last - started) * 60 if last > started else None,
            "per_min_first_to_last": (len(times) - 1) / (last - first) * 60
            if last > first
            else None,
            "max_in_60s": max_in_window(times),
            "max_in_60s_channel": max((max_in_window(v) for v in per_channel.values()), default=0),
            "rate_limited": dict(emulator.rate_limited),
            "status_counts": {
                k: v for k, v in sorted(emulator.status_counts().items()) if not k.endswith(" 200")
            },
            "calls": dict(Counter(c.method for c in emulator.calls)),
            "duplicates": sum(1 for n in keys.values() if n > 1),
            "duplicate_posts": sum(n - 1 for n in keys.values() if n > 1),
            "outbox": outbox,
            "cpu_s": cpu,
            "cpu_ms_per_dm": cpu * 1000 / len(times) if times else None,
            "per_10s": [per_10s.get(n, 0) for n in range(int((last - started) // 10) + 1)],
            "exit_code": exit_code,
            "stop_s": server.stop_s,
            "killed_after_sigterm": server.killed,
            "backlog_at_end": backlog,
            "wall_s": finished - started,
        }
    finally:
        emulator.stop()
