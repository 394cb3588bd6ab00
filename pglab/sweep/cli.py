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
grad_variance.png. Exit status: 0, 1 if any run failed (recorded, the others finished), 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

EXECUTORS = ("local", "dask", "inprocess")
"""Executor kinds besides a scheduler address (see :func:`pglab.sweep.runner.make_executor`)."""

OUTPUTS = ("summary.csv", "improvement.csv", "curves.png", "final.png", "grad_variance.png")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``sweep`` on an ``argparse`` subparsers object; returns the new parser."""
    p = subparsers.add_parser("sweep", help="a grid of settings × seeds on a process pool or Dask; table and PNGs",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", required=True, help="YAML file: settings → value or list; optional 'variants'")
    p.add_argument("--seeds", type=int, default=5, help="seeds per setting combination: 0 … SEEDS−1 (default 5)")
    p.add_argument("--out", required=True, help="folder for runs/*.parquet, summary.csv and the PNGs (resumes)")
    p.add_argument("--executor", default="local",
                   help=f"{', '.join(EXECUTORS)} or a Dask scheduler address tcp://HOST:PORT (default local)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for local/dask (default: one per core); an error with inprocess or an address")
    p.add_argument("--last", type=int, default=20, help="final score = mean reward over the last LAST steps")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
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
    from .results import prepare_out
    from .runner import SweepInterrupted, make_executor, run_sweep

    specs = expand(load_grid(args.grid), args.seeds)                      # every grid error before any run
    if args.last < 1:
        raise ValueError(f"--last must be an integer >= 1, got {args.last}")
    out = prepare_out(args.out)                                           # before any worker starts
    bar = None

    def tick(spec, result) -> None:
        bar.update(1)
        bar.set_postfix_str(f"{spec.label} seed {spec.seed}: {result['status']}", refresh=False)

    try:
        with make_executor(args.executor, args.workers) as executor:
            bar = tqdm(total=len(specs), unit="run", disable=args.no_progress)
            report = run_sweep(specs, out=out, executor=executor, progress=tick)
    except SweepInterrupted as stop:
        bar.close()
        print(f"pglab sweep: {stop.report.stopped}", file=sys.stderr)
        return 130
    bar.close()
    print(f"{len(report.executed)} runs executed, {len(report.skipped)} already finished in {out}")
    write_summary(out, specs, args.last)
    for run_hash, error in report.failed.items():
        print(f"pglab sweep: run {run_hash} failed: {error}", file=sys.stderr)
    return 1 if report.failed else 0


def write_summary(out: Path, specs, last: int = 20) -> None:
    """Print the summary table and write summary.csv, improvement.csv and the three PNGs into ``out``."""
    from ..plots import save
    from . import plots, stats
    from .results import load

    table = load(out, specs)
    summary = stats.summary(table, last=last)
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
    save(plots.final_comparison(summary), out / "final.png")
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
