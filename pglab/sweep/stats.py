"""Statistics over seeds, as recommended by Agarwal et al. 2021, "Deep RL at the edge of the statistical precipice".

With a handful of seeds a mean ± std says little. The paper's recipe, used here:

* **interval estimates**, not point estimates: a 95 % bootstrap confidence interval (percentile
  bootstrap over seeds, 10,000 resamples by default) of the mean and of the IQM;
* the **IQM** (interquartile mean): the mean of the middle 50 % of runs — 25 % trimmed from each
  end — robust to one lucky or one collapsed seed, yet using more runs than the median;
* the **probability of improvement** P(X > Y): the chance that a random run of setting X scores
  higher than a random run of setting Y (ties count ½) — the Mann–Whitney U statistic over n·m.

The point estimates are ``rliable.metrics`` (the paper's own library); its bootstrap
(``rliable.library``) needs the ``arch`` package, which does not import with the pandas pinned
here, so the intervals come from :func:`scipy.stats.bootstrap` — the same percentile bootstrap,
resampling each setting's seeds independently. The paper's *stratified* bootstrap resamples runs within
each task; with one task that is exactly this: resample the seeds within each setting.

Small samples: at 5 seeds the 95 % percentile interval of a mean covers the truth only about 84 % of the
time (about 91 % at 10, 92–94 % at 20–30; normal data, 1,000 repeats); the CLI defaults to 10 seeds and
warns below that.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rliable import metrics
from scipy import stats

LEVEL = 0.95
RESAMPLES = 10_000


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval."""
    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50 % (25 % trimmed from each end; rliable's definition)."""
    return float(metrics.aggregate_iqm(np.asarray(x, dtype=float).reshape(-1, 1)))


def _iqm_axis(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return stats.trim_mean(x, 0.25, axis=axis)                  # what aggregate_iqm computes, vectorised


STATISTICS = {"mean": np.mean, "iqm": _iqm_axis}


def interval(x, statistic: str = "mean", *, level: float = LEVEL, resamples: int = RESAMPLES,
             seed: int = 0) -> Estimate:
    """``statistic`` ("mean" or "iqm") of the per-seed scores ``x`` with a percentile bootstrap interval.

    NaNs (failed runs) are dropped. One score, or identical scores, give a zero-width interval
    (no resample can differ) rather than scipy's degenerate-data warning.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r}; known: {', '.join(STATISTICS)}")
    if x.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    point = iqm(x) if statistic == "iqm" else float(np.mean(x))       # the IQM point value is rliable's
    if x.size == 1 or np.all(x == x[0]):
        return Estimate(point, point, point, int(x.size))
    res = stats.bootstrap((x,), STATISTICS[statistic], confidence_level=level, n_resamples=resamples,
                          method="percentile", vectorized=True, axis=-1, rng=np.random.default_rng(seed))
    return Estimate(point, float(res.confidence_interval.low), float(res.confidence_interval.high), int(x.size))


def _poi(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(X > Y) + ½ P(X = Y) for every resample: the Mann–Whitney U statistic divided by n·m."""
    x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    diff = x[..., :, None] - y[..., None, :]                    # (..., n, m)
    return ((diff > 0).mean((-2, -1)) + 0.5 * (diff == 0).mean((-2, -1)))


def probability_of_improvement(x, y, *, level: float = LEVEL, resamples: int = RESAMPLES,
                               seed: int = 0) -> Estimate:
    """P(a run of X scores higher than a run of Y) with a bootstrap interval (X's and Y's seeds resampled apart).

    The point value is ``rliable.metrics.probability_of_improvement``; 0.5 means neither tends to score
    higher (not that the two are the same), and an interval that excludes 0.5 is the paper's evidence that
    X improves on Y. With few seeds the percentile interval is too narrow: for two identical settings at
    5 seeds each it excludes 0.5 about 8–10 % of the time, not 5 % (tests/test_sweep.py).
    """
    x, y = (np.asarray(v, dtype=float) for v in (x, y))
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size == 0 or y.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    point = float(metrics.probability_of_improvement(x.reshape(-1, 1), y.reshape(-1, 1)))
    if (x.size == 1 and y.size == 1) or np.all(np.concatenate([x, y]) == x[0]):
        return Estimate(point, point, point, int(min(x.size, y.size)))
    res = stats.bootstrap((x, y), _poi, confidence_level=level, n_resamples=resamples, method="percentile",
                          paired=False, vectorized=True, axis=-1, rng=np.random.default_rng(seed))
    return Estimate(point, float(res.confidence_interval.low), float(res.confidence_interval.high),
                    int(min(x.size, y.size)))


def _difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) / np.mean(y, axis=axis)


CONTRASTS = {"difference": _difference, "ratio": _ratio}


def contrast(x, y, how: str = "difference", *, level: float = LEVEL, resamples: int = RESAMPLES,
             seed: int = 0) -> Estimate:
    """mean(X) − mean(Y) (``how="difference"``) or mean(X) / mean(Y) (``"ratio"``) with a bootstrap interval
    (X's and Y's seeds resampled apart, as for :func:`probability_of_improvement`).

    Two settings can differ clearly even when their own intervals overlap: the interval of a difference
    is narrower than the gap the two separate intervals would need (about √2 × one interval's half-width
    instead of 2 ×, for equal spreads), so compare settings with this, not by eye."""
    if how not in CONTRASTS:
        raise ValueError(f"unknown contrast {how!r}; known: {', '.join(CONTRASTS)}")
    x, y = (np.asarray(v, dtype=float) for v in (x, y))
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size == 0 or y.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    point = float(CONTRASTS[how](x, y))
    if x.size == 1 and y.size == 1:
        return Estimate(point, point, point, 1)
    res = stats.bootstrap((x, y), CONTRASTS[how], confidence_level=level, n_resamples=resamples,
                          method="percentile", paired=False, vectorized=True, axis=-1,
                          rng=np.random.default_rng(seed))
    return Estimate(point, float(res.confidence_interval.low), float(res.confidence_interval.high),
                    int(min(x.size, y.size)))


def final_scores(table: pd.DataFrame, key: str = "reward/mean", last: int = 20) -> pd.DataFrame:
    """One row per run: its settings, seed, status and the mean of ``key`` over its last ``last`` logged steps."""
    if key not in table:
        if (table["step"] >= 0).any():
            raise ValueError(f"the results have no column {key!r}; columns: {', '.join(map(str, table.columns))}")
        table = table.assign(**{key: np.nan})                   # no run logged a step (all failed at once)
    steps = table[table["step"] >= 0]
    logged = steps[steps["status"] == "ok"].groupby("run").size()
    if len(logged) and not 1 <= last <= logged.min():
        raise ValueError(f"last must be an integer in [1, {logged.min()}] (the runs' logged updates), got {last!r}")
    tail = steps.groupby("run", sort=False).tail(last)
    score = tail.groupby("run")[key].mean().rename("score")
    runs = table.drop_duplicates("run").set_index("run")[["label", "seed", "status", "error", "grad_variance"]]
    out = runs.join(score)
    out.loc[out["status"] != "ok", "score"] = np.nan             # a failed run has no final score
    return out.reset_index()


def summary(table: pd.DataFrame, key: str = "reward/mean", last: int = 20, seed: int = 0) -> pd.DataFrame:
    """One row per setting (label): runs, failures, mean and IQM of the final score with 95 % intervals,
    and the mean gradient variance at the final policy with its interval."""
    scores = final_scores(table, key, last)
    rows = []
    for label, group in scores.groupby("label", sort=False):
        mean = interval(group["score"], "mean", seed=seed)
        mid = interval(group["score"], "iqm", seed=seed)
        var = interval(group["grad_variance"], "mean", seed=seed)
        rows.append({"setting": label, "runs": len(group), "failed": int((group["status"] != "ok").sum()),
                     "mean": mean.value, "mean_low": mean.low, "mean_high": mean.high,
                     "iqm": mid.value, "iqm_low": mid.low, "iqm_high": mid.high,
                     "grad_variance": var.value, "grad_variance_low": var.low, "grad_variance_high": var.high})
    return pd.DataFrame(rows)


def improvement_table(table: pd.DataFrame, reference: str, key: str = "reward/mean", last: int = 20,
                      seed: int = 0) -> pd.DataFrame:
    """P(setting > ``reference``) with its interval, for every other setting."""
    scores = final_scores(table, key, last)
    by = {label: g["score"].to_numpy() for label, g in scores.groupby("label", sort=False)}
    if reference not in by:
        raise ValueError(f"unknown reference setting {reference!r}; settings: {', '.join(by)}")
    rows = []
    for label, x in by.items():
        if label != reference:
            p = probability_of_improvement(x, by[reference], seed=seed)
            rows.append({"setting": label, "reference": reference, "P(better)": p.value, "low": p.low,
                         "high": p.high})
    return pd.DataFrame(rows)


def format_summary(frame: pd.DataFrame) -> str:
    """A plain-text table of :func:`summary` (values with their 95 % intervals)."""
    width = max([len("setting"), *(len(s) for s in frame["setting"])])
    lines = [f"{'setting':<{width}}  runs  fail  {'mean [95% CI]':>22}  {'IQM [95% CI]':>22}  "
             f"{'grad variance [95% CI]':>30}"]
    for r in frame.itertuples(index=False):
        lines.append(f"{r.setting:<{width}}  {r.runs:>4}  {r.failed:>4}  "
                     f"{r.mean:>6.3f} [{r.mean_low:.3f}, {r.mean_high:.3f}]  "
                     f"{r.iqm:>6.3f} [{r.iqm_low:.3f}, {r.iqm_high:.3f}]  "
                     f"{r.grad_variance:>9.3g} [{r.grad_variance_low:.3g}, {r.grad_variance_high:.3g}]")
    return "\n".join(lines)
