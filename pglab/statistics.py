"""Statistics of a gradient estimator's batch gradients: bias, variance, SNR, cosine, paired differences.

The input is an (M, P) tensor of M batch gradients (see :func:`pglab.gradients.batch_gradients`) and,
where needed, the exact gradient ∇J (:mod:`pglab.exact`). Everything is computed on the CPU in float64,
whatever device the gradients came from (statistics are cheap; MPS has no float64):

* error of the mean ‖ḡ − ∇J‖ (reported as ``bias``) next to its ``noise_floor`` √(tr Cov / M), and
  :func:`bias_estimate` √max(0, error² − floor²);
* ``variance`` tr Cov[ĝ]; ``snr`` ‖E ĝ‖² / tr Cov[ĝ]; ``cosine`` mean over batches of cos(ĝ, ∇J);
* z-tests along chosen directions, and paired differences for estimators measured on the same batches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F


@dataclass
class GradientReport:
    """Statistics of one estimator's batch gradients against the exact gradient."""
    name: str
    bias: float
    bias_se: float
    noise_floor: float
    variance: float
    variance_se: float
    snr: float
    snr_se: float
    cosine: float
    cosine_se: float
    n_batches: int

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _stats(g: torch.Tensor, exact: torch.Tensor) -> tuple[float, float, float]:
    M = g.shape[0]
    mean = g.mean(0)
    variance = g.var(0, unbiased=True).sum()
    signal = (mean.pow(2).sum() - variance / M).clamp_min(0.0)      # ‖E ĝ‖² without its noise term
    return (mean - exact).norm().item(), variance.item(), (signal / variance).item()


def _resampled_stats(g: torch.Tensor, exact: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``_stats`` of every bootstrap resample at once, (n_boot, 3); resample b holds batch j ``counts[b, j]`` times.

    Two matrix products instead of a loop over resamples; the batches are centred first, so the
    variance Σ_j c_j ‖d_j‖² − M ‖d̄‖² (d = g − ḡ) does not cancel (equal to the loop up to rounding).
    """
    M = g.shape[0]
    centre = g.mean(0)
    d = g - centre                                                     # (M, P) centred batch gradients
    shift = counts @ d / M                                             # (n_boot, P) resample mean − ḡ
    variance = (counts @ d.pow(2).sum(1) - M * shift.pow(2).sum(1)) / (M - 1)   # tr Cov, unbiased, per resample
    mean = shift + centre
    signal = (mean.pow(2).sum(1) - variance / M).clamp_min(0.0)        # ‖E ĝ‖² without its noise term
    return torch.stack([(mean - exact).norm(dim=1), variance, signal / variance], 1)


def report(name: str, grads: torch.Tensor, exact: torch.Tensor, n_boot: int = 200, seed: int = 0) -> GradientReport:
    """Bias, variance, SNR (bootstrap standard errors) and cosine (its standard error) of ``grads`` (M, P)."""
    grads, exact = _cpu64(grads), _cpu64(exact)      # statistics on the CPU in float64 (MPS has no float64)
    M = grads.shape[0]
    bias, variance, snr = _stats(grads, exact)
    gen = torch.Generator().manual_seed(seed)
    counts = torch.stack([torch.bincount(torch.randint(M, (M,), generator=gen), minlength=M)
                          for _ in range(n_boot)]).to(grads)        # (n_boot, M): how often each batch is redrawn
    boot = _resampled_stats(grads, exact, counts)
    cos = F.cosine_similarity(grads, exact[None], dim=1)
    return GradientReport(name, bias, boot[:, 0].std().item(), math.sqrt(variance / M), variance,
                          boot[:, 1].std().item(), snr, boot[:, 2].std().item(), cos.mean().item(),
                          (cos.std() / math.sqrt(M)).item(), M)


def _cpu64(x: torch.Tensor) -> torch.Tensor:
    """A detached float64 copy on the CPU: the statistics are cheap, and every device supports this."""
    return x.detach().to(device="cpu", dtype=torch.float64)


def z_scores(grads: torch.Tensor, target: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """z-statistic of the mean batch gradient against ``target`` along each row of ``directions``.

    For an unbiased estimator each z is approximately standard normal, so
    max |z| over k directions stays below Φ⁻¹(1 − α/2k) with probability 1 − α.
    """
    grads, target, directions = _cpu64(grads), _cpu64(target), _cpu64(directions)   # any devices in, CPU out
    proj = grads @ directions.T                                       # (M, k)
    se = proj.std(0, unbiased=True) / math.sqrt(grads.shape[0])
    return (proj.mean(0) - directions @ target) / se


def bonferroni_threshold(k: int, alpha: float = 1e-3) -> float:
    """Φ⁻¹(1 − α / 2k): the two-sided bound for the largest of k z-scores."""
    return float(torch.special.ndtri(torch.tensor(1 - alpha / (2 * k), dtype=torch.float64)))


def format_table(reports: list[GradientReport]) -> str:
    """A plain-text table, one row per estimator, values ± standard error."""
    head = f"{'estimator':<20}{'bias':>18}{'noise floor':>13}{'variance':>22}{'SNR':>18}{'cosine':>18}"
    lines = [head, "-" * len(head)]
    for r in reports:
        lines.append(f"{r.name:<20}{r.bias:>10.4f} ± {r.bias_se:<6.4f}{r.noise_floor:>12.4f} "
                     f"{r.variance:>12.4g} ± {r.variance_se:<8.2g}{r.snr:>9.3f} ± {r.snr_se:<6.3f}"
                     f"{r.cosine:>9.3f} ± {r.cosine_se:<6.3f}")
    return "\n".join(lines)


def bias_estimate(r: GradientReport) -> float:
    """√max(0, error² − floor²): the bias left once the noise of the mean is taken out (chapter 02).

    E‖ḡ − ∇J‖² = ‖E ĝ − ∇J‖² + tr Cov[ĝ]/M, so subtracting the squared noise floor from the
    squared error of the mean estimates the squared bias; 0 when the error is at or below the floor.
    """
    return math.sqrt(max(0.0, r.bias ** 2 - r.noise_floor ** 2))


def per_batch_statistics(grads: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """(M, 2): per batch j, ‖ĝ_j − ḡ‖²·M/(M−1) (their mean is tr Cov[ĝ]) and cos(ĝ_j, ∇J) (their mean is the cosine)."""
    g, exact = _cpu64(grads), _cpu64(exact)
    M = g.shape[0]
    return torch.stack([(g - g.mean(0)).pow(2).sum(1) * M / (M - 1), F.cosine_similarity(g, exact[None], dim=1)], 1)


def paired_difference(grads_a: torch.Tensor, grads_b: torch.Tensor, exact: torch.Tensor
                      ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Variance and cosine of estimator a minus those of b, batch by batch: ((d_var, se), (d_cos, se)).

    For two estimators computed on the *same* batches (same seed), the per-batch differences
    cancel the batch-to-batch noise both share, so their standard error is the honest one —
    independent standard errors would overstate it.
    """
    if grads_a.shape != grads_b.shape:
        raise ValueError("paired_difference needs gradients of the same batches: shapes differ")
    d = per_batch_statistics(grads_a, exact) - per_batch_statistics(grads_b, exact)
    mean, se = d.mean(0), d.std(0) / math.sqrt(d.shape[0])
    return (mean[0].item(), se[0].item()), (mean[1].item(), se[1].item())


def t_quantile(p: float, dof: int) -> float:
    """The p-quantile of Student's t with ``dof`` degrees of freedom (bisection on the CDF, Simpson's rule)."""
    if not 0.5 <= p < 1 or dof < 1:
        raise ValueError("t_quantile needs 0.5 <= p < 1 and dof >= 1")
    log_c = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)

    def cdf(x: float) -> float:      # 0.5 + ∫_0^x pdf, Simpson with 2000 panels
        t = torch.linspace(0.0, x, 2001, dtype=torch.float64)
        f = torch.exp(log_c - (dof + 1) / 2 * torch.log1p(t ** 2 / dof))
        w = torch.ones(2001, dtype=torch.float64); w[1:-1:2], w[2:-1:2] = 4.0, 2.0
        return 0.5 + (w * f).sum().item() * x / 6000

    lo, hi = 0.0, 1.0
    while cdf(hi) < p:
        lo, hi = hi, 2 * hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2


def mean_interval(x: torch.Tensor, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a two-sided ``level`` confidence interval (t with n − 1 degrees of freedom): (mean, low, high)."""
    x = _cpu64(x).flatten()
    n = x.numel()
    if n < 2:
        raise ValueError("mean_interval needs at least two values")
    half = t_quantile(0.5 + level / 2, n - 1) * x.std().item() / math.sqrt(n)
    return x.mean().item(), x.mean().item() - half, x.mean().item() + half
