"""Benchmark: bot.quality.dawid_skene against crowd-kit 1.4.2's DawidSkene, same data, one run.

    python -m bench.bench_dawid_skene [--items 100000 --answers 5 --raters 50 --classes 4
                                       --seed 0 --repeats 7 --crowdkit-repeats 3 --json OUT]

Method (details in bench/README.md):
- Data: ``--items`` items, each answered by ``--answers`` distinct raters drawn from
  ``--raters``; rater accuracies uniform in [0.35, 0.95], wrong answers uniform over the other
  classes. Generated once from ``--seed`` (memory children regenerate it from the same seed).
- Time: in this process, wall time (``time.perf_counter``) and CPU time
  (``time.process_time``) of the call alone; best of ``--repeats`` for ours and of
  ``--crowdkit-repeats`` for crowd-kit. Each gets its native input prepared beforehand
  (numpy int arrays / a task-worker-label DataFrame).
- Memory: each algorithm runs in a fresh ``spawn`` child process. (1) Call peak RSS: the
  child resets the kernel's high-water mark (``/proc/self/clear_refs`` = 5) right before the
  call and reports ``VmHWM`` after it minus ``VmRSS`` before it. (2) Process peak RSS:
  ``VmHWM`` over the child's life (interpreter + imports + input + call). (3) In a second
  run in the same child, ``tracemalloc``'s peak during the call (numpy and pandas buffers are
  traced). ``ru_maxrss`` is not used: a spawned child inherits it from the parent.
- Quality: accuracy of the argmax labels against the generating labels, EM iterations.
- Extra row: ours run for exactly crowd-kit's iteration count (``tol=-inf``, no
  smoothing), to compare per-iteration cost and check the posteriors agree (max |difference|).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# --------------------------------------------------------------------------- data


def make_data(
    n_items: int, answers: int, n_raters: int, k: int, seed: int, missing: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic crowd labels with raters of varied accuracy; returns items, raters, labels, truth.

    ``missing`` drops that share of answers at random (uneven answer counts per item)."""
    if answers > n_raters:
        raise ValueError("answers per item cannot exceed the number of raters")
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    accuracy = rng.uniform(0.35, 0.95, n_raters)
    # `answers` distinct raters per item, by redrawing rows with a repeat (little memory, so
    # the children's process-level peak is not dominated by data generation)
    grid = rng.integers(0, n_raters, (n_items, answers))
    while True:
        ordered = np.sort(grid, axis=1)
        dup = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not dup.any():
            break
        grid[dup] = rng.integers(0, n_raters, (int(dup.sum()), answers))
    raters = grid.ravel()
    items = np.repeat(np.arange(n_items), answers)
    correct = rng.random(items.size) < accuracy[raters]
    wrong = (truth[items] + rng.integers(1, k, items.size)) % k
    labels = np.where(correct, truth[items], wrong)
    if missing > 0:
        keep = rng.random(items.size) >= missing
        items, raters, labels = items[keep], raters[keep], labels[keep]
    return items, raters, labels, truth


def _frame(items: np.ndarray, raters: np.ndarray, labels: np.ndarray) -> Any:
    import pandas as pd

    return pd.DataFrame({"task": items, "worker": raters, "label": labels})


# --------------------------------------------------------------------------- runners


def _run_ours(data: tuple[np.ndarray, ...], **kwargs: Any) -> tuple[np.ndarray, np.ndarray, int]:
    from bot.quality.dawid_skene import dawid_skene

    items, raters, labels = data
    res = dawid_skene(items, raters, labels, **kwargs)
    return res.labels, res.posteriors, res.n_iter


def _run_crowdkit(frame: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """crowd-kit's fit, returned like ours: rows per item id, -1 / nan for unanswered items."""
    from crowdkit.aggregation import DawidSkene

    model = DawidSkene(**kwargs)
    probas = model.fit_predict_proba(frame)
    probas = probas[sorted(probas.columns)]
    n_items = int(frame["task"].max()) + 1
    post = np.full((n_items, probas.shape[1]), np.nan)
    post[probas.index.to_numpy()] = probas.to_numpy()
    labels = np.full(n_items, -1)
    labels[probas.index.to_numpy()] = probas.to_numpy().argmax(axis=1)
    return labels, post, len(model.loss_history_)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _memory_child(which: str, params: dict[str, int], kwargs: dict[str, Any], queue: Any) -> None:
    """Fresh process: build the input, then measure peak RSS and tracemalloc peak of one call."""
    import warnings

    warnings.simplefilter("ignore")
    items, raters, labels, _ = make_data(**params)
    if which == "crowdkit":
        arg: Any = _frame(items, raters, labels)
        run = _run_crowdkit
        import crowdkit.aggregation  # noqa: F401  (import cost outside the measurement)
    else:
        arg = (items, raters, labels)
        run = _run_ours
        import bot.quality.dawid_skene  # noqa: F401
    out: dict[str, float] = {}
    rss_before = _status_kb("VmRSS")
    # VmHWM, not ru_maxrss: a spawned child inherits ru_maxrss from the parent it was
    # forked from (Linux keeps it across exec), VmHWM belongs to this process image alone
    peak_before = _status_kb("VmHWM")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        hwm_reset = True
    except OSError:
        hwm_reset = False
    run(arg, **kwargs)
    hwm = _status_kb("VmHWM")
    out["rss_peak_mb"] = (hwm - rss_before) / 1024
    # whole-process peak: interpreter + imports + input data + the call
    out["process_peak_mb"] = max(peak_before, hwm) / 1024
    out["rss_before_mb"] = rss_before / 1024
    out["rss_method"] = "VmHWM-reset" if hwm_reset else "VmHWM(process)"
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    run(arg, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["tracemalloc_peak_mb"] = (peak - base) / 2**20
    queue.put(out)


def measure_memory(which: str, params: dict[str, int], kwargs: dict[str, Any]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_child, args=(which, params, kwargs, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _timed(fn: Any, *args: Any, repeats: int, **kwargs: Any) -> tuple[float, float, Any]:
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu, out


# --------------------------------------------------------------------------- report


@dataclass
class Row:
    name: str
    wall_s: float
    cpu_s: float
    tracemalloc_peak_mb: float | None
    rss_peak_mb: float | None
    process_peak_mb: float | None
    accuracy: float
    iterations: int


def machine_info() -> dict[str, str]:
    import crowdkit
    import pandas as pd
    import sklearn

    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "crowd-kit": getattr(crowdkit, "__version__", "1.4.2"),
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--missing", type=float, default=0.0, help="share of answers dropped at random"
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of ours (best)")
    parser.add_argument("--crowdkit-repeats", type=int, default=3, help="timed crowd-kit runs")
    parser.add_argument("--no-memory", action="store_true", help="skip the child-process runs")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    import warnings

    from rich.console import Console
    from rich.table import Table

    warnings.simplefilter("ignore")  # crowd-kit's pandas deprecation warnings
    console = Console(width=max(132, Console().width))
    params = {
        "n_items": args.items,
        "answers": args.answers,
        "n_raters": args.raters,
        "k": args.classes,
        "seed": args.seed,
        "missing": args.missing,
    }
    items, raters, labels, truth = make_data(**params)
    frame = _frame(items, raters, labels)
    arrays = (items, raters, labels)
    _run_ours((items[:500], raters[:500], labels[:500]))  # warm imports
    _run_crowdkit(frame.iloc[:500])

    ck_wall, ck_cpu, (ck_labels, ck_post, ck_iter) = _timed(
        _run_crowdkit, frame, repeats=args.crowdkit_repeats
    )
    our_wall, our_cpu, (our_labels, our_post, our_iter) = _timed(
        _run_ours, arrays, repeats=args.repeats
    )
    # crowd-kit has no smoothing: the parity row runs without it too.
    same_kwargs = {"max_iter": ck_iter, "tol": float("-inf"), "smoothing": 0.0}
    fix_wall, fix_cpu, (fix_labels, fix_post, fix_iter) = _timed(
        _run_ours, arrays, repeats=args.repeats, **same_kwargs
    )

    answered = ck_labels >= 0  # accuracy over items with at least one answer
    truth = truth[: ck_labels.size]

    def accuracy(pred: np.ndarray) -> float:
        return float(np.mean(pred[: answered.size][answered] == truth[answered]))

    mem: dict[str, dict[str, Any]] = {}
    if not args.no_memory:
        mem["crowdkit"] = measure_memory("crowdkit", params, {})
        mem["ours"] = measure_memory("ours", params, {})

    def m(key: str, field: str) -> float | None:
        return mem[key][field] if key in mem else None

    rows = [
        Row(
            "crowd-kit 1.4.2 DawidSkene",
            ck_wall,
            ck_cpu,
            m("crowdkit", "tracemalloc_peak_mb"),
            m("crowdkit", "rss_peak_mb"),
            m("crowdkit", "process_peak_mb"),
            accuracy(ck_labels),
            ck_iter,
        ),
        Row(
            "bot.quality.dawid_skene",
            our_wall,
            our_cpu,
            m("ours", "tracemalloc_peak_mb"),
            m("ours", "rss_peak_mb"),
            m("ours", "process_peak_mb"),
            accuracy(our_labels),
            our_iter,
        ),
        Row(
            f"ours, fixed {ck_iter} iterations",
            fix_wall,
            fix_cpu,
            None,
            None,
            None,
            accuracy(fix_labels),
            fix_iter,
        ),
    ]

    def fmt(x: float | None, spec: str) -> str:
        return "-" if x is None else format(x, spec)

    info = machine_info()
    console.print(
        f"[bold]Dawid-Skene[/bold]: {args.items:,} items x {args.answers} answers, "
        f"{args.raters} raters, {args.classes} classes, seed {args.seed}, "
        f"{args.missing:.0%} dropped ({items.size:,} answers)"
    )
    console.print(", ".join(f"{k} {v}" for k, v in info.items()))
    table = Table(show_header=True, header_style="bold")
    cols = ("", "wall s (best)", "CPU s", "tracemalloc peak MB", "call peak RSS MB")
    for col in (*cols, "process peak RSS MB"):
        table.add_column(col, justify="right" if col else "left")
    table.add_column("accuracy", justify="right")
    table.add_column("iterations", justify="right")
    for r in rows:
        table.add_row(
            r.name,
            f"{r.wall_s:.3f}",
            f"{r.cpu_s:.3f}",
            fmt(r.tracemalloc_peak_mb, ".1f"),
            fmt(r.rss_peak_mb, ".1f"),
            fmt(r.process_peak_mb, ".0f"),
            f"{r.accuracy:.5f}",
            str(r.iterations),
        )
    console.print(table)

    ratios: dict[str, float] = {
        "speedup_wall": ck_wall / our_wall,
        "speedup_cpu": ck_cpu / our_cpu,
        "speedup_wall_same_iterations": ck_wall / fix_wall,
        "accuracy_diff": rows[1].accuracy - rows[0].accuracy,
        "label_agreement": float(
            np.mean(our_labels[: answered.size][answered] == ck_labels[answered])
        ),
        "max_posterior_diff_same_iterations": float(
            np.abs(fix_post[: answered.size][answered] - ck_post[answered]).max()
        ),
    }
    if mem:
        ratios["tracemalloc_peak_ratio"] = (
            mem["ours"]["tracemalloc_peak_mb"] / mem["crowdkit"]["tracemalloc_peak_mb"]
        )
        ratios["rss_peak_ratio"] = mem["ours"]["rss_peak_mb"] / mem["crowdkit"]["rss_peak_mb"]
        ratios["process_peak_ratio"] = (
            mem["ours"]["process_peak_mb"] / mem["crowdkit"]["process_peak_mb"]
        )
    console.print(
        f"ours vs crowd-kit (same run): [bold]{ratios['speedup_wall']:.1f}x[/bold] faster "
        f"(CPU time {ratios['speedup_cpu']:.1f}x; wall "
        f"{ratios['speedup_wall_same_iterations']:.1f}x at equal iterations)"
        + (
            f", peak memory {ratios['tracemalloc_peak_ratio']:.3f}x (tracemalloc), "
            f"{ratios['rss_peak_ratio']:.3f}x (call RSS), "
            f"{ratios['process_peak_ratio']:.3f}x (process RSS)"
            if mem
            else ""
        )
        + f"; accuracy {ratios['accuracy_diff']:+.5f}, labels agree on "
        f"{ratios['label_agreement']:.4%}; at equal iterations max |posterior diff| "
        f"{ratios['max_posterior_diff_same_iterations']:.1e}"
    )
    result = {
        "command": "python -m bench.bench_dawid_skene " + " ".join(sys.argv[1:] or []),
        "params": params,
        "machine": info,
        "rows": [asdict(r) for r in rows],
        "memory_method": {k: v.get("rss_method") for k, v in mem.items()},
        "ratios": ratios,
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
