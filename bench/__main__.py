"""`python -m bench`: click latency (Quorum vs a bare Bolt baseline, SQLite and
PostgreSQL, 10/50/200 concurrent reviewers), exactly-once recording, delivery rate under
Slack's caps, dispatch cost and a soak (valid clicks among hostile traffic, bench/soak.py),
written to docs/benchmarks.md.

    python -m bench --quick                       # 1.5 min here (3 min on 01f69fb)
    python -m bench                               # full: 10 min here (12 min on 01f69fb)
    # the soak stage adds about 1.5 min (quick) / 4 min (full); --skip-soak leaves it out
    python -m bench --checkout /tmp/bench-before --label before

`--checkout` is the code the servers run (default: this repository's working tree, as
it is). The harness (emulator, load generator, this file) is always this one. See
docs/benchmarks.md ("How it is measured") and bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import report
from bench.clicks import LoadSampler, run_backend
from bench.delivery import run_delivery
from bench.machine import describe
from bench.servers import BENCH_DIR, PYTHON, Checkout, postgres_version, scratch_db
from bench.soak import MODES as SOAK_MODES
from bench.soak import finish as finish_soak
from bench.soak import run_soak
from bench.ui import Ui

REPO = BENCH_DIR.parent
MODES: dict[str, dict[str, Any]] = {
    "quick": {
        "clicks": {10: 30, 50: 100, 200: 200},
        "repeats": 1,
        "max_seconds": 15.0,
        "rounds_budget_s": 60.0,
        "delivery_dms": 400,
        "delivery_max_wait": 30.0,
        "dispatch_items": 6,
    },
    "full": {
        "clicks": {10: 150, 50: 300, 200: 600},
        "repeats": 3,
        "max_seconds": 40.0,
        "rounds_budget_s": 150.0,
        "delivery_dms": 10_000,
        "delivery_max_wait": 330.0,
        "dispatch_items": 15,
    },
}
# --pace: each reviewer clicks every PACE seconds (reading the next item in between), so
# the load is people at a pace, not a closed loop measuring the ceiling. Clicks per
# reviewer per round, full and quick.
PACED_CLICKS = {"full": 6, "quick": 3}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, one round each")
    parser.add_argument("--checkout", type=Path, default=REPO, help="code the servers run")
    parser.add_argument("--label", help="name of this run in the report (default: from checkout)")
    parser.add_argument(
        "--backends",
        default="sqlite,postgres",
        help="comma-separated; postgres:2 serves Quorum as `quorum serve --workers 2`",
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("QUORUM_TEST_PG", "postgresql://127.0.0.1:5432/test"),
        help="where scratch databases are created and dropped",
    )
    parser.add_argument("--levels", default="10,50,200", help="concurrent reviewers")
    parser.add_argument("--clicks", help="clicks per round for each level, e.g. 150,300,600")
    parser.add_argument("--repeats", type=int, help="rounds per level (medians are reported)")
    parser.add_argument("--max-seconds", type=float, help="time limit of one round")
    parser.add_argument(
        "--pace",
        type=float,
        help="seconds between one reviewer's clicks (default: the next click on each answer)",
    )
    parser.add_argument(
        "--rounds-budget", type=float, help="seconds of rounds per backend before repeats stop"
    )
    parser.add_argument("--delivery-dms", type=int)
    parser.add_argument("--delivery-reviewers", type=int, default=200)
    parser.add_argument(
        "--delivery-scale",
        type=float,
        default=8.0,
        help="QUORUM_PACING_SCALE and the emulator's caps (x Slack's 300/min, 60/min/channel)",
    )
    parser.add_argument("--delivery-backend", default="postgres")
    parser.add_argument("--delivery-max-wait", type=float, help="seconds to wait for the DMs")
    parser.add_argument("--skip-clicks", action="store_true")
    parser.add_argument("--skip-delivery", action="store_true")
    parser.add_argument("--skip-dispatch", action="store_true")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--soak-backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--soak-seconds", type=float, help="hostile traffic for this long (quick 45, full 180)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy each Quorum click round into this folder (collapsed stacks)",
    )
    parser.add_argument("--no-write", action="store_true", help="keep docs/benchmarks.md as is")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: rewrite the docs section from bench/results/*.json",
    )
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    return parser.parse_args(argv)


def dispatch_probe(
    checkout: Checkout, workdir: Path, items: int, database_url: str | None
) -> dict[str, Any]:
    args = [
        PYTHON,
        str(BENCH_DIR / "dispatch_probe.py"),
        "--pools",
        "10,50,200",
        "--items",
        str(items),
        "--db-dir",
        str(workdir),
    ]
    if database_url:
        args += ["--database-url", database_url]
    done = subprocess.run(
        args, env=checkout.env(), cwd="/", capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render_only:
        report.write_docs(args.doc, report.load_all())
        print(f"wrote {args.doc} from {len(report.load_all())} stored runs")
        return 0
    size = "quick" if args.quick else "full"
    mode = size if args.pace is None else f"paced-{size}"
    defaults = MODES[size]
    levels = [int(c) for c in args.levels.split(",")]
    per_reviewer = PACED_CLICKS[size]
    clicks = (
        dict(zip(levels, [int(n) for n in args.clicks.split(",")], strict=True))
        if args.clicks
        else {
            c: defaults["clicks"].get(c, 3 * c) if args.pace is None else per_reviewer * c
            for c in levels
        }
    )
    repeats = args.repeats or defaults["repeats"]
    max_seconds = args.max_seconds or defaults["max_seconds"]
    if args.pace is not None:  # room for every reviewer's clicks at that pace
        longest = max(n / c for c, n in clicks.items())
        max_seconds = max(max_seconds, args.pace * longest + 10)
    rounds_budget = args.rounds_budget or defaults["rounds_budget_s"]
    console = Console(width=None if sys.stdout.isatty() else 200)
    checkout = Checkout.at(args.checkout)
    label = args.label or (
        "working tree" if checkout.path == REPO else f"commit {checkout.sha[:7]}"
    )
    probe = checkout.probe()
    pg = postgres_version(args.pg_admin_url)
    machine = describe(pg)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    console.rule(f"python -m bench ({mode}): {label}")
    console.print(
        f"checkout {checkout.path} @ {checkout.sha[:10]} "
        f"({len(checkout.dirty)} uncommitted paths); server: {probe['server_kind']}; "
        f"slack_bolt {probe['slack_bolt']}; {machine['cores']} cores; "
        f"load {machine['load_before']}"
    )
    result: dict[str, Any] = {
        "label": label,
        "mode": mode,
        "started_at": started_at.isoformat(),
        "checkout": {
            "path": str(checkout.path),
            "sha": checkout.sha,
            "dirty": checkout.dirty,
            "probe": {k: v for k, v in probe.items() if k != "start_http"},
        },
        "machine": machine,
        "config": {
            "levels": levels,
            "clicks": {str(c): n for c, n in clicks.items()},
            "repeats": repeats,
            "max_seconds": max_seconds,
            "pace_s": args.pace,
            "rounds_budget_s": rounds_budget,
            "client_timeout_s": 10.0,
            "delivery": {
                "dms": args.delivery_dms or defaults["delivery_dms"],
                "reviewers": args.delivery_reviewers,
                "scale": args.delivery_scale,
                "backend": args.delivery_backend,
                "max_wait_s": args.delivery_max_wait or defaults["delivery_max_wait"],
            },
            "soak": {
                "backend": args.soak_backend,
                "seconds": args.soak_seconds or SOAK_MODES[size]["seconds"],
                "calm_s": SOAK_MODES[size]["calm_s"],
            },
        },
        "clicks": {},
    }
    sampler = LoadSampler().start()
    ui = Ui(console)
    backends = [b for b in args.backends.split(",") if b]
    try:
        with ui.bar, tempfile.TemporaryDirectory(prefix="quorum-bench-") as tmp:
            workdir = Path(tmp)
            if not args.skip_clicks:
                for backend in backends:
                    name, _, workers = backend.partition(":")  # postgres:2 = serve --workers 2
                    try:
                        with scratch_db(name, workdir, args.pg_admin_url) as db:
                            data = run_backend(
                                checkout,
                                db,
                                workdir,
                                levels=levels,
                                clicks=clicks,
                                repeats=repeats,
                                max_seconds=max_seconds,
                                rounds_budget_s=rounds_budget,
                                progress=ui.progress,
                                sampler=sampler,
                                log=ui.log,
                                workers=int(workers or 1),
                                profile_dir=args.profile,
                                pace_s=args.pace,
                            )
                        result["clicks"][backend] = data
                        console.print(report.rich_levels(data))
                        check = data["db_check"]
                        console.print(
                            f"{backend}: {check['clicks_ok']} clicks answered 200, "
                            f"{check['ok_recorded_once']} recorded exactly once, "
                            f"{check['duplicates']} duplicates: "
                            + ("[green]exactly once[/]" if check["exactly_once"] else "[red]NOT[/]")
                        )
                    except Exception as exc:
                        traceback.print_exc()
                        result["clicks"][backend] = {"backend": backend, "error": repr(exc)}
            if not args.skip_delivery:
                cfg = result["config"]["delivery"]
                try:
                    with scratch_db(cfg["backend"], workdir, args.pg_admin_url) as db:
                        result["delivery"] = run_delivery(
                            checkout,
                            db,
                            workdir,
                            dms=cfg["dms"],
                            reviewers=cfg["reviewers"],
                            scale=cfg["scale"],
                            max_wait_s=cfg["max_wait_s"],
                            on_progress=ui.progress(
                                f"delivery: {cfg['dms']:,} DMs to {cfg['reviewers']} reviewers",
                                cfg["dms"],
                            ),
                        )
                    console.print(report.rich_delivery(result["delivery"]))
                except Exception as exc:
                    traceback.print_exc()
                    result["delivery"] = {"error": repr(exc)}
            if not args.skip_dispatch:
                ui.progress("dispatch cost by reviewer pool", 1)
                items = defaults["dispatch_items"]
                result["dispatch"] = {"sqlite": dispatch_probe(checkout, workdir, items, None)}
                if "postgres" in backends:
                    with scratch_db("postgres", workdir, args.pg_admin_url) as db:
                        result["dispatch"]["postgres"] = dispatch_probe(
                            checkout, workdir, items, db.url
                        )
                console.print(f"dispatch CPU ms per item by pool size: {result['dispatch']}")
            if not args.skip_soak:
                cfg = result["config"]["soak"]
                try:
                    with scratch_db(cfg["backend"], workdir, args.pg_admin_url) as db:
                        soak = run_soak(
                            checkout,
                            db,
                            workdir,
                            seconds=cfg["seconds"],
                            calm_s=cfg["calm_s"],
                            progress=ui.progress,
                            log=ui.log,
                        )
                    soak["machine"] = machine
                    soak["checkout"] = {
                        "sha": checkout.sha,
                        "dirty": len(checkout.dirty),
                        "server_kind": probe["server_kind"],
                    }
                    plot_to = None if args.no_write else REPO / "docs" / "img" / "soak.png"
                    finish_soak(soak, console, plot_to=plot_to)
                    result["soak"] = soak
                except Exception as exc:
                    traceback.print_exc()
                    result["soak"] = {"error": repr(exc)}
    finally:
        sampler.stop()
    loads = [load for _, load in sampler.samples]
    if loads:
        ordered = sorted(loads)
        result["load_during"] = {
            "min": ordered[0],
            "median": ordered[len(ordered) // 2],
            "max": ordered[-1],
        }
    result["duration_s"] = time.monotonic() - started
    path = report.save(result)
    console.print(f"results: {path} ({result['duration_s'] / 60:.1f} min)")
    if not args.no_write:
        report.write_docs(args.doc, report.load_all())
        console.print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
