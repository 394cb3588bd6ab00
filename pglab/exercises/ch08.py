"""Exercises for chapter 08 (sweeps and statistics over seeds): a percentile-bootstrap interval of a mean, the
interval of a *paired* difference, the sign test on paired seeds, when P(X > Y) is the right tool, and a
prediction of how many seeds a moderate difference needs.

How a random answer is checked fairly: a bootstrap draws random resamples, so two correct solutions do not
return the same numbers unless they draw them identically. The check therefore (1) passes a freshly seeded
``torch.Generator`` and calls the function twice: both calls must return exactly the same interval (all
randomness through the generator, as everywhere in pglab); and (2) compares the interval with the reference's
up to Monte Carlo noise: each end within 5 % of the reference interval's width. With 20,000 resamples two
independent correct solutions differed by at most 3 % of the width over 400 cases (tests/test_exercises_ch07_08.py),
while the classic mistakes move an end by 8 % (a 90 % interval for a 95 % one) to several hundred % (resampling
unpaired data).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from .calling import WrongOutput, call
from .choice import ChoiceQuestion
from .compare import as_tensor, compare_tensors
from .function import Case, Exercise, mistake, symptom

RESAMPLES = 20_000
TOLERANCE = 0.05
"""Each end of an interval may differ from the reference's by this share of the reference's width."""


def _generator(inputs: dict[str, Any]) -> torch.Generator:
    return torch.Generator().manual_seed(inputs["generator"].initial_seed())


def _seeded_observe(fn, inputs: dict[str, Any]) -> torch.Tensor:
    """Call ``fn`` twice with fresh generators of the case's seed: the two intervals must be identical."""
    first = call(fn, {**inputs, "generator": _generator(inputs)})
    second = call(fn, {**inputs, "generator": _generator(inputs)})
    try:
        same = torch.equal(as_tensor(first), as_tensor(second))
    except (TypeError, ValueError, RuntimeError):
        same = True                                  # not a tensor: compare_interval names what is wrong
    if not same:
        raise WrongOutput("two calls with the same seed returned different intervals", "ignores_generator",
                          "draw every resample with the `generator` argument (torch.randint(0, n, (resamples, n), "
                          "generator=generator)): without it the result changes from run to run and cannot be "
                          "reproduced.")
    return first


def compare_interval(expected: Any, got: Any) -> str | None:
    """``None`` when ``got`` is a (low, high) pair whose ends are within :data:`TOLERANCE` × the reference's width."""
    try:
        g = as_tensor(got)
    except (TypeError, ValueError, RuntimeError):
        return f"expected a tensor (low, high) of shape (2,), got a {type(got).__name__}"
    e = as_tensor(expected)
    if g.shape != e.shape:
        return f"shape: expected {tuple(e.shape)} (low, high), got {tuple(g.shape)}"
    if not torch.isfinite(g).all():
        return "got contains NaN or inf"
    if g[0] > g[1]:
        return f"low {g[0].item() + 0.0:.4g} is above high {g[1].item() + 0.0:.4g}: return (low, high)"
    tol = TOLERANCE * float(e[1] - e[0]) + 1e-9
    for i, end in enumerate(("low", "high")):
        if abs(float(g[i] - e[i])) > tol:
            return (f"{end} end: expected {e[i].item() + 0.0:.4g} (± {tol:.2g} of Monte Carlo noise), "
                    f"got {g[i].item() + 0.0:.4g}")
    return None


def _quantiles(stats: torch.Tensor, level: float) -> torch.Tensor:
    alpha = 1 - level
    return torch.quantile(stats, torch.tensor([alpha / 2, 1 - alpha / 2], dtype=stats.dtype))


# ---------------------------------------------------------------------------------------------------------------
# 8.1 A percentile bootstrap interval of the mean: resample the n seeds with replacement `resamples` times, take
# the mean of each resample, and return the (1 − level)/2 and (1 + level)/2 quantiles of those means.

def bootstrap_interval(x: torch.Tensor, resamples: int, level: float, generator: torch.Generator) -> torch.Tensor:
    """Reference (the percentile bootstrap of :func:`pglab.sweep.stats.interval`, drawn with a torch.Generator)."""
    n = len(x)
    idx = torch.randint(0, n, (resamples, n), generator=generator)           # (resamples, n) seeds, with replacement
    means = x[idx].mean(1)                                                     # one mean per resample
    return _quantiles(means, level)                                            # (low, high)


def _scores(n: int, g: torch.Generator) -> torch.Tensor:
    """Final scores of n seeds in [0, 1]: a spread of typical runs and, sometimes, a collapsed one (skewed)."""
    x = (0.55 + 0.15 * torch.randn(n, generator=g, dtype=torch.float64)).clamp(0.05, 1.0)
    if float(torch.rand(1, generator=g)) < 0.5:
        x[0] = 0.02                                                            # a collapsed seed
    return torch.round(x * 1000) / 1000


def _boot_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n, level in [(10, 0.95), (20, 0.95), (12, 0.9), (30, 0.8), (16, 0.95)]:
        s = int(torch.randint(0, 10_000, (1,), generator=g))
        out.append(Case(f"n={n}, level={level}, generator seed {s}",
                        {"x": _scores(n, g), "resamples": RESAMPLES, "level": level,
                         "generator": torch.Generator().manual_seed(s)}))
    return out


def _boot_no_replacement(x, resamples, level, generator):
    idx = torch.rand(resamples, len(x), generator=generator).argsort(1)        # a permutation per resample
    return _quantiles(x[idx].mean(1), level)


def _boot_one_sided(x, resamples, level, generator):
    idx = torch.randint(0, len(x), (resamples, len(x)), generator=generator)
    means = x[idx].mean(1)
    return torch.quantile(means, torch.tensor([1 - level, level], dtype=means.dtype))


def _data_quantiles(inputs, got, expected) -> bool:
    """got's ends are near the quantiles of the scores themselves (within 10 % of that much wider range)."""
    e, g = _quantiles(inputs["x"], inputs["level"]), as_tensor(got)
    return g.shape == e.shape and bool(((g - e).abs() <= 0.1 * (e[1] - e[0])).all())


def _boot_normal(x, resamples, level, generator):
    from ..statistics import t_quantile
    half = t_quantile(0.5 + level / 2, len(x) - 1) * x.std() / math.sqrt(len(x))
    return torch.stack([x.mean() - half, x.mean() + half])


BOOT_DIAGNOSES = [
    mistake("no_replacement",
            "your resamples are permutations of the seeds (drawn without replacement): every one has the same mean, "
            "so the interval has width 0. Draw n indices *with* replacement, torch.randint(0, n, (resamples, n)).",
            _boot_no_replacement),
    mistake("one_sided_quantiles",
            "your interval is too narrow: you took the quantiles (1 − level) and level, which leave 1 − level "
            "*in each tail* (a 90 % interval for level 0.95). Split the rest between the two tails: "
            "(1 − level)/2 and (1 + level)/2.", _boot_one_sided),
    symptom("data_quantiles",
            "you took the quantiles of the scores themselves (or of all resampled scores pooled): that describes "
            "where one seed lands, not how well the mean is known — about √n times wider. Take the quantiles of the "
            "resampled *means*, one mean per resample.", _data_quantiles, exact=True),
]

BOOTSTRAP = Exercise(
    name="ch08_bootstrap_mean", chapter=8, title="A bootstrap interval of the mean over seeds",
    function="bootstrap_interval", minutes=8, difficulty="easy", reference=bootstrap_interval, cases=_boot_cases,
    observe=_seeded_observe, compare=compare_interval, diagnoses=BOOT_DIAGNOSES,
    shape="(2,)", shape_means="(low, high)",
)


# ---------------------------------------------------------------------------------------------------------------
# 8.2 The interval of a paired difference mean(x) − mean(y): seed s of x and seed s of y are a pair (same first
# batch), so resample the *pairs* — the same indices for x and y — i.e. bootstrap the differences x_s − y_s.

def paired_difference_interval(x: torch.Tensor, y: torch.Tensor, resamples: int, level: float,
                               generator: torch.Generator) -> torch.Tensor:
    """Reference: the percentile bootstrap of the per-pair differences (one index draw for both arms)."""
    return bootstrap_interval(x - y, resamples, level, generator)


def _paired_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n, level, gap, noise in [(10, 0.95, 0.05, 0.02), (20, 0.95, 0.02, 0.03), (15, 0.9, -0.03, 0.02),
                                 (30, 0.95, 0.0, 0.05), (25, 0.8, 0.04, 0.03)]:
        y = _scores(n, g)
        x = torch.round((y + gap + noise * torch.randn(n, generator=g, dtype=torch.float64)) * 1000) / 1000
        s = int(torch.randint(0, 10_000, (1,), generator=g))
        out.append(Case(f"n={n} pairs, level={level}, generator seed {s}",
                        {"x": x, "y": y, "resamples": RESAMPLES, "level": level,
                         "generator": torch.Generator().manual_seed(s)}))
    return out


def _unpaired(x, y, resamples, level, generator):
    n = len(x)
    ix = torch.randint(0, n, (resamples, n), generator=generator)
    iy = torch.randint(0, n, (resamples, n), generator=generator)
    return _quantiles(x[ix].mean(1) - y[iy].mean(1), level)


def _difference_of_intervals(x, y, resamples, level, generator):
    a, b = bootstrap_interval(x, resamples, level, generator), bootstrap_interval(y, resamples, level, generator)
    return torch.stack([a[0] - b[1], a[1] - b[0]])


def _reversed(x, y, resamples, level, generator):
    return bootstrap_interval(y - x, resamples, level, generator)


PAIRED = Exercise(
    name="ch08_paired_difference", chapter=8, title="The interval of a paired difference",
    function="paired_difference_interval", minutes=6, difficulty="medium", reference=paired_difference_interval,
    cases=_paired_cases, observe=_seeded_observe, compare=compare_interval,
    diagnoses=[
        mistake("unpaired",
                "you resampled x and y independently (two index draws): that throws the pairs away. Seed s of x and "
                "seed s of y share their first batch, so their scores may move together; resample the *pairs* — one "
                "index draw used for both, i.e. bootstrap the differences x_s − y_s. Unpaired, the interval "
                "here is several times too wide.", _unpaired),
        mistake("difference_of_intervals",
                "you subtracted the two arms' own intervals (low_x − high_y, high_x − low_y): that is far too wide — "
                "an interval of a difference is not the difference of intervals. Bootstrap the per-pair differences.",
                _difference_of_intervals),
        mistake("reversed",
                "your interval is for mean(y) − mean(x): the exercise asks for mean(x) − mean(y).", _reversed),
    ],
    shape="(2,)", shape_means="(low, high)",
)


# ---------------------------------------------------------------------------------------------------------------
# 8.3 The sign test on paired seeds: k = wins of x (x_s > y_s) among the n pairs that are not tied; under "no
# difference" k ~ Binomial(n, ½); two-sided p = min(1, 2 · P(K ≤ min(k, n − k))). No untied pair: p = 1.

def _binomial_cdf(m: int, n: int) -> float:
    """P(K ≤ m) for K ~ Binomial(n, ½)."""
    return sum(math.comb(n, j) for j in range(m + 1)) / 2 ** n


def sign_test(x: torch.Tensor, y: torch.Tensor) -> float:
    """Reference (scipy.stats.binomtest(k, n).pvalue, as chapter 08 uses it)."""
    k, n = int((x > y).sum()), int((x != y).sum())
    if n == 0:
        return 1.0
    return min(1.0, 2 * _binomial_cdf(min(k, n - k), n))


def _sign_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n, p_win in [(8, 0.5), (12, 0.8), (20, 0.7), (30, 0.6), (16, 0.25), (5, 1.0)]:
        y = torch.round(torch.rand(n, generator=g, dtype=torch.float64) * 20) / 20
        step = torch.where(torch.rand(n, generator=g) < p_win, 1.0, -1.0).double() * 0.05
        tie = torch.rand(n, generator=g) < 0.15
        x = torch.where(tie, y, y + step)                                         # some pairs tie
        out.append(Case(f"n={n} pairs, {int(tie.sum())} tied", {"x": x, "y": y}))
    y = torch.round(torch.rand(12, generator=g, dtype=torch.float64) * 20) / 20   # k = n/2: 2 · P(K ≤ k) > 1,
    x = y + torch.tensor([0.05] * 5 + [-0.05] * 5 + [0.0] * 2, dtype=torch.float64)   # so the cap at 1 matters
    out.append(Case("12 pairs, 2 tied, 5 wins and 5 losses", {"x": x, "y": y}))
    return out


def _sign_ties_as_losses(x, y):
    k, n = int((x > y).sum()), len(x)
    return min(1.0, 2 * _binomial_cdf(min(k, n - k), n))


def _sign_one_sided(x, y):
    k, n = int((x > y).sum()), int((x != y).sum())
    return 1.0 if n == 0 else 1 - _binomial_cdf(k - 1, n)                       # P(K ≥ k)


def _sign_not_doubled(x, y):
    k, n = int((x > y).sum()), int((x != y).sum())
    return 1.0 if n == 0 else _binomial_cdf(min(k, n - k), n)                  # one tail, not doubled


def _sign_not_capped(x, y):
    k, n = int((x > y).sum()), int((x != y).sum())
    return 1.0 if n == 0 else 2 * _binomial_cdf(min(k, n - k), n)              # above 1 when k = n/2


def _sign_point(x, y):
    k, n = int((x > y).sum()), int((x != y).sum())
    return 1.0 if n == 0 else math.comb(n, k) / 2 ** n


def _sign_normal(x, y):
    k, n = int((x > y).sum()), int((x != y).sum())
    if n == 0:
        return 1.0
    z = abs(k - n / 2) / math.sqrt(n / 4)
    return math.erfc(z / math.sqrt(2))


def _sign_all_pairs(x, y):
    d = x[:, None] - y[None, :]
    k, n = int((d > 0).sum()), int((d != 0).sum())
    return 1.0 if n == 0 else min(1.0, 2 * _binomial_cdf(min(k, n - k), n))


SIGN = Exercise(
    name="ch08_sign_test", chapter=8, title="The sign test on paired seeds", function="sign_test", minutes=8,
    difficulty="medium", reference=sign_test, cases=_sign_cases,
    compare=lambda e, g: compare_tensors(e, g, rtol=1e-6, atol=1e-9),
    diagnoses=[
        mistake("ties_counted",
                "you counted the tied pairs as losses (n = all pairs): a tie says nothing about which is better, so "
                "the sign test drops it — n is the number of pairs with x_s ≠ y_s.", _sign_ties_as_losses),
        mistake("one_sided",
                "your p-value is one-sided, P(K ≥ k): before the data, either method could have won, so the test is "
                "two-sided — 2 · P(K ≤ min(k, n − k)), at most 1.", _sign_one_sided),
        mistake("not_doubled",
                "your p-value is one tail, P(K ≤ min(k, n − k)): that is a one-sided p. Before the data either "
                "method could have won, so a result as uneven the other way counts too — double it: "
                "2 · P(K ≤ min(k, n − k)), at most 1.", _sign_not_doubled),
        mistake("not_capped",
                "your p-value is above 1 when the wins split evenly (k = n/2): doubling P(K ≤ n/2), which is above "
                "½, counts the middle outcome twice. A probability is at most 1: return min(1, 2 · P(K ≤ "
                "min(k, n − k))).", _sign_not_capped),
        mistake("point_probability",
                "you returned P(K = k), the probability of exactly k wins: the p-value is the probability of a "
                "result *at least as uneven* as k, both tails: 2 · P(K ≤ min(k, n − k)).", _sign_point),
        mistake("normal_approximation",
                "you used the normal approximation of the binomial: with 5–30 pairs it is off. Sum the exact "
                "Binomial(n, ½) probabilities (math.comb(n, j) / 2**n).", _sign_normal),
        mistake("all_pairs",
                "you compared every x_s with every y_r (n² comparisons, as P(X > Y) does): those comparisons are not "
                "independent coin flips, so a binomial test on them is far too confident. The sign test uses the "
                "n pairs (x_s, y_s) only.", _sign_all_pairs),
    ],
)


# ---------------------------------------------------------------------------------------------------------------
# 8.4 When there are no pairs.

UNPAIRED = ChoiceQuestion(
    name="ch08_which_test", chapter=8, title="No pairs: which comparison?", variable="answer_test",
    minutes=4, difficulty="easy",
    choices={"A": "the sign test on the 20 pairs (x_s, y_s): count the seeds where X wins",
             "B": "the probability of improvement P(X > Y) over all 20 × 20 pairs of runs, with a bootstrap that "
                  "resamples each method's seeds apart",
             "C": "either: the two answer the same question"},
    answer="B", measured=False,
    reconsider="reread chapter 08 §3: what makes seed s of X and seed s of Y a pair?",
    wrong_means="does not fit runs without pairs",
    explanations={
        "A": "a sign test needs real pairs — two runs that share something, like the same first batch. Here seed s of "
             "X and seed s of Y share nothing, so the pairing is arbitrary: renumber one method's seeds and the count "
             "of wins changes while the data do not.",
        "C": "both test the same hypothesis (neither method tends to win) with two statistics, but they are not "
             "equally good here. Without natural pairs the pairing is arbitrary: renumber one method's seeds and the "
             "count of wins changes while the data do not. One arbitrary pairing uses 20 of the 20 × 20 comparisons, "
             "a noisier, less efficient statistic than P(X > Y) over all of them.",
    },
)


# ---------------------------------------------------------------------------------------------------------------
# 8.5 Predict, then measure: how many seeds resolve a moderate difference?

PREDICT = ChoiceQuestion(
    name="ch08_predict_seeds", chapter=8, title="Predict, then measure: how many seeds for a moderate gap?",
    variable="answer_seeds", minutes=8, difficulty="medium",
    choices={"A": "5 seeds per method, as in many papers",
             "B": "about 20 seeds per method",
             "C": "about 60 seeds per method (between 40 and 80)",
             "D": "several hundred seeds per method"},
    answer="C",
    explanations={
        "A": "look at the measured share at n = 5: the interval excludes 0 in only a small fraction of the "
             "experiments — most 5-seed comparisons of a real, moderate gap end \"not resolved\".",
        "B": "the measurement at n = 20 resolves the gap in well under 80 % of the experiments: chapter 08's "
             "\"not resolved at 20 seeds\" is what a moderate gap usually looks like at that size.",
        "D": "look at where the measured share first passes 80 %: far below several hundred. The needed n grows "
             "as 1/δ²: several hundred seeds is for gaps of about a fifth of σ or less.",
    },
)

EXERCISES = [BOOTSTRAP, PAIRED, SIGN, UNPAIRED, PREDICT]
