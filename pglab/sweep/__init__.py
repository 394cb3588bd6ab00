"""Sweeps: a grid of settings × seeds, run on any executor, streamed to Parquet, summarised with honest statistics.

    from pglab.sweep import run_sweep, make_executor, load, summary
    grid = {"task": "copy-sparse", "steps": 150,
            "variants": {"REINFORCE": {"algo": "reinforce", "baseline": "none"},
                         "A2C": {"algo": "a2c"}}}
    with make_executor("dask", workers=2) as ex:          # or "local", "inprocess", "tcp://host:8786"
        run_sweep(grid, seeds=20, out="runs/sweep", executor=ex)
    table = load("runs/sweep")                          # one row per run × step
    print(summary(table))                               # mean / IQM with 95 % bootstrap CIs

Modules, one job each: :mod:`.grid` (expansion and validation), :mod:`.run` (one run, a pure
function), :mod:`.runner` (executors, resume), :mod:`.pool` (the
``local`` process pool: survives a killed worker, quiet on Ctrl-C), :mod:`.lock` (one sweep per folder),
:mod:`.results` (Parquet), :mod:`.stats`
(Agarwal et al. 2021), :mod:`.plots`, :mod:`.cli` (``python -m pglab sweep``).
"""
from __future__ import annotations

import importlib

_WHERE = {"grid": ["RUN_SETTINGS", "RunSpec", "expand", "known_settings", "run_hash"],
          "lock": ["SweepLocked", "lock_out"],
          "pool": ["ProcessPool", "WORKER_DIED"],
          "results": ["finished", "load"],
          "run": ["run_one"],
          "runner": ["EXECUTORS", "InProcessExecutor", "SweepInterrupted", "SweepReport", "dask_client",
                     "make_executor", "run_sweep"],
          "stats": ["Estimate", "contrast", "final_scores", "format_summary", "improvement_table", "interval", "iqm",
                    "probability_of_improvement", "summary"]}
_MODULE = {name: module for module, names in _WHERE.items() for name in names}
__all__ = list(_MODULE)


def __getattr__(name: str):
    """Import on first use (PEP 562): ``python -m pglab compare`` need not load pandas, pyarrow or scipy."""
    if name in _MODULE:
        return getattr(importlib.import_module(f".{_MODULE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
