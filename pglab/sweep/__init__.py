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
function), :mod:`.runner` (executors, resume), :mod:`.results` (Parquet), :mod:`.stats`
(Agarwal et al. 2021), :mod:`.plots`, :mod:`.cli` (``python -m pglab sweep``).
"""
from __future__ import annotations

from .grid import RUN_SETTINGS, RunSpec, expand, known_settings, run_hash
from .results import finished, load
from .run import run_one
from .runner import (EXECUTORS, InProcessExecutor, SweepInterrupted, SweepReport, dask_client, make_executor,
                     run_sweep)
from .stats import (Estimate, final_scores, format_summary, improvement_table, interval, iqm,
                    probability_of_improvement, summary)

__all__ = ["RUN_SETTINGS", "RunSpec", "expand", "known_settings", "run_hash", "finished", "load", "run_one",
           "EXECUTORS", "InProcessExecutor", "SweepInterrupted", "SweepReport", "dask_client", "make_executor",
           "run_sweep", "Estimate", "final_scores", "format_summary", "improvement_table", "interval", "iqm",
           "probability_of_improvement", "summary"]
