"""The live lab's speed (no assertions), measured side by side in one run:

1. the default race (the four contenders of the ladder on the default task, as the
   app opens) driven through the dashboard: the wall time from Train until
   A2C's reward curve (20-step mean) is ahead of vanilla REINFORCE's by at least
   0.1 *and stays ahead* to the end — "clear separation" — and how often the plots
   refreshed (renders per second, longest gap between two renders);
2. the same race without the dashboard (the same worker thread, no widgets, no
   plots), to give the dashboard's slowdown, and the share of it the same-policy
   meter takes (time per meter point);
3. the same race with the meter only at the first and last step, to give the
   meter's cost directly.

    python benchmarks/live_lab.py [--seeds N]
"""
from __future__ import annotations

import argparse
import threading
import time

import numpy as np
import torch

import pglab as pg
from pglab.lab.race import Race, RaceConfig

MARGIN, WINDOW = 0.1, 20


def separation_time(trace: list[tuple[float, dict[str, float]]]) -> float | None:
    """First time after which A2C leads REINFORCE by >= MARGIN at every later step."""
    lead = [r["A2C"] - r["REINFORCE"] >= MARGIN for _, r in trace]
    for i in range(len(lead)):
        if all(lead[i:]):
            return trace[i][0]
    return None


def smoothed_means(race: Race) -> dict[str, float]:
    out = {}
    for name, runs in race.histories.items():
        out[name] = float(np.mean([np.mean(h["reward/mean"][-WINDOW:]) for h in runs]))
    return out


def with_dashboard(cfg: dict) -> dict:
    lab = pg.app.Lab(**cfg)
    trace, renders = [], []
    start = time.perf_counter()
    original_step, original_render = lab._on_step, lab._render

    def on_step(race):
        original_step(race)
        trace.append((time.perf_counter() - start, smoothed_means(race)))

    def render(*args, **kwargs):
        original_render(*args, **kwargs)
        renders.append(time.perf_counter() - start)

    lab._on_step, lab._render = on_step, render
    start = time.perf_counter()
    lab.train(block=True)
    total = time.perf_counter() - start
    gaps = np.diff([0.0, *renders])
    return {"seconds": total, "separation": separation_time(trace), "renders": len(renders),
            "max_gap": float(gaps.max()), "final": trace[-1][1]}


def without_dashboard(cfg: dict) -> tuple[float, Race]:
    race = Race(RaceConfig(**cfg))

    def work():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)          # exactly as the dashboard's worker does
        try:
            race.run()
        finally:
            torch.set_num_threads(threads)

    start = time.perf_counter()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    return time.perf_counter() - start, race


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=1, help="seeds per contender (the app's default is 1)")
    args = parser.parse_args()
    cfg = {"seeds": args.seeds}
    defaults = RaceConfig(**cfg)
    print(f"default race: task={defaults.task}, policy={defaults.policy}, {defaults.steps} steps, "
          f"batch {defaults.batch_size}, seeds {defaults.seeds}, contenders {', '.join(defaults.contenders)}")
    bare, race = without_dashboard(cfg)
    quiet, _ = without_dashboard({**cfg, "measure_every": defaults.steps})
    dash = with_dashboard(cfg)
    print(f"without dashboard: {bare:6.1f} s, of which the meter {race.meter_seconds:.1f} s "
          f"({len(race.points)} points, {race.meter_seconds / len(race.points):.2f} s each, "
          f"{defaults.meter_batches} batches per estimator)")
    print(f"meter only at start and end: {quiet:6.1f} s")
    print(f"with dashboard:    {dash['seconds']:6.1f} s  ({100 * (dash['seconds'] / bare - 1):+.0f} %), "
          f"{dash['renders']} plot refreshes = {dash['renders'] / dash['seconds']:.2f} per second, "
          f"longest gap {dash['max_gap']:.2f} s")
    sep = dash["separation"]
    print("clear separation (A2C ahead of REINFORCE by >= 0.1 from then on): "
          + ("never" if sep is None else f"after {sep:.1f} s of wall time"))
    print("final 20-step mean reward:", {k: round(v, 3) for k, v in dash["final"].items()})


if __name__ == "__main__":
    main()
