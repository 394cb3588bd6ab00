"""``python -m pglab sweep``: a grid × seeds on a process pool or Dask, then a summary table and PNGs.

    python -m pglab sweep --grid examples/sweep_grid.yaml --seeds 20 --out runs/sweep
    python -m pglab sweep --grid grid.yaml --seeds 20 --out runs/sweep --executor dask --workers 2
    python -m pglab sweep --grid grid.yaml --seeds 20 --out runs/sweep --executor tcp://10.0.0.5:8786

A grid file (YAML) maps settings to a value (every run) or a list (swept: every combination),
with optional named variants crossed with the lists::

    task: copy-sparse
    policy: gru
    hidden_size: 64
    steps: 150
    lr: 3.0e-3
    batch_size: 32
    entropy_coef: [0.0, 0.01]
    variants:
      REINFORCE:            {algo: reinforce, baseline: none}
      REINFORCE + baseline: {algo: reinforce, baseline: batch_mean}
      A2C:                  {algo: a2c, gae_lambda: 0.9}

Settings: algo, task, policy, hidden_size, value_head, steps, lr, grad_batches, and every field of
the algorithm's config (see ``pglab.sweep.known_settings()``). The whole grid is validated before
the first run. Results stream to OUT/runs/<hash>.parquet (one row per run and step); rerunning the
same command skips finished runs, so an interrupted sweep resumes. At the end OUT holds
summary.csv (mean and IQM of the final reward with 95 % bootstrap CIs, gradient variance),
improvement.csv (probability of improvement over the first setting), curves.png, final.png and
grad_variance.png. Fewer than 10 seeds gets a warning (the intervals are optimistic at small n).
Ctrl-C stops submitting, waits for the running runs and saves them (a second Ctrl-C abandons them),
then prints one line saying how to resume. A killed worker fails only the runs it took down (recorded
with a one-line reason); the pool is rebuilt and the sweep ends with its summary. A grid of more than
2,000 runs prints its size and a rough time estimate and starts only with --yes. Only one sweep at a
time may write to an --out folder: a second one stops at once (the lock is freed when the first ends,
however it ends). Exit status: 0, 1 if any run failed (recorded, the others finished), 2 for a bad
command line, a grid above 2,000 runs without --yes, or an --out in use, 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from .grid import int_in
from .pool import EXECUTORS  # executor kinds besides a scheduler address (see runner.make_executor)

DEFAULT_SEEDS = 10
FEW_SEEDS = 10
"""Below this many seeds per setting the CLI warns: at 5 seeds a 95 % percentile-bootstrap interval of the mean
covers the true mean only about 84 % of the time, and P(X > Y) of two identical settings excludes 0.5 about
8–10 % of the time (tests/test_sweep.py measures both)."""

CONFIRM_ABOVE = 2_000
"""Grids of more runs than this start only with ``--yes`` (a typo such as a 200-value list is caught first)."""
SECONDS_PER_UPDATE = 0.007
"""Rough CPU seconds per update at batch 32 (chapter 08's GRU-64 runs, 8 gradient batches at the end included,
on one laptop core), scaled by batch_size / 32 — only for the size warning, never a promise."""

OUTPUTS = ("summary.csv", "improvement.csv", "curves.png", "final.png", "grad_variance.png")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``sweep`` on an ``argparse`` subparsers object; returns the new parser."""
    p = subparsers.add_parser("sweep", help="a grid of settings × seeds on a process pool or Dask; table and PNGs",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", required=True, help="YAML file: settings → value or list; optional 'variants'")
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                   help=f"seeds per setting combination: 0 … SEEDS−1 (default {DEFAULT_SEEDS}; below {FEW_SEEDS} "
                        "the intervals are optimistic and a warning says so)")
    p.add_argument("--out", required=True, help="folder for runs/*.parquet, summary.csv and the PNGs (resumes)")
    p.add_argument("--executor", default="local",
                   help=f"{', '.join(EXECUTORS)} or a Dask scheduler address tcp://HOST:PORT (default local)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for local/dask (default: one per core); an error with inprocess or an address")
    p.add_argument("--last", type=int, default=None,
                   help="final score = mean reward over the last LAST updates, at most the runs' steps "
                        "(default 20, or all updates of shorter runs)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--yes", action="store_true",
                   help=f"start a grid of more than {CONFIRM_ABOVE:,} runs (without it such a grid prints its size "
                        "and a rough time estimate, and exits with status 2)")
    return p


def load_grid(path: str | Path) -> dict[str, Any]:
    """Read a YAML grid; ``3e-3`` is a float (plain YAML 1.1 would read it as a string)."""
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"--grid {path}: no such file")
    loader = type("GridLoader", (yaml.SafeLoader,), {})
    loader.add_implicit_resolver("tag:yaml.org,2002:float",
                                 re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"), list("-+0123456789."))
    try:
        grid = yaml.load(path.read_text(), Loader=loader)
    except yaml.YAMLError as err:
        raise ValueError(f"--grid {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(grid, dict):
        raise ValueError(f"--grid {path} must hold a mapping of settings, got {type(grid).__name__}")
    return grid


def run(args: argparse.Namespace) -> int:
    """Run the sweep described by ``args``; print the summary; write CSVs and PNGs. Returns the exit status."""
    from tqdm.auto import tqdm

    from .grid import expand
    from .lock import SweepLocked, lock_out
    from .results import prepare_out
    from .runner import SweepInterrupted, check_executor, make_executor, run_sweep

    specs = expand(load_grid(args.grid), args.seeds)                      # every grid error before any run
    last = min(20, *(s.config["steps"] for s in specs)) if args.last is None else check_last(args.last, specs)
    workers = check_executor(args.executor, args.workers)                 # before OUT is created
    if len(specs) > CONFIRM_ABOVE and not getattr(args, "yes", False):
        workers = 1 if args.executor == "inprocess" else workers if args.executor in EXECUTORS else None
        print(f"pglab sweep: {size_line(specs, workers)}; above {CONFIRM_ABOVE:,} runs a sweep starts only with "
              "--yes", file=sys.stderr)
        return 2
    out = prepare_out(args.out)                                           # before any worker starts
    seeds = len({s.seed for s in specs})
    if seeds < FEW_SEEDS:
        print(f"pglab sweep: warning: {seeds} seed{'s' * (seeds != 1)} per setting; below {FEW_SEEDS} the 95 % "
              "intervals are optimistic (at 5 seeds they cover about 84 % of the time) — use --seeds "
              f"{FEW_SEEDS} or more for a comparison you report", file=sys.stderr)
    bar = None

    def tick(spec, result) -> None:
        bar.update(1)
        bar.set_postfix_str(f"{spec.label} seed {spec.seed}: {result['status']}", refresh=False)

    try:
        with lock_out(out), make_executor(args.executor, args.workers) as executor:   # lock: before any worker
            bar = tqdm(total=len(specs), unit="run", disable=args.no_progress)
            report = run_sweep(specs, out=out, executor=executor, progress=tick)
    except SweepLocked as locked:                                        # before any worker started
        print(f"pglab sweep: {locked}", file=sys.stderr)
        return 2
    except SweepInterrupted as stop:
        if bar is not None:
            bar.close()
        print(f"pglab sweep: {stop.report.stopped}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:                                             # while starting or stopping workers
        if bar is not None:
            bar.close()
        print(f"pglab sweep: interrupted (Ctrl-C); the finished runs are in {out} — rerun the same command "
              "to resume", file=sys.stderr)
        return 130
    bar.close()
    print(f"{len(report.executed)} runs executed, {len(report.skipped)} already finished in {out}")
    write_summary(out, specs, last)
    for run_hash, error in report.failed.items():
        print(f"pglab sweep: run {run_hash} failed: {error}", file=sys.stderr)
    return 1 if report.failed else 0


def size_line(specs, workers: int | None) -> str:
    """"this grid is 200,000 runs (20,000 settings × 10 seeds), 20,000,000 updates: roughly 39 CPU-hours, …".

    The time is a rough guess (:data:`SECONDS_PER_UPDATE`); ``workers=None`` (a cluster of unknown size) gives
    CPU-hours only."""
    seeds = len({s.seed for s in specs})
    updates = sum(s.config["steps"] for s in specs)
    hours = sum(s.config["steps"] * SECONDS_PER_UPDATE * s.config.get("batch_size", 32) / 32 for s in specs) / 3600
    wall = "" if workers is None else f", about {hours / workers:,.1f} h on {workers} worker{'s' * (workers != 1)}"
    return (f"this grid is {len(specs):,} runs ({len(specs) // seeds:,} settings × {seeds:,} seeds), {updates:,} "
            f"updates: roughly {hours:,.1f} CPU-hours{wall} (a guess from small GRU runs at batch 32)")


def check_last(last: object, specs) -> int:
    """``--last`` must be an integer in [1, the fewest steps of any run]: more would silently average everything."""
    steps = min(s.config["steps"] for s in specs)
    try:
        return int_in("--last", last, 1, steps)
    except ValueError:
        raise ValueError(f"--last must be an integer in [1, {steps}] (at most the runs' steps, {steps}), "
                         f"got {last!r}") from None


def updates_label(specs, last: int) -> str:
    """"the last 20 of 120 updates" (or "of 80–120" when steps are swept)."""
    steps = sorted({s.config["steps"] for s in specs})
    total = f"{steps[0]}" if len(steps) == 1 else f"{steps[0]}–{steps[-1]}"
    return f"the last {last} of {total} updates"


def write_summary(out: Path, specs, last: int = 20) -> None:
    """Print the summary table and write summary.csv, improvement.csv and the three PNGs into ``out``."""
    from ..plots import save
    from . import plots, stats
    from .results import load

    table = load(out, specs)
    summary = stats.summary(table, last=last)
    print(f"final score: mean reward over {updates_label(specs, last)}, per setting over seeds")
    print(stats.format_summary(summary))
    summary.to_csv(out / "summary.csv", index=False)
    first = summary["setting"].iloc[0]
    better = stats.improvement_table(table, first, last=last)
    if len(better):
        print(f"\nprobability of improvement over {first!r} (95 % CI):")
        for r in better.itertuples(index=False):
            print(f"  P({r.setting} > {first}) = {r[2]:.2f} [{r.low:.2f}, {r.high:.2f}]")
    better.to_csv(out / "improvement.csv", index=False)
    save(plots.learning_curves(table), out / "curves.png")
    save(plots.final_comparison(summary, xlabel=f"final reward (mean of {updates_label(specs, last)})"),
         out / "final.png")
    save(plots.gradient_variance_comparison(summary), out / "grad_variance.png")
    print(f"wrote {', '.join(OUTPUTS)} and runs/*.parquet in {out}")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m pglab.sweep.cli``), the same as ``python -m pglab sweep``."""
    parser = argparse.ArgumentParser(prog="python -m pglab")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ValueError as err:
        parser.error(str(err))
    return 2


if __name__ == "__main__":
    sys.exit(main())
