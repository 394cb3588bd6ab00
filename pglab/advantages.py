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


def group_normalised(inp: BaselineInputs) -> torch.Tensor:
    """GRPO-style: A = (G − group mean) / (group std + ε), over the K samples of a prompt.

    The mean includes the sample itself (an O(1/K) bias) and dividing by the
    std rescales each prompt's gradient — it is no longer an unbiased estimate of
    ∇J, but a well-scaled direction. A group whose returns are all equal has std 0
    and gets A = 0 (no NaN): it carries no signal about which sample was better.
    """
    G, m = _groups(inp.returns * inp.mask, inp.group_size), _groups(inp.mask, inp.group_size)
    G64, m64 = G.double(), m.double()      # float32 sums of equal values miss their mean by one rounding step
    n = m64.sum(1, keepdim=True).clamp_min(1.0)
    mean = G64.sum(1, keepdim=True) / n
    std = ((((G64 - mean) * m64) ** 2).sum(1, keepdim=True) / n).sqrt()
    big = torch.finfo(G64.dtype).max
    hi = torch.where(m > 0, G64, -big).amax(1, keepdim=True)
    lo = torch.where(m > 0, G64, big).amin(1, keepdim=True)
    adv = torch.where(hi > lo, (G64 - mean) / (std + 1e-6), 0.0)     # equal returns: exactly A = 0
    return (adv * m64).to(G.dtype).view_as(inp.returns)


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
