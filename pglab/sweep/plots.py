"""Figures of a sweep: learning curves with bootstrap CI bands, and per-setting comparisons with intervals.

Built like :mod:`pglab.plots` (object API, Agg canvas, no pyplot): safe in workers and notebooks.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator
from scipy import stats

from ..plots import _figure, smooth
from .stats import LEVEL


def curve_band(ys: np.ndarray, *, level: float = LEVEL, resamples: int = 2_000, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds of ``ys`` (seeds, steps) and a percentile-bootstrap interval at every step."""
    mean = ys.mean(0)
    if ys.shape[0] < 2:
        return mean, mean, mean
    res = stats.bootstrap((ys,), np.mean, confidence_level=level, n_resamples=resamples, method="percentile",
                          vectorized=True, axis=0, rng=np.random.default_rng(seed))
    low, high = res.confidence_interval
    flat = np.all(ys == ys[:1], axis=0)                            # identical seeds: no spread to resample
    return mean, np.where(flat, mean, low), np.where(flat, mean, high)


def learning_curves(table: pd.DataFrame, *, key: str = "reward/mean", window: int = 10,
                    title: str = "Learning curves (mean over seeds, 95 % bootstrap CI)",
                    ylabel: str = "reward per completion") -> Figure:
    """One line per setting: the mean over its finished seeds of the smoothed ``key``, with a 95 % CI band."""
    fig, (ax,) = _figure()
    ok = table[(table["status"] == "ok") & (table["step"] >= 0)]
    for i, (label, group) in enumerate(ok.groupby("label", sort=False)):
        per_run = [smooth(g.sort_values("step")[key].to_numpy(), window) for _, g in group.groupby("run")]
        n = min(len(y) for y in per_run)
        mean, low, high = curve_band(np.stack([y[:n] for y in per_run]))
        ax.plot(mean, color=f"C{i}", linewidth=2, label=f"{label} ({len(per_run)} seeds)")
        ax.fill_between(np.arange(n), low, high, color=f"C{i}", alpha=0.2)
    ax.set(xlabel="update step", ylabel=ylabel, title=title)
    if ax.lines:
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no run finished", ha="center", va="center", transform=ax.transAxes)
    return fig


def interval_points(frame: pd.DataFrame, columns: list[tuple[str, str]], *, title: str, xlabel: str,
                    logx: bool = False) -> Figure:
    """Per setting (rows of :func:`~pglab.sweep.stats.summary`), each ``(column, name)`` as a point with its CI."""
    fig, (ax,) = _figure(height=0.6 * len(frame) + 1.6)
    y = np.arange(len(frame))
    offsets = np.linspace(-0.15, 0.15, len(columns)) if len(columns) > 1 else [0.0]
    for j, ((col, name), dy) in enumerate(zip(columns, offsets)):
        v, lo, hi = (frame[c].to_numpy(float) for c in (col, f"{col}_low", f"{col}_high"))
        ax.errorbar(v, y + dy, xerr=[v - lo, hi - v], fmt="o", capsize=4, color=f"C{j}", label=name)
    ax.set_yticks(y, frame["setting"])
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, title=title, xscale="log" if logx else "linear")
    if logx:
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))    # 0.02, 0.05, 0.1, 0.2 …: readable, no collisions
        ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    if len(columns) > 1:
        ax.legend(loc="best", fontsize="small")
    return fig


def final_comparison(frame: pd.DataFrame, *, xlabel: str = "final reward (mean of the last steps)") -> Figure:
    """Mean and IQM of the final score per setting, each with its 95 % bootstrap interval."""
    return interval_points(frame, [("mean", "mean"), ("iqm", "IQM")], xlabel=xlabel,
                           title="Final reward over seeds (95 % bootstrap CIs)")


def gradient_variance_comparison(frame: pd.DataFrame) -> Figure:
    """Mean over seeds of tr Cov[ĝ] at each run's final policy, with its 95 % interval (log scale).

    Settings without a measurement (``grad_batches: 0``, or every run failed) are left out; with none left,
    the figure says so instead of plotting nothing."""
    frame = frame[frame["grad_variance"].gt(0)]                     # NaN (not measured) and 0 cannot be logged
    if frame.empty:
        fig, (ax,) = _figure(height=1.6)
        ax.text(0.5, 0.5, "gradient variance not measured (grad_batches: 0, or no run finished)",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    return interval_points(frame, [("grad_variance", "mean over seeds")], logx=True,
                           xlabel="tr Cov[ĝ] of the update at the run's final policy",
                           title="Gradient variance at the end of training (95 % bootstrap CIs)")
