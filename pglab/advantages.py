"""Returns, baselines and advantages: pure functions of (B, T) tensors.

Notation: ``rewards[i, t]`` is r_t of sample i, ``mask[i, t]`` is 1 on valid
tokens (up to and including EOS), γ is ``gamma``.

Reward-to-go (Eq. 3.3):  G_t = Σ_{k ≥ t} γ^{k−t} r_k.
Causality justifies it: the action at step t cannot change rewards that came
before it, so those rewards add only noise (their score terms have mean zero).

A *baseline* b is subtracted from G_t to form the advantage A_t = G_t − b.
Any b that does not depend on the action a_t keeps the gradient unbiased,
because E_a[∇ log π(a|s)] = Σ_a ∇π(a|s) = ∇ 1 = 0. Baselines are named
functions in :data:`BASELINES`: ``fn(BaselineInputs) -> advantages (B, T)``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import checks


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` is 1."""
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp_min(1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp_min(1.0)


def masked_std(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Standard deviation of ``x`` over the valid entries (population form)."""
    mean = masked_mean(x, mask)
    return masked_mean((x - mean) ** 2, mask).sqrt()


def whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / (std + eps) over valid entries; zero elsewhere.

    Rescaling by a batch statistic changes the step size per batch and adds a
    small bias; it is a popular, optional stabiliser, not part of the theorem.
    """
    return (x - masked_mean(x, mask)) / (masked_std(x, mask) + eps) * mask


def reward_to_go(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """G_t = r_t + γ G_{t+1}, computed right to left; masked positions hold 0.

    >>> r = torch.tensor([[1., 0., 2., 0.]]); m = torch.tensor([[1., 1., 1., 0.]])
    >>> reward_to_go(r, m, gamma=0.5)
    tensor([[1.5000, 1.0000, 2.0000, 0.0000]])
    """
    checks.unit_interval("gamma", gamma)
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = (rewards[:, t] + gamma * running) * mask[:, t]   # G_t = r_t + γ G_{t+1}
        returns[:, t] = running
    return returns


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        gae_lambda: float = 1.0) -> torch.Tensor:
    """Generalised advantage estimation (Eq. 5.4), right to left:

        δ_t = r_t + γ V(s_{t+1}) − V(s_t)          (TD error; V after the last valid token is 0)
        A_t = δ_t + γλ A_{t+1}

    λ = 1 gives the Monte Carlo advantage G_t − V(s_t); λ = 0 gives the one-step TD error.

    >>> r = torch.tensor([[0., 1.]]); v = torch.tensor([[0.5, 0.5]]); m = torch.ones(1, 2)
    >>> gae(r, v, m, gamma=1.0, gae_lambda=0.0)
    tensor([[0.0000, 0.5000]])
    """
    checks.unit_interval("gamma", gamma)
    checks.unit_interval("gae_lambda", gae_lambda)
    values = values * mask
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1)   # V(s_{t+1}), 0 past the end
    deltas = (rewards + gamma * next_values - values) * mask                         # δ_t
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = deltas[:, t] + gamma * gae_lambda * running * mask[:, t]          # A_t = δ_t + γλ A_{t+1}
        adv[:, t] = running
    return adv * mask


def total_return(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Every token of an episode weighted by the whole return G_1 = R(τ) (vanilla REINFORCE, chapter 02's Eq. 2.3).

    >>> total_return(torch.tensor([[1., 2., 3.]]), torch.tensor([[1., 1., 0.]]))
    tensor([[3., 3., 0.]])
    """
    return reward_to_go(rewards, mask, gamma)[:, :1] * mask


def discounted_reward_to_go(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """γ^(t−1) G_t: reward-to-go weighted by the discount of its step, the estimator of ∇J_γ (Eq. 5.6).

    Tokens are numbered t = 1 … T as in the chapters (array index t − 1, so the first
    token has weight γ^0 = 1). With J_γ(θ) = E[Σ_t γ^(t−1) r_t], the policy gradient theorem
    gives ∇J_γ = E[Σ_t γ^(t−1) ∇log π(a_t|s_t) G_t]. The popular estimator drops the γ^(t−1)
    (:func:`reward_to_go` with γ < 1): that is the gradient of *no* objective
    (Nota & Thomas, 2020) — it treats every step as if it were the first.
    With γ = 1 both are the same.

    >>> discounted_reward_to_go(torch.tensor([[1., 0., 2.]]), torch.ones(1, 3), gamma=0.5)
    tensor([[1.5000, 0.5000, 0.5000]])
    """
    discount = gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype, device=rewards.device)  # γ^(t−1)
    return discount * reward_to_go(rewards, mask, gamma)                                         # Eq. (5.6)


def reward_so_far(rewards: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """The source article's weight: rewards accumulated *up to and including* step t.

    Biased: a_t cannot cause the past rewards (they only add noise) and the
    future rewards it does cause are missing. ``gamma`` is ignored.

    >>> reward_so_far(torch.tensor([[1., 2., 3.]]), torch.ones(1, 3))
    tensor([[1., 3., 6.]])
    """
    return (rewards * mask).cumsum(1) * mask


RETURNS: dict[str, Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "total": total_return,
    "reward_to_go": reward_to_go,
    "discounted_reward_to_go": discounted_reward_to_go,
    "reward_so_far": reward_so_far,
}


def nstep_returns(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
                  n: int = 1) -> torch.Tensor:
    """n-step bootstrapped return (Eq. 5.3):

        G_t^(n) = r_t + γ r_{t+1} + … + γ^{n−1} r_{t+n−1} + γ^n V(s_{t+n}),

    with V = 0 past the end of the episode. n = 1 is the one-step TD target;
    any n ≥ T is the Monte Carlo return (no state is left to bootstrap from).

    >>> r = torch.tensor([[1., 1., 1.]]); v = torch.tensor([[5., 5., 5.]]); m = torch.ones(1, 3)
    >>> nstep_returns(r, v, m, gamma=1.0, n=2)
    tensor([[7., 2., 1.]])
    """
    checks.unit_interval("gamma", gamma)
    n = checks.positive_int("n_steps", n)
    B, T = rewards.shape
    r, v = rewards * mask, values * mask
    out = torch.zeros_like(rewards)
    for k in range(min(n, T)):                           # Σ_k γ^k r_{t+k}
        out[:, : T - k] += gamma ** k * r[:, k:]
    if n < T:                                            # + γ^n V(s_{t+n})
        out[:, : T - n] += gamma ** n * v[:, n:]
    return out * mask


def explained_variance(values: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> float:
    """1 − Var[target − V] / Var[target] over valid tokens: 1 is a perfect critic,
    0 no better than a constant, negative worse than one."""
    var_t = masked_std(targets, mask) ** 2
    if var_t.item() == 0:
        return float("nan")
    return (1 - masked_std(targets - values, mask) ** 2 / var_t).item()


@dataclass
class BaselineInputs:
    """Everything a baseline may look at. ``state`` persists across steps (per run).

    Rows come in groups of ``group_size`` consecutive samples of the same prompt.
    """
    returns: torch.Tensor                   # (B, T) G_t
    mask: torch.Tensor                      # (B, T)
    state: dict = field(default_factory=dict)
    values: torch.Tensor | None = None      # (B, T) V(s_t), for the learned-value baseline
    greedy_returns: torch.Tensor | None = None   # (B, T) G_t of the greedy completion of the same prompt
    group_size: int = 1
    ema_decay: float = 0.9


def no_baseline(inp: BaselineInputs) -> torch.Tensor:
    """A = G. Unbiased, and the noisiest: every token's score is scaled by its full return."""
    return inp.returns * inp.mask


def batch_mean(inp: BaselineInputs) -> torch.Tensor:
    """A = G_t − b_t, b_t = mean of G_t over the rows still running at step t.

    Almost unbiased: b includes the row's own return, which correlates b with
    that row's action, giving an O(1/B) bias (leave-one-out removes it exactly).
    """
    b = masked_mean(inp.returns, inp.mask, dim=0)                 # (T,)
    return (inp.returns - b) * inp.mask


def undo_batch_mean_shrinkage(grads: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Batch-mean gradients × B/(B−1): the baseline's (1 − 1/B) shrinkage removed, for a fair comparison.

    The batch mean contains the sample's own return, so with equal lengths its estimator is exactly
    (1 − 1/B) times an unbiased leave-one-out estimator (chapter 04 §4): its variance is smaller by
    (1 − 1/B)² for free. Compare baselines only after undoing that factor (or by SNR, which is
    scale-free) — chapters 04 and 05 both call this function, so they compare on the same footing.

    >>> undo_batch_mean_shrinkage(torch.tensor([1.5, -3.0]), batch_size=4)
    tensor([ 2., -4.])
    """
    B = checks.positive_int("batch_size", batch_size, minimum=2)
    return grads * (B / (B - 1))                                   # × B/(B−1)


def moving_average(inp: BaselineInputs) -> torch.Tensor:
    """A = G_t − b_t, b_t = exponential moving average of past batches' mean G_t.

    Unbiased: b is computed from *earlier* batches only, so it is independent of
    this batch's actions. The first batch has no history and uses b = 0.
    """
    current = masked_mean(inp.returns, inp.mask, dim=0).detach()  # (T,)
    ema = inp.state.get("ema")
    if ema is None or ema.shape != current.shape:
        ema = torch.zeros_like(current)
        inp.state["ema"] = current
    else:
        inp.state["ema"] = inp.ema_decay * ema + (1 - inp.ema_decay) * current  # update *after* use
    return (inp.returns - ema) * inp.mask


def _groups(x: torch.Tensor, k: int) -> torch.Tensor:
    if k < 2 or x.shape[0] % k:
        raise ValueError(f"group_size must be >= 2 and divide the batch size {x.shape[0]}, got {k}")
    return x.view(x.shape[0] // k, k, *x.shape[1:])                # (B/K, K, T)


def leave_one_out(inp: BaselineInputs) -> torch.Tensor:
    """RLOO: A_i,t = G_i,t − mean of G_j,t over the *other* K − 1 samples of the same prompt.

    Unbiased: the other samples are independent of sample i's actions. Rows that
    already ended are left out of the mean at later steps.
    """
    G, m = _groups(inp.returns * inp.mask, inp.group_size), _groups(inp.mask, inp.group_size)
    others_sum = G.sum(1, keepdim=True) - G                       # Σ_{j≠i} G_j,t
    others_n = m.sum(1, keepdim=True) - m                         # how many j≠i are valid at t
    b = others_sum / others_n.clamp_min(1.0)
    return ((G - b) * m).view_as(inp.returns)


GROUP_ADVANTAGES = ("rloo", "grpo", "dr_grpo")
GRPO_EPS = 1e-4
"""ε in GRPO's (std + ε), as in TRL and DeepSeekMath's code."""


def group_advantages(returns: torch.Tensor, group_size: int, kind: str = "grpo",
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Advantages from the K = ``group_size`` samples of each prompt (rows in consecutive groups of K):

        RLOO      A_i = R_i − mean_{j≠i} R_j                          (Eq. 7.5)
        GRPO      A_i = (R_i − mean_j R_j) / (std_j R_j + ε)          (Eq. 7.6; sample std, ε = 1e-4)
        Dr. GRPO  A_i = R_i − mean_j R_j = (K−1)/K · A_i^RLOO        (Eq. 7.7)

    The one definition of GRPO's advantage in pglab: chapter 07's algorithm uses it on whole
    returns R (B,), chapter 04's ``group_norm`` baseline on G_t (B, T), column by column. The std
    is the *sample* std (divide by K − 1), as TRL and DeepSeekMath's code compute it; the
    population std would make every advantage √(K/(K−1)) smaller (1.155 at K = 4).
    ``mask`` (same shape as ``returns``) leaves out rows that already ended: they get A = 0 and
    do not enter their group's mean or std. A group whose valid returns are all equal gets
    A = 0 (no NaN): it says nothing about which sample was better. The result keeps the
    returns' dtype (float64 in, float64 out); the arithmetic runs in float64.

    >>> R = torch.tensor([1., 0., 0., 0., 2., 2., 2., 2.])     # two prompts, K = 4
    >>> group_advantages(R, 4, "rloo")                          # 1 − 0, 0 − 1/3, ...
    tensor([ 1.0000, -0.3333, -0.3333, -0.3333,  0.0000,  0.0000,  0.0000,  0.0000])
    >>> group_advantages(R, 4, "grpo")                          # 0.75 / (0.5 + 1e-4): sample std 0.5
    tensor([ 1.4997, -0.4999, -0.4999, -0.4999,  0.0000,  0.0000,  0.0000,  0.0000])
    """
    checks.choice("advantage", kind, GROUP_ADVANTAGES)
    K = checks.positive_int("group_size", group_size, minimum=2)
    if returns.shape[0] % K:
        raise ValueError(f"group_size must be >= 2 and divide the batch size {returns.shape[0]}, got {K}")
    m = torch.ones_like(returns, dtype=torch.float64) if mask is None else mask.to(torch.float64)
    R = returns.to(torch.float64).reshape(-1, K, *returns.shape[1:]) * m.reshape(-1, K, *returns.shape[1:])
    m = m.reshape(R.shape)                              # (B/K, K, ...); float64: equal returns centre to exactly 0
    n = m.sum(1, keepdim=True)                          # valid samples in the group
    total = R.sum(1, keepdim=True)
    if kind == "rloo":
        adv = R - (total - R) / (n - 1).clamp_min(1.0)                          # R_i − mean_{j≠i} R_j
    else:
        mean = total / n.clamp_min(1.0)
        adv = R - mean                                                           # R_i − mean_j R_j
        if kind == "grpo":
            std = ((((R - mean) * m) ** 2).sum(1, keepdim=True) / (n - 1).clamp_min(1.0)).sqrt()  # sample std
            big = torch.finfo(R.dtype).max
            varies = torch.where(m > 0, R, -big).amax(1, keepdim=True) > torch.where(m > 0, R, big).amin(1, keepdim=True)
            adv = torch.where(varies, adv / (std + GRPO_EPS), 0.0)              # (R_i − mean) / (std + ε)
    return (adv * m).reshape(returns.shape).to(returns.dtype)


def group_normalised(inp: BaselineInputs) -> torch.Tensor:
    """GRPO's advantage (:func:`group_advantages`, Eq. 7.6) applied to G_t at each step t.

    A_i,t = (G_i,t − mean_j G_j,t) / (std_j G_j,t + ε) over the prompt's samples still running
    at step t (sample std, ε = 1e-4). With a reward only at the end (GRPO's setting) G_t = R for
    every t and this is exactly GRPO's per-sequence advantage on every token. The mean includes
    the sample itself (an O(1/K) bias) and the division rescales each prompt's gradient: not an
    unbiased estimate of ∇J, but a well-scaled direction.
    """
    _groups(inp.returns, inp.group_size)                            # the baselines' error for a bad K
    return group_advantages(inp.returns, inp.group_size, "grpo", mask=inp.mask)


def greedy(inp: BaselineInputs) -> torch.Tensor:
    """Self-critical (SCST): b_t = G_t of the greedy decode of the same prompt.

    Unbiased: the greedy completion is a deterministic function of the prompt and
    θ, not of the sampled actions. It rewards samples that beat the policy's own
    best guess — a baseline that improves as the policy does.
    """
    if inp.greedy_returns is None:
        raise ValueError("the greedy baseline needs greedy_returns (the step computes them)")
    return (inp.returns - inp.greedy_returns) * inp.mask


def learned_value(inp: BaselineInputs) -> torch.Tensor:
    """A = G_t − V(s_t) with a learned critic V (REINFORCE with a value baseline).

    Unbiased: V(s_t) depends only on the state, not on the action a_t, so its
    score term has mean zero. It lowers variance as far as V tracks E[G_t | s_t].
    """
    if inp.values is None:
        raise ValueError("the value baseline needs a policy with a value head "
                         "(make_policy(..., value_head='shared' or 'separate'))")
    return (inp.returns - inp.values.detach()) * inp.mask


# What each baseline needs besides returns and mask; the step provides exactly that.
greedy.needs = ("greedy",)
learned_value.needs = ("values",)
leave_one_out.needs = group_normalised.needs = ("groups",)

BASELINES: dict[str, Callable[[BaselineInputs], torch.Tensor]] = {
    "none": no_baseline,
    "batch_mean": batch_mean,
    "moving_average": moving_average,
    "leave_one_out": leave_one_out,
    "group_norm": group_normalised,
    "greedy": greedy,
    "value": learned_value,
}
"""Each function returns the advantages A (B, T) for its baseline; see its docstring."""
