"""Sweep throughput: runs per minute with 1 and 2 workers on a local process pool and on Dask, side by side.

The same N runs (one setting × N seeds, each a few seconds of single-threaded training) are timed

* in this process, one after another (the compute alone, no executor);
* on a ``ProcessPoolExecutor`` and on a Dask ``LocalCluster`` (processes, 1 thread each), with 1 and 2 workers.

Executors are started and warmed up (pglab imported in every worker) before the clock starts, so the times
are the steady-state cost of a sweep, not of starting Python. Reported, side by side:

* runs per minute for each executor and worker count, and the 2-worker / 1-worker speedup (target ≥ 1.7×);
* Dask's per-run overhead over the pool, (T_dask − T_pool) · workers / N, as a share of a 10-second run
  (target < 5 %); and, per executor, the worker time per run not spent inside ``run_one`` (dispatch,
  transfer, idling), (workers · T − Σ run seconds) / N.

Both executors of a worker count are alive and warm at once and timed alternately (pool, Dask, Dask, pool),
so a load that drifts during the benchmark biases neither.

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


def warm_up(executor, workers: int) -> None:
    """Import pglab and build a policy in every worker before timing."""
    client = getattr(executor, "_client", None)
    if client is not None:
        client.run(lambda: __import__("pglab.sweep.run"))
    for future in [executor.submit(run_one, spec) for spec in expand(grid(1), workers)]:
        future.result()


def timed(executor, specs) -> tuple[float, float]:
    """(wall seconds for the sweep, sum of the runs' own seconds) on a warmed-up executor."""
    inside: list[float] = []
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        report = run_sweep(specs, out=out, executor=executor, progress=lambda s, r: inside.append(r["seconds"]))
        wall = time.perf_counter() - start
    assert len(report.executed) == len(specs) and not report.failed, report
    return wall, sum(inside)


def measure(workers: int, specs, repeats: int) -> dict[str, tuple[float, float]]:
    """Both executors alive and warm; timed in the order pool, dask, dask, pool, … so a drifting load cancels."""
    times: dict[str, list[tuple[float, float]]] = {"local": [], "dask": []}
    with make_executor("local", workers) as pool, make_executor("dask", workers) as dask:
        executors = {"local": pool, "dask": dask}
        for ex in executors.values():
            warm_up(ex, workers)
        for i in range(repeats):
            for kind in (("local", "dask") if i % 2 == 0 else ("dask", "local")):
                times[kind].append(timed(executors[kind], specs))
    return {k: (sum(t for t, _ in v) / len(v), sum(s for _, s in v) / len(v)) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=8, help="runs per measurement (seeds 0 … runs−1)")
    parser.add_argument("--steps", type=int, default=100, help="updates per run")
    parser.add_argument("--repeats", type=int, default=2, help="timed sweeps per executor (alternating order)")
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
    t = {}
    for w in (1, 2):
        for kind, value in measure(w, specs, args.repeats).items():
            t[kind, w] = value
    n = len(specs)
    rpm = {key: 60 * n / wall for key, (wall, _) in t.items()}
    print(f"\n{'executor':<26}{'seconds':>9}{'runs/min':>10}{'idle or dispatch per run':>27}")
    print(f"{'in process (no executor)':<26}{bare:>9.1f}{60 * n / bare:>10.1f}")
    for (kind, w), (wall, inside) in sorted(t.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        gap = (w * wall - inside) / n            # worker time per run not spent inside run_one
        print(f"{kind + f', {w} worker' + ('s' if w > 1 else ''):<26}{wall:>9.1f}{rpm[kind, w]:>10.1f}{gap:>25.3f} s")
    print(f"\none run takes {bare / n:.2f} s in process")
    for kind in ("local", "dask"):
        print(f"speedup with 2 workers, {kind:<5}: {rpm[kind, 2] / rpm[kind, 1]:.2f}×   (target ≥ 1.7×)")
    for w in (1, 2):
        overhead = (t["dask", w][0] - t["local", w][0]) / n * w    # worker seconds per run
        print(f"Dask overhead per run vs the pool, {w} worker{'s' if w > 1 else ' '}: {overhead:+.3f} s = "
              f"{100 * overhead / 10:+.2f} % of a 10-second run   (target < 5 %)")
    load_after = os.getloadavg()
    print(f"\nload average {load_before[0]:.2f} before, {load_after[0]:.2f} after "
          "(other processes share the cores: above a load of ~2 the ratios measure the contention, not pglab)")


if __name__ == "__main__":
    main()
