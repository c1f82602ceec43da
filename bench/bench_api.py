"""Model pipelines through the REST API: items/s accepted, and how soon a sign-off reaches
the pipeline by webhook, against real `quorum serve` processes on SQLite and PostgreSQL.

    python -m bench.bench_api [--quick] [--backends sqlite,postgres] [--json OUT]

Method, per backend, in one run:
- A label project whose routing auto-accepts confident predictions (confidence >= 0.8,
  no audit sample), so every item pushed is signed off by the dispatch loop with no
  Slack click, and fires `label.signed_off`. A write token (`quorum token create`) and a
  webhook (`quorum webhook add`) to a receiver in this process that checks every
  signature with `quorum_client.verify_webhook`.
- **Accepted items/s**: `--items` items pushed with `quorum_client.Client.submit` in
  POSTs of 1,000 (the API's limit), wall time of the POSTs; then `--singles` items one
  POST each, as a pipeline sending predictions as they happen. Baseline in the same
  run: `quorum import` of a JSONL file with the same number of items (a new process,
  as a pipeline without the API would run it; its start-up is part of what it costs).
- **Sign-off -> pipeline**: for every label, the receiver's arrival time minus the
  label's `signed_off_at` (webhook), and, in the same run, the time a consumer polling
  `GET /labels` once a second (`Client.labels(follow=True, poll_s=1)`) first sees it:
  the baseline a pipeline without webhooks would have. Also push -> webhook (from the
  POST's answer to the arrival), the whole round trip a pipeline waits for.
- Checks: every item gets exactly one webhook delivery and appears once in the feed.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.emulator_ext import BenchEmulator
from bench.machine import describe
from bench.servers import (
    BOT_TOKEN,
    Checkout,
    postgres_version,
    quorum_cli,
    quorum_env,
    scratch_db,
    start_quorum,
)
from quorum_client import Client, verify_webhook

PROJECT = "bench-api"
REVIEWERS = ["U0BENCH1", "U0BENCH2", "U0BENCH3"]
LEAD = "U0BENCHLEAD"
CHANNEL = "C0BENCHESC"
console = Console(width=170)
RESULTS = Path(__file__).resolve().parent / "results"


def project_yaml() -> str:
    return f"""name: {PROJECT}
kind: label
question: Which team should handle this conversation?
labels: [billing, bug, account, other]
reviewers: [{", ".join(REVIEWERS)}]
leads: [{LEAD}]
overlap: 3
agreement: 0.66
escalation_channel: {CHANNEL}
routing:
  confidence_below: 0.8
  audit_rate: 0.0
"""


def items(prefix: str, count: int) -> list[dict[str, Any]]:
    labels = ["billing", "bug", "account", "other"]
    return [
        {
            "id": f"{prefix}-{n}",
            "conversation": [
                {"role": "user", "content": f"Ticket {prefix} {n}: I was charged twice"}
            ],
            "prediction": {"label": labels[n % 4], "confidence": 0.95, "model": "intent-v3"},
        }
        for n in range(count)
    ]


class Receiver:
    """A webhook endpoint: records when each event arrived, refuses bad signatures."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrivals: dict[str, float] = {}  # event id -> time.time()
        self.bodies: dict[str, dict[str, Any]] = {}
        self.deliveries = 0
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                now = time.time()
                if not verify_webhook(receiver.secret, dict(self.headers), body):
                    receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                event = json.loads(body)
                receiver.deliveries += 1
                receiver.arrivals.setdefault(event["id"], now)
                receiver.bodies[event["id"]] = event
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/quorum"

    def labels(self) -> dict[str, tuple[float, dict[str, Any]]]:
        """item id -> (arrival, label record) for label.signed_off events."""
        return {
            body["data"]["id"]: (self.arrivals[event_id], body["data"])
            for event_id, body in list(self.bodies.items())
            if body["type"] == "label.signed_off"
        }

    def close(self) -> None:
        self.server.shutdown()


class Poller(threading.Thread):
    """A consumer without webhooks: follows the labels feed, asking once a second."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.client = Client(url, token)
        self.seen: dict[str, float] = {}
        self.repeats = 0
        self.stop = threading.Event()

    def run(self) -> None:
        cursor = None
        while not self.stop.is_set():
            feed = self.client.labels(PROJECT, after=cursor)
            for record in feed:
                if record["id"] in self.seen:
                    self.repeats += 1
                self.seen.setdefault(record["id"], time.time())
            cursor = feed.cursor
            self.stop.wait(1.0)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def wait(what: str, done: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": at(0.5), "p95": at(0.95), "max": ordered[-1], "n": len(ordered)}


def run_backend(
    backend: str, checkout: Checkout, workdir: Path, pg_admin_url: str, n_items: int, singles: int
) -> dict[str, Any]:
    emulator = BenchEmulator(bot_token=BOT_TOKEN).start()
    receiver = Receiver()
    try:
        for user in [*REVIEWERS, LEAD]:
            emulator.add_user(user)
        emulator.add_channel(CHANNEL, "escalations")
        with scratch_db(backend, workdir, pg_admin_url) as db:
            env = quorum_env(checkout, db.url, emulator.api_url, QUORUM_PACING_SCALE="0")
            config = workdir / f"{PROJECT}.yml"
            config.write_text(project_yaml())
            quorum_cli(checkout, env, workdir, "project", "apply", str(config))
            created = quorum_cli(
                checkout, env, workdir, "token", "create", "--project", PROJECT, "--scope", "write"
            )
            token = created.strip().splitlines()[-1].strip()
            added = quorum_cli(
                checkout, env, workdir, "webhook", "add", "--project", PROJECT, receiver.url
            )
            found = re.search(r"whsec_\S+", added)
            assert found, added
            receiver.secret = found.group(0)
            server = start_quorum(
                checkout, db.url, emulator.api_url, workdir, QUORUM_PACING_SCALE="0"
            )
            poller = Poller(f"http://127.0.0.1:{server.port}", token)
            try:
                poller.start()
                with Client(f"http://127.0.0.1:{server.port}", token) as client:
                    batch = items("batch", n_items)
                    pushed_at: dict[str, float] = {}
                    started = time.perf_counter()
                    for offset in range(0, n_items, 1000):
                        part = batch[offset : offset + 1000]
                        client.submit(PROJECT, part)
                        now = time.time()
                        pushed_at.update({item["id"]: now for item in part})
                    batch_s = time.perf_counter() - started
                    one = items("single", singles)
                    started = time.perf_counter()
                    for item in one:
                        client.submit(PROJECT, [item])
                        pushed_at[item["id"]] = time.time()
                    single_s = time.perf_counter() - started
                total = n_items + singles
                wait("every webhook", lambda: len(receiver.labels()) >= total, 120 + total / 20)
                wait("the poller", lambda: len(poller.seen) >= total, 60)
            finally:
                poller.stop.set()
                poller.join(timeout=10)
                server.stop()
            # Baseline: the same number of items through `quorum import`, a new process.
            path = workdir / "import.jsonl"
            path.write_text("".join(json.dumps(item) + "\n" for item in items("cli", n_items)))
            started = time.perf_counter()
            quorum_cli(checkout, env, workdir, "import", "--project", PROJECT, str(path))
            import_s = time.perf_counter() - started
    finally:
        receiver.close()
        emulator.stop()
    got = receiver.labels()
    webhook = [arrival - _epoch(record["signed_off_at"]) for arrival, record in got.values()]
    polled = [poller.seen[i] - _epoch(record["signed_off_at"]) for i, (_, record) in got.items()]
    push_to_hook = [arrival - pushed_at[i] for i, (arrival, _) in got.items()]
    return {
        "backend": backend,
        "items": n_items,
        "singles": singles,
        "batch_items_per_s": n_items / batch_s,
        "single_items_per_s": singles / single_s,
        "import_items_per_s": n_items / import_s,
        "webhook_s": percentiles(webhook),
        "poll_s": percentiles(polled),
        "push_to_webhook_s": percentiles(push_to_hook),
        "deliveries": receiver.deliveries,
        "labels_received": len(got),
        "refused_signatures": receiver.refused,
        "feed_repeats": poller.repeats,
    }


def report(results: list[dict[str, Any]]) -> None:
    table = Table(title="REST API and webhooks (medians and p95 in seconds)")
    for column in (
        "backend",
        "items/s (POST x1000)",
        "items/s (1 per POST)",
        "quorum import items/s",
        "API / import",
        "sign-off -> webhook p50 / p95",
        "sign-off -> poll 1 s p50 / p95",
        "push -> webhook p50 / p95",
        "deliveries / labels",
    ):
        table.add_column(column, justify="right")
    for r in results:
        hook, poll, push = r["webhook_s"], r["poll_s"], r["push_to_webhook_s"]
        table.add_row(
            r["backend"],
            f"{r['batch_items_per_s']:,.0f}",
            f"{r['single_items_per_s']:,.1f}",
            f"{r['import_items_per_s']:,.0f}",
            f"{r['batch_items_per_s'] / r['import_items_per_s']:.2f}x",
            f"{hook['p50']:.2f} / {hook['p95']:.2f}",
            f"{poll['p50']:.2f} / {poll['p95']:.2f}",
            f"{push['p50']:.2f} / {push['p95']:.2f}",
            f"{r['deliveries']:,} / {r['labels_received']:,}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 items and 50 singles")
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--singles", type=int, default=None)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--pg-admin-url", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    n_items = args.items or (2000 if args.quick else 10000)
    singles = args.singles or (50 if args.quick else 200)
    checkout = Checkout.at(args.checkout)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        for backend in args.backends.split(","):
            console.print(
                f"[bold]{backend}[/]: {n_items:,} items in POSTs of 1,000, {singles} alone"
            )
            results.append(
                run_backend(backend, checkout, Path(folder), args.pg_admin_url, n_items, singles)
            )
    report(results)
    for r in results:
        ok = r["labels_received"] == r["items"] + r["singles"] and not r["feed_repeats"]
        console.print(
            f"{r['backend']}: {r['labels_received']:,} labels by webhook for "
            f"{r['items'] + r['singles']:,} items, {r['deliveries']:,} deliveries, "
            f"{r['refused_signatures']} bad signatures, {r['feed_repeats']} repeated in the feed: "
            + ("[green]ok[/]" if ok else "[red]MISMATCH[/]")
        )
    out = args.json or RESULTS / f"api-{'quick' if args.quick else 'full'}.json"
    machine = describe(postgres_version(args.pg_admin_url))
    out.write_text(
        json.dumps(
            {"sha": checkout.sha, "dirty": checkout.dirty, "machine": machine, "results": results},
            indent=2,
        )
    )
    console.print(f"results: {out}")


if __name__ == "__main__":
    main()
