"""Exercises for chapter 05 (actor-critic): GAE(λ) right to left with a mask, the n-step target, the
A2C losses with the right things held fixed (graded with the reference GAE), the γ^(t−1) of the
discounted objective, a prediction about λ's effect on the variance with a bad critic, and a proof
with one false step (where γ^(t−1) goes).

Tensor conventions as in :mod:`pglab.advantages`: ``rewards[i, t]`` is r_t and ``values[i, t]`` is
V_φ(s_t) of sample i (array index t is step t + 1), ``mask[i, t]`` is 1 on the tokens actually
written (up to and including ``<eos>``) and 0 after it. After ``<eos>`` the rewards and the critic's
outputs are junk (the critic still outputs a number there); V after the last valid token is 0.
"""
from __future__ import annotations

import contextlib

import torch

from .ch04 import BT
from .core import Case, ChoiceQuestion, Exercise, as_tensor, compare_tensors, mistake, symptom


def _mask(lengths: list[int], T: int) -> torch.Tensor:
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).float()


def _episodes(B: int, T: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rewards, values, mask): one row runs to T, one ends early (when T > 1); quarter-valued rewards and
    values on valid tokens, junk (values 1..3, rewards 2..5) after <eos>."""
    lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
    lengths[0] = T
    if B > 1 and T > 1:
        lengths[1] = int(torch.randint(1, T, (1,), generator=g))
    mask = _mask(lengths, T)
    rewards = torch.round(torch.rand(B, T, generator=g) * 4) / 4
    values = torch.round((torch.rand(B, T, generator=g) * 2 - 0.5) * 4) / 4
    rewards = rewards * mask + (1 - mask) * torch.round(torch.rand(B, T, generator=g) * 3 + 2)
    values = values * mask + (1 - mask) * torch.round(torch.rand(B, T, generator=g) * 2 + 1)
    return rewards, values, mask


def _rand(lo: float, hi: float, g: torch.Generator) -> float:
    return round(lo + (hi - lo) * float(torch.rand(1, generator=g)), 2)


LONG_T = 50
"""The long episode of every generator (after the small, readable cases): T ≈ 50 exposes underflow in (γλ)^t."""


def _not_finite_where(name: str, *values: float):
    """A symptom test: the output has NaN/inf and the case has ``name`` (e.g. gamma) equal to one of ``values``."""
    def test(inputs, got, expected) -> bool:
        g = as_tensor(got)
        return g.shape == expected.shape and not torch.isfinite(g).all() and float(inputs[name]) in values
    return test


def _not_finite_at_zero_product(inputs, got, expected) -> bool:     # γλ = 0
    g = as_tensor(got)
    return (g.shape == expected.shape and not torch.isfinite(g).all()
            and float(inputs["gamma"]) * float(inputs["lam"]) == 0.0)


def _not_finite(inputs, got, expected) -> bool:
    g = as_tensor(got)
    return g.shape == expected.shape and not torch.isfinite(g).all()


# ---------------------------------------------------------------------------------------------------------------
# 5.1 GAE(λ), Eq. 5.4:  δ_t = r_t + γ V(s_{t+1}) − V(s_t),  A_t = δ_t + γλ A_{t+1},  V = 0 after the last valid token.

def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Reference (as :func:`pglab.advantages.gae`): TD errors, then one right-to-left scan."""
    v = values * mask                                                             # V = 0 after the episode
    next_v = torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], 1)                # V(s_{t+1})
    delta = (rewards + gamma * next_v - v) * mask                                 # δ_t (Eq. 5.1)
    adv, running = torch.zeros_like(rewards), torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = delta[:, t] + gamma * lam * running * mask[:, t]                # A_t = δ_t + γλ A_{t+1}
        adv[:, t] = running
    return adv * mask


def _gae_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T in [(2, 3), (3, 4), (3, 6), (1, 1), (4, 5)]:
        gamma, lam = _rand(0.5, 0.9, g), _rand(0.2, 0.8, g)
        if abs(gamma - lam) < 0.1:
            lam = round(lam - 0.15, 2)
        rewards, values, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, lam={lam}",
                        {"rewards": rewards, "values": values, "mask": mask, "gamma": gamma, "lam": lam}))
    edges = [(2, 4, _rand(0.5, 0.9, g), 0.0), (2, 4, _rand(0.5, 0.9, g), 1.0),      # λ = 0: TD errors; λ = 1: MC
             (3, 4, 0.0, _rand(0.2, 0.8, g)), (3, 5, 1.0, _rand(0.2, 0.8, g)),      # γ = 0 and γ = 1
             (2, LONG_T, _rand(0.9, 0.99, g), _rand(0.9, 0.99, g))]                 # a long episode
    for B, T, gamma, lam in edges:
        rewards, values, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, lam={lam}",
                        {"rewards": rewards, "values": values, "mask": mask, "gamma": gamma, "lam": lam}))
    return out


def _scan(delta, mask, decay, reverse=True):
    adv, running = torch.zeros_like(delta), torch.zeros_like(delta[:, 0])
    steps = reversed(range(delta.shape[1])) if reverse else range(delta.shape[1])
    for t in steps:
        running = delta[:, t] + decay * running * mask[:, t]
        adv[:, t] = running
    return adv * mask


def _deltas(rewards, values, mask, gamma):
    v = values * mask
    return (rewards + gamma * torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], 1) - v) * mask


def _gae_left_to_right(rewards, values, mask, gamma, lam):
    return _scan(_deltas(rewards, values, mask, gamma), mask, gamma * lam, reverse=False)


def _gae_no_reset(rewards, values, mask, gamma, lam):           # V(s_{t+1}) read after <eos>: the critic's junk
    next_v = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1)
    delta = (rewards + gamma * next_v - values) * mask
    return _scan(delta, mask, gamma * lam)


def _gae_no_reset_anywhere(rewards, values, mask, gamma, lam):  # no mask until the output: junk flows back from T
    next_v = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1)
    return _scan(rewards + gamma * next_v - values, torch.ones_like(mask), gamma * lam) * mask


def _gae_no_reset_rewards(rewards, values, mask, gamma, lam):   # values masked, but the scan runs through the junk
    v = values * mask
    next_v = torch.cat([v[:, 1:], torch.zeros_like(v[:, :1])], 1)
    return _scan(rewards + gamma * next_v - v, torch.ones_like(mask), gamma * lam) * mask


def _gae_no_reset_symptom(inputs, got, expected) -> bool:
    got = torch.as_tensor(got, dtype=torch.float64)
    return any(got.shape == expected.shape and torch.allclose(got, f(**inputs).double(), atol=1e-5, rtol=1e-4)
               for f in (_gae_no_reset, _gae_no_reset_anywhere, _gae_no_reset_rewards))


def _gae_swapped(rewards, values, mask, gamma, lam):            # λ where γ belongs (the scan's γλ is symmetric)
    return gae(rewards, values, mask, lam, gamma)


def _gae_lambda_only(rewards, values, mask, gamma, lam):        # A_t = δ_t + λ A_{t+1}
    return _scan(_deltas(rewards, values, mask, gamma), mask, lam)


def _gae_gamma_only(rewards, values, mask, gamma, lam):         # A_t = δ_t + γ A_{t+1}: λ = 1
    return _scan(_deltas(rewards, values, mask, gamma), mask, gamma)


def _gae_td_only(rewards, values, mask, gamma, lam):            # δ_t alone: λ = 0
    return _deltas(rewards, values, mask, gamma)


def _gae_no_next_value(rewards, values, mask, gamma, lam):      # δ_t = r_t − V(s_t)
    return _scan((rewards - values) * mask, mask, gamma * lam)


def _gae_gamma_not_in_delta(rewards, values, mask, gamma, lam):  # δ_t = r_t + V(s_{t+1}) − V(s_t); γλ in the scan
    return _scan(_deltas(rewards, values, mask, 1.0), mask, gamma * lam)


GAE = Exercise(
    name="ch05_gae", chapter=5, title="GAE(λ), right to left, with a mask", function="gae",
    minutes=10, difficulty="medium", reference=gae, cases=_gae_cases,
    diagnoses=[
        mistake("left_to_right",
                "you scanned left to right: A_t = δ_t + γλ A_{t+1} needs A_{t+1} first, so the loop runs from the "
                "last step back to the first (for t in reversed(range(T))). Left to right sums the *past* TD "
                "errors, which a_t did not cause.", _gae_left_to_right),
        symptom("no_reset",
                "no reset at the end of the episode: past <eos> the critic's values and the rewards are junk, and "
                "they flowed into A_t of the valid tokens (through V(s_{t+1}) at the last token, or through the "
                "scan). The episode ends at <eos>: V after it is 0 and A_{t+1} after it is 0 — mask the values "
                "before shifting them, and the TD errors.", _gae_no_reset_symptom),
        mistake("swapped",
                "λ where γ belongs (γ and λ swapped, or λ inside the TD error): γ discounts the next value in "
                "δ_t = r_t + γ V(s_{t+1}) − V(s_t); λ only enters the scan, A_t = δ_t + γλ A_{t+1}.", _gae_swapped),
        mistake("lambda_only",
                "the scan decays by λ only: each step further away is discounted by γ *and* weighted by λ, "
                "A_t = δ_t + γλ A_{t+1}.", _gae_lambda_only),
        mistake("gamma_only",
                "your scan ignores λ (A_t = δ_t + γ A_{t+1}): that is GAE with λ = 1, the Monte Carlo advantage "
                "G_t − V(s_t). Multiply by λ as well.", _gae_gamma_only),
        mistake("td_only",
                "you returned the one-step TD errors δ_t: that is GAE with λ = 0. Add the later TD errors, "
                "weighted by (γλ)^k: A_t = δ_t + γλ A_{t+1}.", _gae_td_only),
        mistake("no_next_value",
                "your TD error has no next value: δ_t = r_t + γ V(s_{t+1}) − V(s_t) bootstraps from the critic's "
                "guess for the *next* state (values shifted one step left, 0 after the last valid token).",
                _gae_no_next_value),
        mistake("gamma_not_in_delta",
                "γ is missing from the TD error: you wrote δ_t = r_t + V(s_{t+1}) − V(s_t) and put γ only in "
                "the scan. The next value is discounted inside δ_t too: δ_t = r_t + γ V(s_{t+1}) − V(s_t), then "
                "A_t = δ_t + γλ A_{t+1}.", _gae_gamma_not_in_delta),
        symptom("nan_at_zero",
                "NaN where γλ = 0 (this input has λ = 0 or γ = 0): dividing by (γλ)^t. The closed form "
                "A_t = Σ_k (γλ)^k δ_{t+k} computed as a reversed cumsum of (γλ)^t δ_t, then divided by (γλ)^t, "
                "gives 0 / 0 once (γλ)^t = 0 (and loses precision as (γλ)^t underflows on long episodes). Use "
                "the right-to-left recursion A_t = δ_t + γλ A_{t+1}: it needs no division.",
                _not_finite_at_zero_product),
        symptom("not_finite",
                "inf or NaN on this input: on a long episode (γλ)^t becomes tiny (or 0 in float32), and "
                "dividing by it — or by anything that can be 0 — overflows. Use the right-to-left recursion "
                "A_t = δ_t + γλ A_{t+1}: it needs no division.", _not_finite),
    ],
    **BT,
)


# ---------------------------------------------------------------------------------------------------------------
# 5.2 The n-step target, Eq. 5.3:  G_t^(n) = Σ_{k<n} γ^k r_{t+k} + γ^n V(s_{t+n}),  V = 0 (and no reward) past the end.

def nstep_return(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, n: int) -> torch.Tensor:
    """Reference (as :func:`pglab.advantages.nstep_returns`): shifted sums, all masked."""
    T = rewards.shape[1]
    r, v = rewards * mask, values * mask
    out = torch.zeros_like(rewards)
    for k in range(min(n, T)):                                                    # Σ_{k<n} γ^k r_{t+k}
        out[:, :T - k] += gamma ** k * r[:, k:]
    if n < T:                                                                     # + γ^n V(s_{t+n})
        out[:, :T - n] += gamma ** n * v[:, n:]
    return out * mask


def _nstep_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T, n in [(2, 4, 1), (3, 5, 2), (3, 6, 3), (2, 3, 5), (4, 5, 2)]:
        gamma = _rand(0.5, 0.9, g)
        rewards, values, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, n={n}",
                        {"rewards": rewards, "values": values, "mask": mask, "gamma": gamma, "n": n}))
    for B, T, n, gamma in [(2, 4, 2, 0.0), (3, 5, 2, 1.0), (2, LONG_T, 8, _rand(0.9, 0.99, g))]:   # γ = 0, 1; long
        rewards, values, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, n={n}",
                        {"rewards": rewards, "values": values, "mask": mask, "gamma": gamma, "n": n}))
    return out


def _nstep_with(rewards, values, mask, gamma, n, *, shift=0, power=None, mask_v=True, mask_r=True):
    T = rewards.shape[1]
    r = rewards * mask if mask_r else rewards
    v = values * mask if mask_v else values
    out = torch.zeros_like(rewards)
    for k in range(min(n, T)):
        out[:, :T - k] += gamma ** k * r[:, k:]
    j = n + shift
    if 0 <= j < T:
        out[:, :T - j] += gamma ** (n if power is None else power) * v[:, j:]
    return out * mask


def _nstep_index_before(rewards, values, mask, gamma, n):      # bootstraps from V(s_{t+n−1})
    return _nstep_with(rewards, values, mask, gamma, n, shift=-1)


def _nstep_index_after(rewards, values, mask, gamma, n):       # bootstraps from V(s_{t+n+1})
    return _nstep_with(rewards, values, mask, gamma, n, shift=1)


def _nstep_past_end(rewards, values, mask, gamma, n):          # V after <eos> not zeroed
    return _nstep_with(rewards, values, mask, gamma, n, mask_v=False)


def _nstep_gamma_power(rewards, values, mask, gamma, n):       # γ^(n−1) on the bootstrap
    return _nstep_with(rewards, values, mask, gamma, n, power=n - 1)


def _nstep_rewards_past_end(rewards, values, mask, gamma, n):  # junk rewards after <eos> summed
    return _nstep_with(rewards, values, mask, gamma, n, mask_r=False)


def _nstep_advantage(rewards, values, mask, gamma, n):         # returned A_t = G_t^(n) − V(s_t)
    return (nstep_return(rewards, values, mask, gamma, n) - values) * mask


def _nstep_clamped(rewards, values, mask, gamma, n):           # bootstrap index clamped to T − 1
    T = rewards.shape[1]
    r, v = rewards * mask, values * mask
    out = torch.zeros_like(rewards)
    for k in range(min(n, T)):
        out[:, :T - k] += gamma ** k * r[:, k:]
    out += gamma ** n * v[:, torch.clamp(torch.arange(T) + n, max=T - 1)]
    return out * mask


NSTEP = Exercise(
    name="ch05_nstep", chapter=5, title="The n-step target", function="nstep_return",
    minutes=7, difficulty="medium", reference=nstep_return, cases=_nstep_cases,
    diagnoses=[
        mistake("index_before",
                "off by one in the bootstrap: after n rewards r_t … r_{t+n−1} the next state is s_{t+n}, so the "
                "bootstrap is γ^n V(s_{t+n}) (array index t + n), not V(s_{t+n−1}).", _nstep_index_before),
        mistake("index_after",
                "off by one in the bootstrap: after n rewards r_t … r_{t+n−1} the next state is s_{t+n} (array "
                "index t + n), not s_{t+n+1}.", _nstep_index_after),
        mistake("past_end",
                "you bootstrapped past the end of the episode: when s_{t+n} lies after <eos> the critic's output "
                "there is junk and the episode is over, so V = 0 — mask the values.", _nstep_past_end),
        mistake("gamma_power",
                "the bootstrap is discounted once too little: the n rewards take powers γ^0 … γ^(n−1), so the "
                "value after them gets γ^n.", _nstep_gamma_power),
        mistake("rewards_past_end",
                "the junk rewards after <eos> went into the sum: only the rewards of valid tokens count (mask them).",
                _nstep_rewards_past_end),
        mistake("advantage",
                "you returned the n-step *advantage* G_t^(n) − V(s_t); the exercise asks for the target G_t^(n) "
                "itself (the critic's regression target).", _nstep_advantage),
        mistake("clamped",
                "you clamped the bootstrap index to T − 1: when t + n reaches past the last column there is no "
                "s_{t+n} to bootstrap from — the episode is over, V = 0 there, and G_t^(n) is just the "
                "(discounted) sum of the remaining rewards. Add γ^n V(s_{t+n}) only where t + n < T.",
                _nstep_clamped),
    ],
    **BT,
)


# ---------------------------------------------------------------------------------------------------------------
# 5.3 The A2C losses, Eq. 5.5:  actor −(1/B) Σ_i Σ_t A_{i,t} log π(a_{i,t}|s_{i,t}) with A held fixed; critic
# ½ mean over valid tokens of (V(s_t) − y_t)², y_t = A_t + V(s_t) held fixed. A_t = GAE(λ) of the *same* values.

def a2c_losses(logprobs: torch.Tensor, values: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor,
               gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference (as :func:`pglab.algos.a2c.step`): advantages and targets carry no gradient."""
    from ..advantages import gae as pglab_gae
    adv = pglab_gae(rewards, values.detach(), mask, gamma, lam)                   # A_t, no gradient
    targets = (adv + values.detach()) * mask                                      # y_t = A_t + V(s_t), fixed
    policy_loss = -(adv * logprobs * mask).sum(1).mean()                          # −(1/B) Σ_i Σ_t A log π
    value_loss = 0.5 * ((values - targets) ** 2 * mask).sum() / mask.sum()        # ½ mean over valid tokens
    return policy_loss, value_loss


LOSS_PARTS = ("policy_loss", "value_loss", "d policy_loss / d logprobs", "d policy_loss / d values",
              "d value_loss / d logprobs", "d value_loss / d values")


def _student_namespaces(fn, depth: int = 4) -> list[dict]:
    """The global namespaces of the functions behind ``fn`` (the checker wraps the student's function in
    adapters: follow their defaults and closures), leaving out pglab's own modules."""
    found, todo, seen = [], [(fn, 0)], set()
    while todo:
        f, d = todo.pop()
        if id(f) in seen or d > depth or not callable(f):
            continue
        seen.add(id(f))
        names = getattr(f, "__globals__", None)
        if isinstance(names, dict) and not str(names.get("__name__", "")).startswith("pglab") \
                and all(names is not n for n in found):
            found.append(names)
        inner = [*(getattr(f, "__defaults__", None) or ()), *(getattr(f, "__kwdefaults__", None) or {}).values(),
                 *(c.cell_contents for c in (getattr(f, "__closure__", None) or ()) if _filled(c))]
        todo += [(g, d + 1) for g in inner if callable(g)]
    return found


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:                                  # an empty closure cell
        return False
    return True


@contextlib.contextmanager
def _reference_gae(fn):
    """While 5.3 is checked, a ``gae`` the student's function looks up in its notebook is the reference one:
    a bug in 5.1 then costs 5.1's points only, not 5.3's as well (the notebook's own ``gae`` is restored)."""
    patched = [(names, names["gae"]) for names in _student_namespaces(fn) if callable(names.get("gae"))]
    for names, _ in patched:
        names["gae"] = gae
    try:
        yield
    finally:
        for names, saved in patched:
            names["gae"] = saved


def _a2c_observe(fn, inputs):
    """The two losses and their gradients with respect to logprobs and values (what an optimiser sees)."""
    from .core import call
    with _reference_gae(fn):
        out = call(fn, inputs)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError("a2c_losses must return a pair (policy_loss, value_loss)")
    obs = {}
    for name, loss in zip(LOSS_PARTS[:2], out):
        if not (isinstance(loss, torch.Tensor) and loss.numel() == 1):
            raise TypeError(f"{name} must be a scalar tensor, got {type(loss).__name__}"
                            + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""))
        obs[name] = loss.detach().double().reshape(())
    for name, loss in zip(LOSS_PARTS[:2], out):
        leaves = [inputs["logprobs"], inputs["values"]]
        grads = (torch.autograd.grad(loss.reshape(()), leaves, retain_graph=True, allow_unused=True)
                 if loss.requires_grad else (None, None))
        for leaf_name, leaf, gr in zip(("logprobs", "values"), leaves, grads):
            obs[f"d {name} / d {leaf_name}"] = (torch.zeros_like(leaf) if gr is None else gr).detach().double()
    return obs


def _a2c_compare(expected, got):
    for key in LOSS_PARTS:
        problem = compare_tensors(expected[key], got[key])
        if problem is not None:
            return f"{key}: {problem}"
    return None


def _a2c_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    sizes = [(2, 3, _rand(0.5, 0.95, g)), (3, 4, _rand(0.5, 0.95, g)), (4, 5, _rand(0.5, 0.95, g)),
             (3, 2, _rand(0.5, 0.95, g)), (2, 4, 0.0), (3, 4, 1.0)]                 # then λ = 0 and λ = 1
    for B, T, lam in sizes:
        gamma = _rand(0.8, 1.0, g)
        rewards, values, mask = _episodes(B, T, g)
        logits = torch.randn(B, T, 5, generator=g)
        logprobs = torch.log_softmax(logits, -1)[..., 0]
        out.append(Case(f"B={B}, T={T}, gamma={gamma}, lam={lam}",
                        {"logprobs": logprobs.requires_grad_(), "values": values.requires_grad_(),
                         "rewards": rewards, "mask": mask, "gamma": gamma, "lam": lam}))
    return out


def _a2c_parts(logprobs, values, rewards, mask, gamma, lam, *, detach_adv=True, detach_target=True, target=None):
    from ..advantages import gae as pglab_gae
    adv = pglab_gae(rewards, values, mask, gamma, lam)                            # with gradient from values
    a = adv.detach() if detach_adv else adv
    y = (adv + values) if target is None else target(adv, rewards, mask)
    y = y.detach() if detach_target else y
    return a, y


def _a2c_target_not_detached(logprobs, values, rewards, mask, gamma, lam):
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam, detach_target=False)
    return -(a * logprobs * mask).sum(1).mean(), 0.5 * ((values - y) ** 2 * mask).sum() / mask.sum()


def _a2c_adv_not_detached(logprobs, values, rewards, mask, gamma, lam):
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam, detach_adv=False)
    return -(a * logprobs * mask).sum(1).mean(), 0.5 * ((values - y) ** 2 * mask).sum() / mask.sum()


def _a2c_token_mean(logprobs, values, rewards, mask, gamma, lam):
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam)
    return -(a * logprobs * mask).sum() / mask.sum(), 0.5 * ((values - y) ** 2 * mask).sum() / mask.sum()


def _a2c_sign(logprobs, values, rewards, mask, gamma, lam):
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam)
    return (a * logprobs * mask).sum(1).mean(), 0.5 * ((values - y) ** 2 * mask).sum() / mask.sum()


def _a2c_value_unmasked(logprobs, values, rewards, mask, gamma, lam):
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam)
    return -(a * logprobs * mask).sum(1).mean(), 0.5 * ((values - y) ** 2).mean()


def _a2c_reward_target(logprobs, values, rewards, mask, gamma, lam):       # the article's critic target r_t
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam, target=lambda adv, r, m: r * m)
    return -(a * logprobs * mask).sum(1).mean(), 0.5 * ((values - y) ** 2 * mask).sum() / mask.sum()


def _a2c_advantage_target(logprobs, values, rewards, mask, gamma, lam):    # y = A_t
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam, target=lambda adv, r, m: adv)
    return -(a * logprobs * mask).sum(1).mean(), 0.5 * ((values - y) ** 2 * mask).sum() / mask.sum()


def _a2c_mc_target(logprobs, values, rewards, mask, gamma, lam):           # y = G_t, the Monte Carlo return
    from ..advantages import reward_to_go
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam,
                      target=lambda adv, r, m: reward_to_go(r * m, m, gamma))
    return -(a * logprobs * mask).sum(1).mean(), 0.5 * ((values - y) ** 2 * mask).sum() / mask.sum()


def _a2c_no_half(logprobs, values, rewards, mask, gamma, lam):
    a, y = _a2c_parts(logprobs, values, rewards, mask, gamma, lam)
    return -(a * logprobs * mask).sum(1).mean(), ((values - y) ** 2 * mask).sum() / mask.sum()


def _a2c_sign_symptom(inputs, got, expected) -> bool:
    e, g = expected["policy_loss"], got["policy_loss"]
    return bool(abs(e) > 1e-6 and torch.isclose(g, -e, rtol=1e-4, atol=1e-6))


def _a2c_adv_grad_symptom(inputs, got, expected) -> bool:
    return bool((got["d policy_loss / d values"].abs() > 1e-8).any())


def _a2c_target_grad_symptom(inputs, got, expected) -> bool:
    key = "d value_loss / d values"
    return bool(compare_tensors(expected["value_loss"], got["value_loss"]) is None
                and compare_tensors(expected[key], got[key]) is not None)


A2C_LOSS = Exercise(
    name="ch05_a2c_loss", chapter=5, title="The A2C losses, with the right things held fixed", function="a2c_losses",
    minutes=11, difficulty="hard", reference=a2c_losses, cases=_a2c_cases, observe=_a2c_observe,
    compare=_a2c_compare,
    diagnoses=[
        mistake("target_not_detached",
                "the critic's target y_t = A_t + V(s_t) carries gradient: you forgot .detach(). Then "
                "V − y = −A and the 'regression' pushes on the target too — the gradient with respect to the "
                "values is not (V − y)/N. Hold the target fixed (Eq. 5.2): y = (A + V).detach().",
                _a2c_target_not_detached),
        mistake("adv_not_detached",
                "the actor's loss sends gradient into the critic: the advantages come from the values (GAE) and "
                "you did not .detach() them. In Eq. 5.5 A_{i,t} is a fixed weight; only log π carries gradient.",
                _a2c_adv_not_detached),
        mistake("token_mean",
                "the actor loss divides by the number of valid tokens (a per-token mean): Eq. 5.5 sums over the "
                "tokens of each completion and averages over the B completions, −(A·logπ·mask).sum(1).mean(); a "
                "per-token mean weights long completions less.", _a2c_token_mean),
        mistake("sign",
                "the actor loss has the wrong sign: minimising +A·log π lowers the probability of good tokens. "
                "The loss is −(1/B) Σ A log π, so that gradient *descent* climbs J.", _a2c_sign),
        mistake("value_unmasked",
                "the critic's loss averages over all B·T positions, including those after <eos> (junk values, "
                "no target): average over the valid tokens only, (…·mask).sum() / mask.sum().",
                _a2c_value_unmasked),
        mistake("reward_target",
                "the critic regresses on the immediate reward r_t — the source article's target. Then V learns "
                "E[r_t | s_t], the credit of one token, not the value; chapter 05 §3 measures it worse than a "
                "constant. The target is y_t = A_t + V(s_t).", _a2c_reward_target),
        mistake("advantage_target",
                "the critic regresses on A_t, not on y_t = A_t + V(s_t): the advantage is the *error* of the "
                "critic, the target is the λ-return.", _a2c_advantage_target),
        mistake("mc_target",
                "the critic regresses on the Monte Carlo return G_t: that is A_t + V(s_t) only at λ = 1. Eq. 5.5's "
                "target is y_t = A_t + V(s_t) with the *same* GAE(λ) advantages the actor uses — the λ-return, "
                "which bootstraps from the critic (lower variance, some bias).", _a2c_mc_target),
        mistake("no_half",
                "the critic's loss is twice the expected: Eq. 5.5 has ½ · mean (V − y)², whose gradient is "
                "(V − y)/N.", _a2c_no_half),
        symptom("sign",
                "the actor loss has the wrong sign: minimising +A·log π lowers the probability of good tokens. "
                "The loss is −(1/B) Σ A log π, so that gradient *descent* climbs J.", _a2c_sign_symptom),
        symptom("adv_not_detached",
                "the actor's loss sends gradient into the critic (d policy_loss / d values is not 0): the "
                "advantages come from the values and carry their gradient. In Eq. 5.5 A_{i,t} is a fixed weight — "
                ".detach() it (or compute it under torch.no_grad()).", _a2c_adv_grad_symptom),
        symptom("target_not_detached",
                "the critic's loss has the right value but the wrong gradient: the target y_t = A_t + V(s_t) is "
                "not held fixed (if y contains V with its gradient, V − y no longer depends on V at all). Build "
                "the target from detached values: y = (A + V).detach().", _a2c_target_grad_symptom),
    ],
)


# ---------------------------------------------------------------------------------------------------------------
# 5.4 The weights of ∇J_γ, Eq. 5.6:  w_t = γ^(t−1) G_t with G_t = Σ_{k≥t} γ^(k−t) r_k, tokens t = 1 … T.

def discounted_weights(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reference (as :func:`pglab.advantages.discounted_reward_to_go`): γ^(t−1) G_t, masked."""
    G, running = torch.zeros_like(rewards), torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = (rewards[:, t] + gamma * running) * mask[:, t]                  # G_t = r_t + γ G_{t+1}
        G[:, t] = running
    return gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype) * G        # array index t − 1: γ^(t−1)


def _disc_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T in [(2, 3), (3, 4), (2, 6), (1, 2)]:
        gamma = _rand(0.4, 0.9, g)
        rewards, _, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}", {"rewards": rewards, "mask": mask, "gamma": gamma}))
    for B, T, gamma in [(2, 4, 0.0), (3, 4, 1.0), (2, LONG_T, _rand(0.9, 0.99, g))]:   # γ = 0 and 1; a long one
        rewards, _, mask = _episodes(B, T, g)
        out.append(Case(f"B={B}, T={T}, gamma={gamma}", {"rewards": rewards, "mask": mask, "gamma": gamma}))
    return out


def _disc_rtg(rewards, mask, gamma):
    return discounted_weights(rewards, mask, gamma) / gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype)


def _disc_gamma_t(rewards, mask, gamma):                      # γ^t G_t (t from 1)
    return gamma * discounted_weights(rewards, mask, gamma)


def _disc_undiscounted_g(rewards, mask, gamma):               # γ^(t−1) Σ_{k≥t} r_k
    return discounted_weights(rewards, mask, 1.0) * gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype)


def _disc_twice(rewards, mask, gamma):                         # Σ_{k≥t} γ^(k−1) r_k, then discounted again
    return discounted_weights(rewards, mask, gamma) * gamma ** torch.arange(rewards.shape[1], dtype=rewards.dtype)


def _disc_so_far(rewards, mask, gamma):                        # Σ_{k≤t} γ^(k−1) r_k
    t = torch.arange(rewards.shape[1], dtype=rewards.dtype)
    return (rewards * mask * gamma ** t).cumsum(1) * mask


DISCOUNT = Exercise(
    name="ch05_discounted_weights", chapter=5, title="γ^(t−1) in the right place", function="discounted_weights",
    minutes=5, difficulty="easy", reference=discounted_weights, cases=_disc_cases,
    diagnoses=[
        mistake("no_factor",
                "you returned the discounted reward-to-go G_t without the factor γ^(t−1): that is the popular "
                "estimator, which chapter 05 §5 shows is the gradient of no objective. ∇J_γ weights token t by "
                "γ^(t−1) G_t (Eq. 5.6).", _disc_rtg),
        mistake("gamma_t",
                "discounting with γ^t in the wrong place: tokens are numbered t = 1 … T, so the first token's "
                "weight is γ^0 = 1 (array index t − 1; torch.arange(T) gives the exponents).", _disc_gamma_t),
        mistake("undiscounted_g",
                "your G_t is undiscounted: the reward-to-go inside Eq. 5.6 is discounted from step t on, "
                "G_t = Σ_{k≥t} γ^(k−t) r_k, *and* the whole is weighted by γ^(t−1).", _disc_undiscounted_g),
        mistake("twice",
                "you discounted twice: Σ_{k≥t} γ^(k−1) r_k already equals γ^(t−1) G_t — multiplying it by γ^(t−1) "
                "again counts the first t − 1 steps twice.", _disc_twice),
        mistake("so_far",
                "you summed rewards up to t (reward-so-far): token t is credited with the rewards from t on.",
                _disc_so_far),
        symptom("nan_at_zero",
                "NaN at γ = 0: γ^(t−1) computed as exp((t−1) · log γ) gives exp(0 · (−inf)) = exp(NaN) for the "
                "first token, whose weight is γ^0 = 1 at every γ. Use powers, gamma ** torch.arange(T) "
                "(0.0 ** 0 = 1), not exp/log.", _not_finite_where("gamma", 0.0)),
    ],
    **BT,
)


# ---------------------------------------------------------------------------------------------------------------
# 5.5 Predict, then measure: λ = 1 → 0 with a critic fitted on the article's target r_t (worse than a constant).
# Chapter 05 prints this critic's bias at λ = 0, not its variance against λ = 1: the prediction is open.

PREDICT = ChoiceQuestion(
    name="ch05_predict_lambda", chapter=5,
    title="Predict, then measure: λ = 1 → 0 with a critic fitted on the article's target",
    variable="answer_lambda", minutes=4, difficulty="medium",
    choices={"A": "the variance goes up: the critic is worse than a constant, so trusting it adds noise",
             "B": "the variance goes down clearly, by a third or more",
             "C": "about the same (within 10 %)"},
    answer="B",
    explanations={
        "A": "look at the measured ratio: a bad critic adds *bias* (chapter 05 §4 measured about twice the "
             "fitted critic's), not noise. What does λ = 0 replace the sum of all future rewards by?",
        "C": "look at the measured ratio again. At λ = 0 the weight of a token is r_t + V(s_{t+1}) − V(s_t): one "
             "reward and two smooth outputs of the critic, instead of the sum of every reward still to come.",
    },
)


# ---------------------------------------------------------------------------------------------------------------
# 5.6 Choose the false step: deriving ∇J_γ (Eq. 5.6), where γ^(t−1) goes.

PROOF = ChoiceQuestion(
    name="ch05_false_step", chapter=5, title="Choose the false step: where γ^(t−1) goes",
    variable="answer_false_step", minutes=3, difficulty="medium",
    choices={"A": "∇J_γ = E[(Σ_k γ^(k−1) r_k) · Σ_t ∇log π(a_t|s_t)]  (log-derivative trick on the whole trajectory)",
             "B": "for k < t, E[γ^(k−1) r_k ∇log π(a_t|s_t)] = 0  (a_t cannot change an earlier reward)",
             "C": "so ∇J_γ = E[Σ_t ∇log π(a_t|s_t) Σ_{k≥t} γ^(k−1) r_k]",
             "D": "Σ_{k≥t} γ^(k−1) r_k = Σ_{k≥t} γ^(k−t) r_k = G_t, so ∇J_γ = E[Σ_t ∇log π(a_t|s_t) G_t]"},
    answer="D", measured=False,
    reconsider="write out each step for t = 2 and γ = 0.5: which equality fails?",
    wrong_means="is a valid step",
    explanations={
        "A": "J_γ = E[Σ_k γ^(k−1) r_k] is an expectation over trajectories, and ∇log p_θ(τ) = Σ_t ∇log π(a_t|s_t) "
             "(chapter 02): this is the log-derivative trick, sound for any fixed weights on the rewards. "
             "Check the algebra of the later steps with numbers.",
        "B": "causality: r_k for k < t is fixed before a_t is drawn, so conditioned on the past E[∇log π(a_t|s_t)] = 0 "
             "(Eq. 2.4). Sound — it is the reward-to-go argument of chapter 03, unchanged by the constant γ^(k−1). "
             "Check the algebra of the later steps with numbers.",
        "C": "this only drops the terms that step B showed are zero and regroups the double sum by t: sound. "
             "Try the next step with t = 2, γ = 0.5 and a single reward r_2 = 1.",
    },
)

EXERCISES = [GAE, NSTEP, A2C_LOSS, DISCOUNT, PREDICT, PROOF]
