"""Exercise 7.1: PPO's clipped surrogate per token (Eq. 7.2), its reference, its cases and its hints.

    ℓ_t = −min(w_t A_t, clip(w_t, 1−ε, 1+ε) A_t),   w_t = π_θ(a_t|s_t) / π_old(a_t|s_t) = exp(log π_θ − log π_old),
    0 after <eos>.

The loss must stay a function of ``logprobs`` — its gradient is what PPO follows — so the check observes the
per-token losses *and* the gradient of their sum: a ratio detached somewhere, or the advantage clipped instead
of the ratio, is caught even where the values are right. The other diagnoses catch the log-ratio without its
exp, the ratio upside down or taken of the log-probs, max for min, the clipped term alone, the sign, no mask,
and the losses aggregated instead of per token.
"""
from __future__ import annotations

from typing import Any

import torch

from ...algos import ppo
from ..calling import WrongOutput, call
from ..ch04 import BT
from ..compare import compare_fields
from ..function import Case, Exercise, mistake, symptom
from ..masks import _ragged
from .cases import _close


# ---------------------------------------------------------------------------------------------------------------
# 7.1 PPO's clipped surrogate per token (Eq. 7.2):  ℓ_t = −min(w_t A_t, clip(w_t, 1−ε, 1+ε) A_t),
# w_t = π_θ(a_t|s_t) / π_old(a_t|s_t) = exp(log π_θ − log π_old); 0 after <eos>.

def clipped_surrogate(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                      mask: torch.Tensor, clip_eps: float) -> torch.Tensor:
    """Reference: :func:`pglab.algos.ppo.clipped_surrogate`'s per-token losses (B, T)."""
    return ppo.clipped_surrogate(logprobs, old_logprobs, advantages, mask, clip_eps)[0]


def _ppo_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T, eps, drift in [(2, 3, 0.2, 0.0), (3, 4, 0.2, 0.6), (4, 5, 0.1, 0.4), (2, 6, 0.3, 0.8), (1, 4, 0.2, 0.5)]:
        mask = _ragged(B, T, g)
        old = -(torch.rand(B, T, generator=g) * 2.5 + 0.05)                     # log π_old(a_t|s_t) < 0
        delta = torch.round((torch.rand(B, T, generator=g) * 2 - 1) * drift * 100) / 100
        logprobs = (old + delta).clamp_max(-0.01)                               # θ moved after some epochs
        adv = torch.round(torch.randn(B, T, generator=g) * 4) / 4               # both signs, some zeros
        junk = 1 - mask                                                         # after <eos>: junk, not zeros
        adv = adv * mask + junk * torch.round(torch.rand(B, T, generator=g) * 3 + 1)
        label = f"B={B}, T={T}, clip_eps={eps}" + (" (first epoch: w = 1)" if drift == 0 else "")
        out.append(Case(label, {"logprobs": logprobs.requires_grad_(True), "old_logprobs": old,
                                "advantages": adv, "mask": mask, "clip_eps": eps}))
    return out


NO_GRAD_HINT = ("the loss must stay a function of `logprobs` (computed with torch operations): no .detach(), "
                ".item() or torch.no_grad() on the way, or PPO's update would have no gradient.")


def _ppo_observe(fn, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The per-token losses and the gradient of their sum with respect to ``logprobs`` (what the optimiser sees)."""
    out = call(fn, inputs)
    if isinstance(out, torch.Tensor) and not out.requires_grad:
        raise WrongOutput("the losses have no gradient (requires_grad is False)", "no_grad", NO_GRAD_HINT)
    (grad,) = torch.autograd.grad(out.sum(), [inputs["logprobs"]], allow_unused=True)
    return {"loss": out.detach(), "d loss.sum() / d logprobs": torch.zeros_like(inputs["logprobs"]) if grad is None
            else grad.detach()}


def _surrogate(ratio_fn=None, pick=torch.min, clip_what="ratio", sign=-1.0, use_mask=True):
    """The reference with one piece swapped (for the diagnoses)."""
    def fn(logprobs, old_logprobs, advantages, mask, clip_eps):
        m = mask if use_mask else torch.ones_like(mask)
        ratio = (ratio_fn or (lambda lp, old: torch.exp(lp - old)))(logprobs, old_logprobs)
        A = advantages
        if clip_what == "ratio":
            clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps) * A
        elif clip_what == "advantage":
            clipped = ratio * A.clamp(1 - clip_eps, 1 + clip_eps)
        elif clip_what == "product":
            clipped = (ratio * A).clamp(1 - clip_eps, 1 + clip_eps)
        else:                                                                   # "only": no min at all
            return sign * ratio.clamp(1 - clip_eps, 1 + clip_eps) * A * m
        return sign * pick(ratio * A, clipped) * m
    return fn


def _clipped_advantage(inputs, got, expected) -> bool:
    """got equals the surrogate with the clip on A (w · clip(A)) or on the product (clip(wA)), values and gradient."""
    for clip_what in ("advantage", "product"):
        wrong = _ppo_observe(_surrogate(clip_what=clip_what), {**inputs, "logprobs": inputs["logprobs"].detach()
                                                                .clone().requires_grad_(True)})
        if compare_fields(wrong, got) is None:
            return True
    return False


def _gradient_cut(inputs, got, expected) -> bool:
    """The values are right but the gradient is not: the ratio (or one branch of the min) was detached."""
    return _close(got["loss"], expected["loss"]) and not _close(got["d loss.sum() / d logprobs"],
                                                                expected["d loss.sum() / d logprobs"])


def _aggregated(inputs, got, expected) -> bool:
    return got["loss"].dim() < 2


SURROGATE = Exercise(
    name="ch07_clipped_surrogate", chapter=7, title="PPO's clipped surrogate, token by token", function="clipped_surrogate",
    minutes=10, difficulty="medium", reference=clipped_surrogate, cases=_ppo_cases, observe=_ppo_observe,
    compare=compare_fields,
    diagnoses=[
        symptom("aggregated", "return the per-token losses, shape (B, T), 0 after ‹eos›: the aggregation (sum over "
                "tokens, mean over the batch) comes later, in the algorithm.", _aggregated, exact=True),
        mistake("no_exp",
                "your ratio is log π − log π_old, the *log*-ratio: w_t = π_θ/π_old = exp(log π_θ − log π_old) "
                "(Eq. 7.1). At θ = θ_old the ratio is 1, not 0.", _surrogate(lambda lp, old: lp - old)),
        mistake("inverted",
                "your ratio is upside down: π_old/π_θ = exp(log π_old − log π_θ). Eq. 7.1's w_t = π_θ/π_old grows when "
                "the new policy makes the token *more* likely.", _surrogate(lambda lp, old: torch.exp(old - lp))),
        mistake("ratio_of_logprobs",
                "you divided the log-probs, log π_θ / log π_old: the importance ratio is a ratio of probabilities, "
                "exp(log π_θ − log π_old).", _surrogate(lambda lp, old: lp / old)),
        mistake("max",
                "you took the max of the two terms: PPO takes the min (the pessimistic bound), so a token that already "
                "gained more than the clip allows stops pushing (its gradient is 0).", _surrogate(pick=torch.max)),
        symptom("clip_advantage",
                "you clipped the advantage (clip(A, 1−ε, 1+ε), or the product w_t A_t): the clip acts on the ratio "
                "alone, clip(w_t, 1−ε, 1+ε) · A_t — the advantage is used as it is, whatever its size.",
                _clipped_advantage, exact=True),
        mistake("no_min",
                "you kept only the clipped term: Eq. 7.2 takes min(w A, clip(w) A), so a token whose ratio moved the "
                "*wrong* way (the objective got worse) still gets the full, unclipped gradient.",
                _surrogate(clip_what="only")),
        mistake("sign",
                "the sign is flipped: you returned the objective min(wA, clip(w)A); the loss that gradient *descent* "
                "minimises is its negative.", _surrogate(sign=1.0)),
        mistake("no_mask",
                "the positions after ‹eos› are not 0: multiply by the mask (the junk advantages there are no tokens "
                "of any completion).", _surrogate(use_mask=False)),
        symptom("detached_ratio",
                "your losses have the right values but the wrong gradient with respect to `logprobs`: the ratio was "
                "detached somewhere (.detach(), .item(), torch.no_grad(), or a detached copy in one branch of the "
                "min). The ratio w_t = exp(log π_θ − log π_old) is what carries PPO's gradient: it must stay a "
                "function of `logprobs` in *both* terms; only `old_logprobs` are constants.",
                _gradient_cut, exact=True),
    ],
    **BT,
)
