"""Exercise 5.3: the A2C losses with the right things held fixed (Eq. 5.5), graded with the reference GAE.

    actor:  −(1/B) Σ_i Σ_t A_{i,t} log π(a_{i,t}|s_{i,t}),  A = GAE(λ) of the same values, held fixed;
    critic: ½ mean over valid tokens of (V(s_t) − y_t)²,  y_t = A_t + V(s_t), held fixed.

A loss is right only if its *gradient* is: the check observes both losses and their gradients with respect
to the log-probs and the values (what an optimiser sees), so a missing ``.detach()`` is caught even when the
loss's value is right. The student's 5.3 usually calls their own ``gae`` from 5.1; while 5.3 is checked that
name is pointed at the reference GAE (and restored afterwards), so a bug in 5.1 costs 5.1's points only.
"""
from __future__ import annotations

import contextlib

import torch

from ...advantages import gae as pglab_gae
from ...advantages import reward_to_go
from ..calling import call
from ..compare import compare_tensors
from ..function import Case, Exercise, mistake, symptom
from .cases import _episodes, _rand
from .ex1_gae import gae


# ---------------------------------------------------------------------------------------------------------------
# 5.3 The A2C losses, Eq. 5.5:  actor −(1/B) Σ_i Σ_t A_{i,t} log π(a_{i,t}|s_{i,t}) with A held fixed; critic
# ½ mean over valid tokens of (V(s_t) − y_t)², y_t = A_t + V(s_t) held fixed. A_t = GAE(λ) of the *same* values.

def a2c_losses(logprobs: torch.Tensor, values: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor,
               gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference (as :func:`pglab.algos.a2c.step`): advantages and targets carry no gradient."""
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
