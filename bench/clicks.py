"""Click latency: real review DMs, answered by concurrent reviewers with signed clicks,
against `quorum serve` and against a bare Bolt baseline served the same way.

Per backend: a scratch database, one label project per concurrency level (its own
reviewers, overlap 3, every item routed to people), items imported with the `quorum`
CLI of the checkout under test while `quorum serve` runs; the server delivers the review
DMs to the emulator; the payloads are built from the DMs as delivered
(``bot.sandbox.slack_requests.SlackRequestSender.click`` with the POST captured, so the
block_actions body, trigger id and live response_url are what the sandbox sends), and
the load generator (bench/loadgen.py, its own process) sends them.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.emulator_ext import BenchEmulator
from bench.servers import (
    BENCH_DIR,
    PYTHON,
    SIGNING_SECRET,
    Checkout,
    ServerProcess,
    quorum_cli_batch,
    quorum_env,
)
from bot.sandbox.slack_requests import SlackHttpResponse, SlackRequestSender

LABELS = ["billing", "bug", "account", "other"]
LEAD = "U0BENCHLEAD"
ESCALATION_CHANNEL = "C0ESCALATE"


# ---- projects and items -------------------------------------------------------------------


def reviewers_for(tag: str, count: int) -> list[str]:
    return [f"U{tag}R{n:03d}" for n in range(count)]


def project_yaml(name: str, reviewers: list[str], *, overlap: int = 3) -> str:
    return json.dumps(  # JSON is YAML
        {
            "name": name,
            "kind": "label",
            "question": "Which team should handle this conversation?",
            "labels": LABELS,
            "reviewers": reviewers,
            "leads": [LEAD],
            "overlap": overlap,
            "agreement": 0.66,
            "escalation_channel": ESCALATION_CHANNEL,
            "routing": {"confidence_below": 0.8, "audit_rate": 0.0},
            "timing": {"work_hours": [0, 0]},  # the real clock: every hour is a work hour
        }
    )


def items_jsonl(prefix: str, count: int) -> str:
    lines = []
    for n in range(count):
        record = {
            "id": f"{prefix}-{n}",
            "conversation": [
                {"role": "user", "content": f"I was charged twice for invoice #{n} in March."},
                {"role": "assistant", "content": "Sorry about that! Let me look into it."},
            ],
            "prediction": {"label": "billing", "confidence": 0.4, "model": "intent-v3"},
            "metadata": {"ticket": f"ZD-{n}"},
        }
        lines.append(json.dumps(record) + "\n")
    return "".join(lines)


def setup_projects(
    checkout: Checkout,
    env: dict[str, str],
    workdir: Path,
    projects: dict[str, list[str]],
    *,
    overlap: int = 3,
) -> None:
    """`quorum project apply` for each project (one interpreter for all of them)."""
    commands = []
    for name, reviewers in projects.items():
        path = workdir / f"{name}.yml"
        path.write_text(project_yaml(name, reviewers, overlap=overlap))
        commands.append(["project", "apply", str(path)])
    quorum_cli_batch(checkout, env, workdir, commands)


def import_items(
    checkout: Checkout, env: dict[str, str], workdir: Path, counts: dict[str, int]
) -> None:
    """`quorum import --project <name> <file>` for each project (one interpreter)."""
    commands = []
    for name, count in counts.items():
        path = workdir / f"{name}-items.jsonl"
        path.write_text(items_jsonl(name, count))
        commands.append(["import", "--project", name, str(path)])
    quorum_cli_batch(checkout, env, workdir, commands)


def wait_for_posts(
    emulator: BenchEmulator,
    expected: int,
    *,
    timeout_s: float,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[int, float]:
    """Wait until ``expected`` review DMs were accepted; (count, seconds waited)."""
    started = time.monotonic()
    count = 0
    last_change, last_count = started, -1
    while time.monotonic() - started < timeout_s:
        count = emulator.count_accepted("chat.postMessage", "review:")
        if on_progress:
            on_progress(count)
        if count >= expected:
            break
        if count != last_count:
            last_change, last_count = time.monotonic(), count
        elif time.monotonic() - last_change > 60:
            break  # nothing for a minute: stuck
        time.sleep(0.25)
    return count, time.monotonic() - started


# ---- clicks -------------------------------------------------------------------------------


class _CapturingSender(SlackRequestSender):
    """SlackRequestSender's own payload builders, with the POST captured instead of sent."""

    captured: dict[str, Any] | None = None

    def post_payload(self, payload: Any) -> SlackHttpResponse:
        self.captured = payload
        return SlackHttpResponse(0, "", {})


@dataclass
class Click:
    user: str
    channel: str
    ts: str
    assignment_id: int
    answer: str
    body: str  # urlencoded `payload=<json>`, exactly what the sender would POST


def answer_for(assignment_id: int) -> str:
    """Mostly the model's label, one in ten "bug": most items sign off 3-0 or 2-1, a few
    are escalated to the leads' channel."""
    return "bug" if assignment_id % 10 == 0 else "Confirm: billing"


def review_dms(emulator: BenchEmulator, user: str) -> list[dict[str, Any]]:
    channel = emulator.dm_channel(user)
    found = []
    for message in emulator.messages(channel):
        if message.get("thread_ts") not in (None, message["ts"]):
            continue
        if any(str(b.get("block_id", "")).startswith("answer:") for b in message["blocks"]):
            found.append(message)
    return sorted(found, key=lambda m: float(m["ts"]))


def build_clicks(emulator: BenchEmulator, user: str, messages: list[dict[str, Any]]) -> list[Click]:
    sender = _CapturingSender("http://127.0.0.1:9/unused", SIGNING_SECRET, emulator=emulator)
    clicks = []
    for message in messages:
        block = next(
            b for b in message["blocks"] if str(b.get("block_id", "")).startswith("answer:")
        )
        assignment_id = int(block["block_id"].split(":")[1])
        text = answer_for(assignment_id)
        sender.click(user, message, text=text)
        assert sender.captured is not None
        body = urlencode({"payload": json.dumps(sender.captured)})
        clicks.append(Click(user, message["channel"], message["ts"], assignment_id, text, body))
    return clicks


# ---- one round of load --------------------------------------------------------------------


@dataclass
class RoundRaw:
    server: str
    concurrency: int
    clicks: list[Click]  # in the order of `sent`
    sent: list[float]
    answered: list[float]
    status: list[int]
    errors: Counter[str]
    started: float
    finished: float
    cpu_s: float  # server CPU from go to the last answer
    loadgen_cpu_s: float
    cpu_settled_s: float | None = None  # server CPU from go until every DM showed its answer
    settled_at: float | None = None
    shown: list[float | None] = field(default_factory=list)
    load: list[float] = field(default_factory=list)


def run_round(
    server: ServerProcess,
    groups: list[list[Click]],
    *,
    max_seconds: float,
    timeout_s: float = 10.0,
    on_progress: Callable[[int], None] | None = None,
    load_sampler: Any = None,
    interval_s: float | None = None,
    profile_to: Path | None = None,
) -> RoundRaw:
    """One round of clicks by bench/loadgen.py: back to back per reviewer, or with
    ``interval_s`` one click per reviewer every ``interval_s`` (a steady rate). With
    ``profile_to``, py-spy samples the server (and its workers) during the round and
    writes collapsed stacks there."""
    with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as tmp:
        job_path, result_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job = {
            "url": server.url,
            "secret": SIGNING_SECRET,
            "reviewers": [[c.body for c in group] for group in groups],
            "max_seconds": max_seconds,
            "timeout_s": timeout_s,
            "interval_s": interval_s,
        }
        job_path.write_text(json.dumps(job))
        process = subprocess.Popen(
            [PYTHON, str(BENCH_DIR / "loadgen.py"), str(job_path), str(result_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        try:
            assert process.stdin is not None and process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("load generator did not start")
            mark = load_sampler.mark() if load_sampler else None
            profiler = start_profiler(server, profile_to) if profile_to else None
            cpu0 = server.cpu()
            process.stdin.write("go\n")
            process.stdin.flush()
            for line in process.stdout:
                if line.startswith("progress") and on_progress:
                    on_progress(int(line.split()[1]))
                elif line.strip() == "done":
                    break
            cpu1 = server.cpu()
            if profiler is not None:
                stop_profiler(profiler)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        result = json.loads(result_path.read_text())
    rows = sorted(result["clicks"], key=lambda row: row[2])
    clicks = [groups[r][i] for r, i, *_ in rows]
    return RoundRaw(
        server=server.name,
        concurrency=len(groups),
        clicks=clicks,
        sent=[row[2] for row in rows],
        answered=[row[3] for row in rows],
        status=[row[4] for row in rows],
        errors=Counter(row[5].split(":")[0] for row in rows if row[5]),
        started=result["started"],
        finished=result["finished"],
        cpu_s=cpu1 - cpu0,
        loadgen_cpu_s=result["cpu_s"],
        load=load_sampler.since(mark) if load_sampler else [],
    )


def start_profiler(server: ServerProcess, out: Path) -> subprocess.Popen:
    """py-spy (not a dependency: `pip install py-spy`) on the server and its workers,
    sampling the thread that holds the GIL: where the CPU goes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    args = ["py-spy", "record", "--pid", str(server.pid), "--subprocesses", "--gil"]
    args += ["--rate", "250", "--format", "raw", "--output", str(out), "--nonblocking"]
    profiler = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches before the first click
    return profiler


def stop_profiler(profiler: subprocess.Popen) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    profiler.wait(timeout=60)


def wait_shown(
    emulator: BenchEmulator,
    raw: RoundRaw,
    server: ServerProcess,
    *,
    cpu_before: float,
    timeout_s: float,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Wait until every clicked DM shows its answer (or nothing moves for 15 s, or the
    timeout); fill in ``shown`` and the CPU spent until then."""
    keys = [(c.channel, c.ts) for c in raw.clicks]
    started = time.monotonic()
    last_change, last_count = started, -1
    while True:
        count = sum(1 for key in keys if key in emulator.shown_at)
        if on_progress:
            on_progress(count)
        now = time.monotonic()
        if count >= len(keys) or now - started > timeout_s:
            break
        if count != last_count:
            last_change, last_count = now, count
        elif now - last_change > 10:
            break
        time.sleep(0.1)
    raw.shown = [emulator.shown_at.get(key) for key in keys]
    done = [t for t in raw.shown if t is not None]
    raw.settled_at = max(done) if len(done) == len(keys) and done else None
    raw.cpu_settled_s = server.cpu() - cpu_before


# ---- statistics ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(raw: RoundRaw) -> dict[str, Any]:
    n = len(raw.status)
    ok = [
        (a - s) * 1000
        for s, a, st in zip(raw.sent, raw.answered, raw.status, strict=True)
        if st == 200
    ]
    every = [(a - s) * 1000 for s, a in zip(raw.sent, raw.answered, strict=True)]
    span = (max(raw.answered) - min(raw.sent)) if n else 0.0
    statuses = Counter(str(s) for s in raw.status if s != 200)
    out: dict[str, Any] = {
        "server": raw.server,
        "concurrency": raw.concurrency,
        "clicks": n,
        "ok": len(ok),
        "errors": dict(sorted(statuses.items())),
        "error_kinds": dict(raw.errors),
        "over_3s": sum(1 for ms in every if ms > 3000),
        "ok_within_3s": sum(1 for ms in ok if ms <= 3000),
        "p50_ms": percentile(ok, 50),
        "p95_ms": percentile(ok, 95),
        "p99_ms": percentile(ok, 99),
        "max_ms": max(ok) if ok else None,
        "mean_ms": sum(ok) / len(ok) if ok else None,
        "seconds": span,
        "throughput": n / span if span > 0 else None,
        "cpu_ms_per_click": raw.cpu_s * 1000 / n if n else None,
        "loadgen_cpu_ms_per_click": raw.loadgen_cpu_s * 1000 / n if n else None,
        "load_avg": _load_summary(raw.load),
    }
    if raw.shown:
        delays = [(t - s) * 1000 for t, s in zip(raw.shown, raw.sent, strict=True) if t is not None]
        out.update(
            {
                "shown": len(delays),
                "not_shown": n - len(delays),
                "shown_p50_ms": percentile(delays, 50),
                "shown_p95_ms": percentile(delays, 95),
                "shown_p99_ms": percentile(delays, 99),
                "shown_max_ms": max(delays) if delays else None,
                "cpu_ms_per_click_settled": (raw.cpu_settled_s or 0) * 1000 / n if n else None,
                "settled_s": (raw.settled_at - min(raw.sent)) if raw.settled_at and n else None,
            }
        )
    return out


def _load_summary(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}


# ---- the database after the run -----------------------------------------------------------


def check_database(engine: Any, rounds: list[RoundRaw]) -> dict[str, Any]:
    """Every click answered 200 recorded exactly once; what became of the others."""
    from sqlalchemy import text

    ok_ids: set[int] = set()
    other_ids: set[int] = set()
    sent_ok: Counter[int] = Counter()
    for raw in rounds:
        if not raw.server.startswith("quorum"):  # the warm-up's clicks are Quorum's too
            continue
        for click, status in zip(raw.clicks, raw.status, strict=True):
            if status == 200:
                ok_ids.add(click.assignment_id)
                sent_ok[click.assignment_id] += 1
            else:
                other_ids.add(click.assignment_id)
    with engine.connect() as connection:
        per_assignment = Counter(
            {
                int(a): int(n)
                for a, n in connection.execute(
                    text("SELECT assignment_id, COUNT(*) FROM response GROUP BY assignment_id")
                )
            }
        )
        pairs = connection.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT item_id, reviewer_id FROM response "
                "GROUP BY item_id, reviewer_id HAVING COUNT(*) > 1) AS d"
            )
        ).scalar_one()
        answered_events = connection.execute(
            text("SELECT COUNT(*) FROM event WHERE kind = 'answered'")
        ).scalar_one()
        outbox = Counter(
            {
                f"{op} {status}": int(n)
                for op, status, n in connection.execute(
                    text(
                        "SELECT operation, status, COUNT(*) FROM outboxmessage "
                        "GROUP BY operation, status"
                    )
                )
            }
        )
        items = Counter(
            {
                str(status): int(n)
                for status, n in connection.execute(
                    text("SELECT status, COUNT(*) FROM item GROUP BY status")
                )
            }
        )
    recorded = set(per_assignment)
    duplicates = {a: n for a, n in per_assignment.items() if n > 1}
    result = {
        "clicks_ok": sum(sent_ok.values()),
        "assignments_clicked_ok": len(ok_ids),
        "clicked_twice": sum(1 for n in sent_ok.values() if n > 1),
        "responses": sum(per_assignment.values()),
        "ok_recorded_once": sum(1 for a in ok_ids if per_assignment.get(a) == 1),
        "ok_missing": sorted(ok_ids - recorded)[:20],
        "ok_missing_count": len(ok_ids - recorded),
        "duplicates": len(duplicates),
        "duplicate_item_reviewer_pairs": int(pairs),
        "failed_clicks_recorded_anyway": len((other_ids - ok_ids) & recorded),
        "failed_clicks_not_recorded": len((other_ids - ok_ids) - recorded),
        "unexpected_responses": len(recorded - ok_ids - other_ids),
        "answered_events": int(answered_events),
        "outbox": dict(sorted(outbox.items())),
        "items": dict(sorted(items.items())),
    }
    result["exactly_once"] = (
        result["ok_recorded_once"] == len(ok_ids)
        and not duplicates
        and not pairs
        and result["unexpected_responses"] == 0
        and result["responses"] == int(answered_events)
    )
    return result


# ---- a whole backend ----------------------------------------------------------------------


class LoadSampler:
    """The 1-minute load average, sampled every second in a daemon thread."""

    def __init__(self) -> None:
        import os

        self._os = os
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="load-sampler")

    def start(self) -> LoadSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self._os.getloadavg()[0]))
            self._stop.wait(1.0)

    def mark(self) -> float:
        return time.monotonic()

    def since(self, mark: float) -> list[float]:
        return [load for at, load in self.samples if at >= mark]

    def stop(self) -> None:
        self._stop.set()


def quorum_server_env(checkout: Checkout, database_url: str, api_url: str) -> dict[str, str]:
    return quorum_env(checkout, database_url, api_url, QUORUM_PACING_SCALE="0")


# ---- one backend, every level -------------------------------------------------------------

PROJECT_POOL = 50  # reviewers per project at most; see plan_levels
WARMUP_CLICKS = 3  # per reviewer of the smallest level, before anything is measured

Progress = Callable[[str, int], Callable[[int], None]]  # (description, total) -> update(done)


@dataclass
class Level:
    concurrency: int
    per_reviewer: int  # clicks per reviewer per round
    projects: dict[str, list[str]]  # project name -> its reviewers
    items: dict[str, int]  # project name -> items to import

    @property
    def reviewers(self) -> list[str]:
        return [r for people in self.projects.values() for r in people]


def plan_levels(levels: list[int], clicks: dict[int, int], repeats: int) -> list[Level]:
    """Per level: its reviewers in projects of at most PROJECT_POOL (dispatch cost grows
    with the square of a project's pool at 01f69fb, see the dispatch probe), and enough
    items that each reviewer has a DM for every click of every round, plus a spare.
    Overlap 3 and least-loaded assignment give each reviewer 3 * items / pool DMs."""
    plan = []
    for index, c in enumerate(sorted(levels)):
        per_reviewer = max(1, math.ceil(clicks[c] / c))
        needed = per_reviewer * repeats + 1 + (WARMUP_CLICKS if index == 0 else 0)
        people = reviewers_for(f"C{c:03d}", c)
        projects: dict[str, list[str]] = {}
        for j in range(0, c, PROJECT_POOL):
            projects[f"bench-c{c}-{j // PROJECT_POOL + 1}"] = people[j : j + PROJECT_POOL]
        items = {name: math.ceil(len(pool) * needed / 3) for name, pool in projects.items()}
        plan.append(Level(c, per_reviewer, projects, items))
    return plan


def _median(values: list[Any]) -> Any:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    mid = len(present) // 2
    return present[mid] if len(present) % 2 else (present[mid - 1] + present[mid]) / 2


def combine(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Repeats of one (server, level): the median of each figure, totals of counts, the
    largest max."""
    if not summaries:
        return {}
    out: dict[str, Any] = {"repeats": len(summaries)}
    totals = ("clicks", "ok", "over_3s", "ok_within_3s", "shown", "not_shown")
    maxima = ("max_ms", "shown_max_ms")
    for key in summaries[0]:
        values = [s.get(key) for s in summaries]
        if key in totals:
            out[key] = sum(v or 0 for v in values)
        elif key in maxima:
            present = [v for v in values if v is not None]
            out[key] = max(present) if present else None
        elif key in ("errors", "error_kinds"):
            merged: Counter[str] = Counter()
            for v in values:
                merged.update(v or {})
            out[key] = dict(sorted(merged.items()))
        elif key == "load_avg":
            loads = [v for v in values if v]
            out[key] = (
                {
                    "min": min(v["min"] for v in loads),
                    "median": _median([v["median"] for v in loads]),
                    "max": max(v["max"] for v in loads),
                }
                if loads
                else None
            )
        elif all(isinstance(v, int | float) or v is None for v in values):
            out[key] = _median(values)
        else:
            out[key] = values[0]
    return out


def run_backend(
    checkout: Checkout,
    db: Any,
    workdir: Path,
    *,
    levels: list[int],
    clicks: dict[int, int],
    repeats: int,
    max_seconds: float,
    rounds_budget_s: float,
    progress: Progress,
    sampler: LoadSampler,
    log: Callable[[str], None],
    workers: int = 1,
    profile_dir: Path | None = None,
    pace_s: float | None = None,
) -> dict[str, Any]:
    """Everything measured on one database: setup, warm-up, the rounds (Quorum then
    baseline, per level, per repeat), the database check. `workers` > 1 serves Quorum as
    `quorum serve --workers N`; `pace_s` spaces each reviewer's clicks that far apart."""
    from bench.servers import start_baseline, start_quorum

    plan = plan_levels(levels, clicks, repeats)
    emulator = BenchEmulator(bot_token="xoxb-emulator-token").start()
    rounds: list[RoundRaw] = []
    summaries: dict[tuple[str, int], list[dict[str, Any]]] = {}
    served_as = db.backend if workers == 1 else f"{db.backend}:{workers}"
    result: dict[str, Any] = {"backend": served_as, "workers": workers}
    server = None
    baseline = None
    try:
        emulator.add_user(LEAD)
        emulator.add_channel(ESCALATION_CHANNEL, "escalations")
        for level in plan:
            for user in level.reviewers:
                emulator.add_user(user)
        env = quorum_server_env(checkout, db.url, emulator.api_url)
        setup_started = time.monotonic()
        setup_projects(
            checkout, env, workdir, {n: p for level in plan for n, p in level.projects.items()}
        )
        server = start_quorum(
            checkout, db.url, emulator.api_url, workdir, workers=workers, QUORUM_PACING_SCALE="0"
        )
        baseline = start_baseline(checkout, emulator.api_url, workdir)
        served = [line for line in baseline.log.read_text().splitlines() if "serving via" in line]
        result["baseline_served"] = served[0] if served else None
        imported_at = time.monotonic()
        import_items(
            checkout, env, workdir, {n: c for level in plan for n, c in level.items.items()}
        )
        expected = sum(3 * n for level in plan for n in level.items.values())
        update = progress(f"{db.backend}: review DMs delivered", expected)
        delivered, waited = wait_for_posts(emulator, expected, timeout_s=900, on_progress=update)
        delivery_s = time.monotonic() - imported_at
        result["setup"] = {
            "dms": delivered,
            "dms_expected": expected,
            "items": sum(n for level in plan for n in level.items.values()),
            "projects": {name: len(p) for level in plan for name, p in level.projects.items()},
            "seconds_total": time.monotonic() - setup_started,
            "seconds_delivery": delivery_s,
            "dms_per_s": delivered / delivery_s if delivery_s else None,
        }
        if delivered < expected:
            log(f"[red]{db.backend}: only {delivered} of {expected} review DMs arrived[/]")

        inbox = {user: review_dms(emulator, user) for level in plan for user in level.reviewers}
        taken = Counter[str]()

        def next_clicks(level: Level, count: int) -> list[list[Click]]:
            groups = []
            for user in level.reviewers:
                messages = inbox[user][taken[user] : taken[user] + count]
                taken[user] += len(messages)
                groups.append(build_clicks(emulator, user, messages))
            return [g for g in groups if g]

        # Warm-up: first requests pay for imports and caches; not reported.
        warm = next_clicks(plan[0], WARMUP_CLICKS)
        cpu0 = server.cpu()
        raw = run_round(server, warm, max_seconds=max_seconds)
        wait_shown(emulator, raw, server, cpu_before=cpu0, timeout_s=60)
        raw.server = "quorum-warmup"
        rounds.append(raw)

        rounds_started = time.monotonic()
        cost: dict[int, float] = {}  # level -> seconds its first rounds took
        skipped: list[str] = []
        for rep in range(repeats):
            for level in plan:
                elapsed = time.monotonic() - rounds_started
                if rep > 0 and elapsed + cost[level.concurrency] > rounds_budget_s:
                    skipped.append(f"c={level.concurrency} round {rep + 1}")
                    continue  # repeats only where cheap: the first round always runs
                level_started = time.monotonic()
                groups = next_clicks(level, level.per_reviewer)
                total = sum(len(g) for g in groups)
                label = f"{db.backend} c={level.concurrency} round {rep + 1}/{repeats}"
                cpu0 = server.cpu()
                raw = run_round(
                    server,
                    groups,
                    max_seconds=max_seconds,
                    on_progress=progress(f"{label}: Quorum clicks", total),
                    load_sampler=sampler,
                    interval_s=pace_s,
                    profile_to=(
                        profile_dir / f"{served_as}-c{level.concurrency}-r{rep + 1}.txt"
                        if profile_dir
                        else None
                    ),
                )
                wait_shown(
                    emulator,
                    raw,
                    server,
                    cpu_before=cpu0,
                    timeout_s=120,
                    on_progress=progress(f"{label}: DMs showing the answer", len(raw.clicks)),
                )
                rounds.append(raw)
                summaries.setdefault(("quorum", level.concurrency), []).append(summarize(raw))
                base = run_round(
                    baseline,
                    groups,
                    max_seconds=max_seconds,
                    on_progress=progress(f"{label}: baseline clicks", total),
                    load_sampler=sampler,
                    interval_s=pace_s,
                )
                rounds.append(base)
                summaries.setdefault(("baseline", level.concurrency), []).append(summarize(base))
                cost.setdefault(level.concurrency, time.monotonic() - level_started)
                q, b = (
                    summaries[("quorum", level.concurrency)][-1],
                    summaries[("baseline", level.concurrency)][-1],
                )
                log(
                    f"{label}: Quorum p50 {q['p50_ms']:.0f} ms p99 {q['p99_ms'] or 0:.0f} ms "
                    f"{q['throughput'] or 0:.0f}/s; baseline p50 {b['p50_ms']:.0f} ms "
                    f"{b['throughput'] or 0:.0f}/s; errors {q['errors'] or 'none'}"
                )
        if skipped:
            log(f"{db.backend}: over the rounds budget ({rounds_budget_s:g} s), skipped {skipped}")
        result["rounds_skipped"] = skipped
        result["rounds_s"] = time.monotonic() - rounds_started
        stopped = server.stop()
        result["quorum_exit"] = {"code": stopped, "stop_s": server.stop_s, "killed": server.killed}
        server = None
        result["db_check"] = check_database(db.engine(), rounds)
        result["levels"] = {
            str(level.concurrency): {
                "reviewers": level.concurrency,
                "projects": len(level.projects),
                "clicks_per_reviewer_per_round": level.per_reviewer,
                "quorum": combine(summaries.get(("quorum", level.concurrency), [])),
                "baseline": combine(summaries.get(("baseline", level.concurrency), [])),
                "rounds": {
                    "quorum": summaries.get(("quorum", level.concurrency), []),
                    "baseline": summaries.get(("baseline", level.concurrency), []),
                },
            }
            for level in plan
        }
        result["emulator"] = {
            "calls": dict(emulator.status_counts()),
            "shown_via": dict(emulator.shown_via),
            "response_url_posts": len(emulator.response_posts()),
        }
        return result
    finally:
        if server is not None:
            server.stop()
        if baseline is not None:
            baseline.stop()
        emulator.stop()
