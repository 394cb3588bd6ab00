"""Sweep throughput: runs per minute with 1 and 2 workers on a local process pool and on Dask, side by side.

The same N runs (one setting × N seeds, each a few seconds of single-threaded training) are timed

* in this process, one after another (the compute alone, no executor);
* on a ``ProcessPoolExecutor`` and on a Dask ``LocalCluster`` (processes, 1 thread each), with 1 and 2 workers.

Executors are started and warmed up (pglab imported in every worker) before the clock starts, so the times
are the steady-state cost of a sweep, not of starting Python. Reported, side by side:

* runs per minute for each executor and worker count, and the 2-worker / 1-worker speedup (target ≥ 1.7×);
* Dask's per-run overhead over the pool, (T_dask − T_pool) / N with one worker, as a share of a 10-second
  run (target < 5 %); and the pool's over the bare in-process loop, for scale.

Timings depend on the machine's load; the load average is printed with them.

    python benchmarks/sweep.py [--runs 8] [--steps 100]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from pglab.sweep import expand, make_executor, run_one, run_sweep


def grid(steps: int) -> dict:
    return {"task": "copy-sparse", "algo": "reinforce", "baseline": "batch_mean", "hidden_size": 64,
            "batch_size": 32, "steps": steps, "grad_batches": 0}


def warm_up(kind: str, executor, workers: int) -> None:
    """Import pglab and build a policy in every worker before timing."""
    tiny = expand({**grid(1)}, workers)
    client = getattr(executor, "_client", None)
    if client is not None:
        client.run(lambda: __import__("pglab.sweep.run"))
    for future in [executor.submit(run_one, spec) for spec in tiny]:
        future.result()


def timed(kind: str, workers: int, specs) -> float:
    """Seconds to run ``specs`` on a warmed-up executor of ``kind`` with ``workers`` workers."""
    with make_executor(kind, workers) as executor:
        warm_up(kind, executor, workers)
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            report = run_sweep(specs, out=out, executor=executor)
            seconds = time.perf_counter() - start
    assert len(report.executed) == len(specs) and not report.failed, report
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=8, help="runs per measurement (seeds 0 … runs−1)")
    parser.add_argument("--steps", type=int, default=100, help="updates per run")
    args = parser.parse_args()
    specs = expand(grid(args.steps), args.runs)
    load_before = os.getloadavg()
    print(f"{args.runs} runs × {args.steps} updates (copy-sparse, GRU 64, B = 32), {os.cpu_count()} CPUs, "
          f"load average {load_before[0]:.2f} before")

    run_one(expand(grid(1), 1)[0])                     # warm up this process too (first-use costs)
    start = time.perf_counter()
    for spec in specs:
        run_one(spec)
    bare = time.perf_counter() - start
    t = {(kind, w): timed(kind, w, specs) for w in (1, 2) for kind in ("local", "dask")}
    per_run = bare / len(specs)

    rpm = {key: 60 * len(specs) / s for key, s in t.items()}
    print(f"\n{'executor':<28}{'seconds':>9}{'runs/min':>10}")
    print(f"{'in process (no executor)':<28}{bare:>9.1f}{60 * len(specs) / bare:>10.1f}")
    for (kind, w), s in t.items():
        print(f"{kind + f', {w} worker' + ('s' if w > 1 else ''):<28}{s:>9.1f}{rpm[kind, w]:>10.1f}")
    print(f"\none run takes {per_run:.2f} s in process")
    for kind in ("local", "dask"):
        print(f"speedup with 2 workers, {kind:<5}: {rpm[kind, 2] / rpm[kind, 1]:.2f}×   (target ≥ 1.7×)")
    for w in (1, 2):
        overhead = (t["dask", w] - t["local", w]) / len(specs) * w      # seconds of worker time per run
        print(f"Dask overhead per run vs the pool, {w} worker{'s' if w > 1 else ' '}: {overhead:+.3f} s = "
              f"{100 * overhead / 10:+.2f} % of a 10-second run   (target < 5 %)")
    pool = (t["local", 1] - bare) / len(specs)
    print(f"pool overhead per run vs in process, 1 worker: {pool:+.3f} s = {100 * pool / 10:+.2f} % of a 10-second run")
    load_after = os.getloadavg()
    print(f"\nload average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
          "(other processes share the cores: the ratios are noisy above a load of ~2)")


if __name__ == "__main__":
    main()
