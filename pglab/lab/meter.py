"""The race's same-policy meter: every contender's gradient estimator measured at one shared θ, with intervals.

Why one θ: a contender measured at its *own* policy mixes two things — its
estimator and how far its policy has moved. A collapsed, deterministic policy
has almost zero gradient variance whatever the estimator, so per-policy ratios
"celebrated" collapse (×10¹⁴ lower). Here, at every meter point:

1. **One snapshot θ**: the policy of the lowest rung of the ladder that is in
   the race (vanilla REINFORCE, seed 0, when raced — it moves slowest, so it
   collapses last).
2. **Every estimator at θ**, on the same M held-out batches of B completions
   (one random stream, so the batches are paired): whole return → reward-to-go →
   reward-to-go − baseline → A2C's GAE(λ) advantage. Vanilla REINFORCE's
   estimator is always measured, raced or not: it is the yardstick.
3. **A critic that fits θ**: the critic-based estimators (A2C, the ``value``
   baseline) use A2C's critic, refitted for ``critic_steps`` Adam steps on
   held-out Monte Carlo returns of θ (:func:`pglab.algos.a2c.fit_critic`, which
   moves only the critic); its explained variance on a fresh batch is reported.
4. **Uncertainty**: a 95 % percentile bootstrap over the M batches, resampled
   jointly for all estimators; a ratio is stated only when its interval
   excludes 1.

Collapse is read from training: a contender whose policy entropy fell below
``COLLAPSE_ENTROPY`` nats per token is named as collapsed and gets no ratio.
No widgets here: :mod:`pglab.lab.app` only displays what this module computes.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from ..advantages import explained_variance, reward_to_go
from ..algos.a2c import fit_critic
from ..gradients import CRITIC_RETURNS, Estimator, batch_gradients
from ..rollout import sample
from .messages.en import MESSAGES as EN

YARDSTICK = "vanilla REINFORCE"
"""The estimator every ratio divides: whole-episode return, no baseline (Eq. 3.1)."""
COLLAPSE_ENTROPY = 0.02
"""Mean per-token entropy (nats) below which a policy counts as collapsed (near-deterministic)."""
N_BOOT = 400
"""Bootstrap resamples per meter point (cheap: they reuse one M × M Gram matrix per estimator)."""


@dataclass(frozen=True)
class Interval:
    """A point estimate with its 95 % interval."""
    value: float
    low: float
    high: float

    def excludes(self, x: float) -> bool:
        return self.low > x or self.high < x

    def __repr__(self) -> str:
        return f"{self.value:.3g} [{self.low:.3g}, {self.high:.3g}]"


@dataclass
class MeterPoint:
    """Every estimator measured at one policy θ, at one training step."""
    step: int
    reference: str
    """Whose policy θ is (that contender's seed 0)."""
    entropy: float
    """Mean per-token entropy of θ over the meter batches' completions (nats)."""
    variance: dict[str, Interval]
    """tr Cov[ĝ] of one batch gradient, per estimator (lower is better)."""
    snr: dict[str, Interval]
    """‖E ĝ‖² / tr Cov[ĝ], per estimator (higher is better)."""
    ratio: dict[str, Interval]
    """Var[vanilla REINFORCE] / Var[estimator] at θ: > 1 means lower variance than vanilla."""
    critic_fit: float | None = None
    """Explained variance of the refitted critic on a fresh batch (None: no critic needed)."""

    def __repr__(self) -> str:
        ratios = ", ".join(f"{n}: ×{r!r}" for n, r in self.ratio.items())
        return f"MeterPoint(step={self.step}, at {self.reference}'s θ, entropy={self.entropy:.3f}, {ratios})"


def gram_stats(grads: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """tr Cov and SNR of the batch gradients ``grads`` (M, P) for each row of resampled indices ``idx`` (R, M).

    Both come from the Gram matrix K = G Gᵀ: with ḡ the mean of the chosen rows,
    tr Cov = (Σ_i ‖g_i‖² − M‖ḡ‖²) / (M − 1) and ‖E ĝ‖² ≈ ‖ḡ‖² − tr Cov / M.
    """
    g = grads.double()
    K = g @ g.T                                                          # (M, M)
    M = idx.shape[1]
    norms = K.diagonal()[idx].sum(1)                                     # Σ_i ‖g_i‖²          (R,)
    mean_sq = K[idx[:, :, None], idx[:, None, :]].sum((1, 2)) / M ** 2   # ‖ḡ‖²               (R,)
    variance = (norms - M * mean_sq) / (M - 1)
    signal = (mean_sq - variance / M).clamp_min(0.0)
    return variance, signal / variance.clamp_min(1e-300)


def _interval(point: torch.Tensor, boot: torch.Tensor) -> Interval:
    low, high = torch.nanquantile(boot, torch.tensor([0.025, 0.975], dtype=boot.dtype)).tolist()  # 0/0 resamples
    return Interval(float(point), low, high)


def summarize(grads: dict[str, torch.Tensor], yardstick: str = YARDSTICK, seed: int = 0
              ) -> tuple[dict[str, Interval], dict[str, Interval], dict[str, Interval]]:
    """Variance, SNR and ratio-to-``yardstick`` intervals from each estimator's (M, P) batch gradients."""
    M = next(iter(grads.values())).shape[0]
    gen = torch.Generator().manual_seed(seed)
    idx = torch.cat([torch.arange(M)[None], torch.randint(M, (N_BOOT, M), generator=gen)])  # row 0: the data
    stats = {n: gram_stats(g, idx) for n, g in grads.items()}
    variance = {n: _interval(v[0], v[1:]) for n, (v, _) in stats.items()}
    snr = {n: _interval(s[0], s[1:]) for n, (_, s) in stats.items()}
    ref = stats[yardstick][0]
    ratio = {n: _interval(ref[0] / v[0], ref[1:] / v[1:]) for n, (v, _) in stats.items() if n != yardstick}
    return variance, snr, ratio


def critic_for(reference: torch.nn.Module, critic_source: torch.nn.Module, task, *, steps: int, batch_size: int,
               gamma: float, seed: int) -> tuple[torch.nn.Module, float]:
    """A copy of ``critic_source`` carrying the actor of ``reference`` and a critic refitted to it.

    Returns the probe policy and the critic's explained variance on a fresh batch
    of Monte Carlo returns (1: perfect, 0: no better than a constant).
    """
    probe = copy.deepcopy(critic_source)
    critic = set(probe.critic_parameters())                     # the policy contract names them (any policy kind)
    probe.load_state_dict({n: p for n, p in reference.state_dict().items() if n not in critic}, strict=False)
    if reference is not critic_source:
        fit_critic(probe, task, steps=steps, batch_size=batch_size, lr=3e-3, gamma=gamma, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        prompts = task.sample_prompts(batch_size, gen).to(probe.device)
        ro = sample(probe, prompts, task.max_new_tokens, generator=gen)
        returns = reward_to_go(task.reward(prompts, ro.completion_ids, ro.mask).to(probe.device), ro.mask, gamma)
    return probe, explained_variance(ro.values, returns, ro.mask)


def needs_critic(est: Estimator) -> bool:
    return est.returns in CRITIC_RETURNS or est.baseline == "value"


@torch.no_grad()
def policy_entropy(policy, task, batch_size: int, seed: int) -> float:
    """Mean per-token entropy (nats) of ``policy`` over freshly sampled completions."""
    from ..rollout import token_logprobs
    gen = torch.Generator().manual_seed(seed)
    prompts = task.sample_prompts(batch_size, gen).to(policy.device)
    ro = sample(policy, prompts, task.max_new_tokens, generator=gen)
    out = token_logprobs(policy, prompts, ro.completion_ids)
    return ((out.entropy * ro.mask).sum() / ro.mask.sum()).item()


def measure(step: int, reference: str, policy, estimators: dict[str, Estimator], task, *, batch_size: int,
            n_batches: int, seed: int, critic_source=None, critic_steps: int = 30, gamma: float = 1.0) -> MeterPoint:
    """Measure every estimator in ``estimators`` (it must include ``YARDSTICK``) at ``policy``'s θ."""
    probe, fit = policy, None
    if any(needs_critic(e) for e in estimators.values()):
        if critic_source is None:
            raise ValueError("a critic-based estimator needs a critic_source policy with a value head")
        probe, fit = critic_for(policy, critic_source, task, steps=critic_steps, batch_size=batch_size,
                                gamma=gamma, seed=seed + 7)
    with torch.enable_grad():
        grads = {n: batch_gradients(probe if needs_critic(e) else policy, task, e, batch_size=batch_size,
                                    n_batches=n_batches, seed=seed, method="batch")
                 for n, e in estimators.items()}
    variance, snr, ratio = summarize(grads, seed=seed)
    entropy = policy_entropy(policy, task, batch_size, seed)
    return MeterPoint(step, reference, entropy, variance, snr, ratio, fit)


# ----- the readout: what the page says, decided here (tested without widgets) ---------------------------
@dataclass(frozen=True)
class Verdict:
    """One line of the readout for one contender.

    ``key`` and ``fields`` say it in any language (``catalogue(lang)(v.key, **v.fields)``, see
    :mod:`pglab.lab.messages`); ``text`` is the English line.
    """
    name: str
    kind: str
    """"lower", "higher", "unclear" (interval contains 1), "collapsed" or "yardstick"."""
    key: str
    fields: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return EN[self.key].format(**self.fields)


def collapsed(entropies: dict[str, float], threshold: float = COLLAPSE_ENTROPY) -> dict[str, float]:
    """The contenders whose recent policy entropy is below ``threshold`` (name → entropy)."""
    return {n: e for n, e in entropies.items() if e < threshold}


def verdicts(point: MeterPoint, entropies: dict[str, float], rewards: dict[str, float]) -> list[Verdict]:
    """The headline: at θ, how much lower is each contender's estimator variance than vanilla REINFORCE's?

    ``entropies`` and ``rewards`` are each contender's recent training entropy and
    reward (mean over seeds). No ratio is given for a collapsed contender, nor
    for any contender when θ itself has collapsed (every estimator is then ≈ 0).
    """
    gone = collapsed(entropies)
    out = []
    for name in entropies:
        if name in gone:
            out.append(Verdict(name, "collapsed", "verdict.collapsed",
                               {"entropy": gone[name], "reward": rewards.get(name, float("nan"))}))
        elif point.entropy < COLLAPSE_ENTROPY:
            out.append(Verdict(name, "collapsed", "verdict.theta_collapsed",
                               {"reference": point.reference, "entropy": point.entropy}))
        elif name not in point.ratio:
            out.append(Verdict(name, "yardstick", "verdict.yardstick"))
        else:
            out.append(_ratio_verdict(name, point.ratio[name]))
    return out


def _num(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.0f}"


def _ratio_verdict(name: str, r: Interval) -> Verdict:
    if r.low > 1:
        return Verdict(name, "lower", "verdict.lower", {"value": r.value, "low": _num(r.low), "high": _num(r.high)})
    if r.high < 1:
        inv = Interval(1 / r.value, 1 / r.high, 1 / r.low)
        return Verdict(name, "higher", "verdict.higher",
                       {"value": inv.value, "low": _num(inv.low), "high": _num(inv.high)})
    return Verdict(name, "unclear", "verdict.unclear", {"low": _num(r.low), "high": _num(r.high)})
