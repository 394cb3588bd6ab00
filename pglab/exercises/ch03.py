"""Exercises for chapter 03 (REINFORCE): the surrogate loss of Eq. (3.5) from log-probabilities and
advantages, the whole loss from logits and per-token rewards, and a prediction about the stray 1/T.

A loss is judged by what an optimizer sees: its value *and* its gradients. The checks backpropagate
the student's loss to leaf tensors and compare ∂L/∂logprobs (or ∂L/∂logits) with the reference's, and
they check that no gradient reaches the advantages (they are constants of the update: ``.detach()``).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .calling import WrongOutput, call
from .ch01 import _completion
from .choice import ChoiceQuestion
from .compare import compare_fields
from .function import Case, Exercise, mistake, symptom

NO_GRAD_HINT = ("the loss must be a tensor computed from the log-probabilities with torch operations, so that "
                "backward() reaches θ: no .item(), .detach(), .numpy() or float() on the way.")


def _scalar_loss(out: Any) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise WrongOutput(f"the loss must be a torch tensor, got a {type(out).__name__}", "not_a_tensor",
                          NO_GRAD_HINT)
    if out.numel() != 1:
        raise WrongOutput(f"the loss must be one number (a scalar), got shape {tuple(out.shape)}", "not_scalar",
                          "sum over tokens and average over the batch to get one number: Eq. (3.5).")
    if not out.requires_grad:
        raise WrongOutput("the loss has no gradient (requires_grad is False)", "no_grad", NO_GRAD_HINT)
    return out.reshape(())


def _grad(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x) if x.grad is None else x.grad.detach().clone()


# ---------------------------------------------------------------------------------------------------------------
# 3.1  L(θ) = −(1/B) Σ_i Σ_t m_{i,t} A_{i,t} log π_θ(a_{i,t} | s_{i,t})      (Eq. 3.5)

def reinforce_loss(logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = advantages.detach()                                  # constants of the update
    return -(weights * logprobs * mask).sum(1).mean()              # sum over tokens, mean over the batch


def _loss_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T in [(2, 3), (3, 5), (4, 6), (1, 2), (3, 1), (3, 7)]:
        _, mask = _completion(B, T, 6, g)
        logprobs = -torch.rand(B, T, generator=g) * 3              # junk after <eos> too: the pass computes it
        advantages = torch.round(torch.randn(B, T, generator=g) * 4) / 4
        out.append(Case(f"B={B}, T={T}", {"logprobs": logprobs.requires_grad_(True),
                                          "advantages": advantages.requires_grad_(True), "mask": mask}))
    return out


def _observe_loss(fn, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
    loss = _scalar_loss(call(fn, inputs))
    loss.backward()
    return {"loss": loss.detach(), "gradient_wrt_logprobs": _grad(inputs["logprobs"]),
            "gradient_reaching_advantages": _grad(inputs["advantages"])}


def _loss_ratio(inputs, got, expected, scale) -> bool:
    """got's loss and logprob-gradient are expected's times ``scale`` (per row or overall)."""
    for key in ("loss", "gradient_wrt_logprobs"):
        if not torch.allclose(got[key].double(), (expected[key].double() * scale).reshape(got[key].shape)
                              if key == "loss" else expected[key].double() * scale, atol=1e-5, rtol=1e-4):
            return False
    return True


def _per_token_mean(inputs, got, expected) -> bool:
    """The stray 1/T: each row divided by its length, or everything by T (all positions) or by Σ m."""
    m = inputs["mask"].double()
    B, T = m.shape
    per_row = 1 / m.sum(1, keepdim=True).clamp_min(1)              # (B, 1)
    A, lp = inputs["advantages"].detach().double(), inputs["logprobs"].detach().double()
    row_loss = -(A * lp * m).sum(1, keepdim=True)
    cands = [({"loss": (row_loss * per_row).mean(), "gradient_wrt_logprobs": -(A * m) * per_row / B}),
             ({"loss": row_loss.mean() / T, "gradient_wrt_logprobs": -(A * m) / (B * T)}),
             ({"loss": row_loss.sum() / m.sum(), "gradient_wrt_logprobs": -(A * m) / m.sum()})]
    return any(all(torch.allclose(got[k].double(), c[k], atol=1e-5, rtol=1e-4) for k in c) for c in cands)


def _leaks_into_advantages(inputs, got, expected) -> bool:
    return bool(got["gradient_reaching_advantages"].abs().sum() > 0) and \
        torch.allclose(got["loss"].double(), expected["loss"].double(), atol=1e-5, rtol=1e-4)


LOSS = Exercise(
    name="ch03_reinforce_loss", chapter=3, title="The REINFORCE surrogate loss", function="reinforce_loss",
    minutes=10, difficulty="medium", reference=reinforce_loss, cases=_loss_cases,
    compare=compare_fields, observe=_observe_loss,
    diagnoses=[
        mistake("sign",
                "the sign is flipped: optimizers *minimise*, so the loss is −(1/B) Σ A log π. Minimising "
                "+A log π (the source article's loss, which already had a minus inside its cross-entropy) pushes "
                "down the tokens that earned reward: the reward falls (chapter 03 §3.1).",
                lambda logprobs, advantages, mask: (advantages.detach() * logprobs * mask).sum(1).mean()),
        symptom("per_token_mean",
                "a stray 1/T: you averaged over tokens where Eq. (3.5) *sums* them. A per-token mean weights "
                "each completion by 1/length — long completions count less and the gradient is a different one "
                "(sum over t, mean over the batch).", _per_token_mean),
        mistake("no_mask",
                "the positions after <eos> (mask 0) count: their log-probs were computed by the teacher-forced "
                "pass but those tokens were never written. Multiply by the mask.",
                lambda logprobs, advantages, mask: -(advantages.detach() * logprobs).sum(1).mean()),
        mistake("sum_over_batch",
                "your loss is B times too large: Eq. (3.5) averages over the batch (1/B Σ_i) — sum over tokens, "
                "mean over completions.",
                lambda logprobs, advantages, mask: -(advantages.detach() * logprobs * mask).sum()),
        symptom("no_detach",
                "the value is right, but gradient flows into the advantages: they are constants of the update "
                "(in REINFORCE with a critic they come out of a network). Use advantages.detach(), or the "
                "optimizer will also move whatever produced them — to make A log π larger.",
                _leaks_into_advantages),
    ],
)


# ---------------------------------------------------------------------------------------------------------------
# 3.2  The whole loss from logits and per-token rewards (γ = 1): log_softmax + gather, G_t, Eq. (3.5)

def reinforce_loss_from_logits(logits: torch.Tensor, completion_ids: torch.Tensor, rewards: torch.Tensor,
                               mask: torch.Tensor) -> torch.Tensor:
    logp = F.log_softmax(logits, -1).gather(-1, completion_ids[..., None]).squeeze(-1)   # log π(a_t | s_t)
    r = rewards * mask
    G = r.flip(1).cumsum(1).flip(1)                                                      # G_t = Σ_{k≥t} m_k r_k
    return -(G * logp * mask).sum(1).mean()                                              # Eq. (3.5), b = 0


def _full_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T, V in [(2, 3, 5), (3, 5, 6), (4, 6, 8), (3, 1, 6), (3, 7, 7), (2, 40, 5)]:
        ids, mask = _completion(B, T, V, g)
        rewards = torch.round(torch.rand(B, T, generator=g) * 4) / 4
        rewards = rewards * mask + (1 - mask) * 0.75                                   # junk after <eos>
        logits = (torch.randn(B, T, V, generator=g) * 1.5).requires_grad_(True)
        out.append(Case(f"B={B}, T={T}, V={V}", {"logits": logits, "completion_ids": ids, "rewards": rewards,
                                                 "mask": mask}))
    return out


def _observe_full(fn, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
    loss = _scalar_loss(call(fn, inputs))
    loss.backward()
    return {"loss": loss.detach(), "gradient_wrt_logits": _grad(inputs["logits"])}


def _full(logp_fn=None, weights_fn=None, sign=-1.0, reduce="mean", use_mask=True, squeeze_all=False):
    """A variant of the reference with one piece swapped (for the diagnoses)."""
    def fn(logits, completion_ids, rewards, mask):
        lp = (logp_fn or (lambda z: F.log_softmax(z, -1)))(logits).gather(-1, completion_ids[..., None])
        lp = lp.squeeze() if squeeze_all else lp.squeeze(-1)
        m = mask if use_mask else torch.ones_like(mask)
        r = rewards * m
        w = weights_fn(r, m) if weights_fn else r.flip(1).cumsum(1).flip(1)
        per_row = (w * lp * m).sum(1)
        if reduce == "mean":
            return sign * per_row.mean()
        if reduce == "sum":
            return sign * per_row.sum()
        return sign * (per_row / m.sum(1).clamp_min(1)).mean()
    return fn


FULL = Exercise(
    name="ch03_reinforce_from_logits", chapter=3, title="REINFORCE's loss from logits and rewards",
    function="reinforce_loss_from_logits", minutes=12, difficulty="hard", reference=reinforce_loss_from_logits,
    cases=_full_cases, compare=compare_fields, observe=_observe_full,
    diagnoses=[
        mistake("squeeze_all",
                "`.squeeze()` without a dimension also removed the T axis when T = 1: the (B,) log-probs then "
                "broadcast against (B, 1) tensors into a (B, B) table. Squeeze only the gathered axis: "
                ".squeeze(-1) (or index [..., 0]).",
                _full(squeeze_all=True)),
        mistake("raw_logits",
                "you used the raw logit of the taken token as log π: normalise with log_softmax over the "
                "vocabulary first (Eq. 1.1).", _full(logp_fn=lambda z: z)),
        mistake("probs",
                "you used probabilities (softmax), not log-probabilities: the score is ∇ log π, so the loss "
                "needs log_softmax.", _full(logp_fn=lambda z: z.softmax(-1))),
        mistake("reward_so_far",
                "your token weights are the rewards accumulated *so far* (the source article's loop): a_t cannot "
                "change the past, and it misses the future rewards it causes. Use G_t = Σ_{k ≥ t} r_k.",
                _full(weights_fn=lambda r, m: r.cumsum(1))),
        mistake("total_return",
                "every token is weighted by the whole return R(τ) = G_1: unbiased (Eq. 2.3), but this exercise "
                "asks for the reward-to-go G_t = Σ_{k ≥ t} r_k of Eq. (3.3).",
                _full(weights_fn=lambda r, m: r.sum(1, keepdim=True) * m)),
        mistake("immediate_reward",
                "each token is weighted by its own reward r_t only: G_t sums the rewards from t to the end.",
                _full(weights_fn=lambda r, m: r)),
        mistake("sign",
                "the sign is flipped: minimising +G log π (the article's sign error) lowers the reward. "
                "L = −(1/B) Σ_i Σ_t G_t log π.", _full(sign=1.0)),
        mistake("per_token_mean",
                "a stray 1/T: you averaged over each completion's tokens; Eq. (3.5) sums over tokens and averages "
                "over the batch only.", _full(reduce="row_mean")),
        mistake("sum_over_batch",
                "B times too large: average over the batch (1/B Σ_i), don't sum.", _full(reduce="sum")),
        mistake("no_mask",
                "the positions after <eos> count (their rewards and log-probs): multiply by the mask — in G_t and "
                "in the loss.", _full(use_mask=False)),
        mistake("mask_loss_only",
                "the loss is masked but the rewards after <eos> still flow into G_t of the valid tokens: "
                "mask the rewards before the right-to-left sum (G_t = Σ_{k ≥ t} m_k r_k).",
                lambda logits, completion_ids, rewards, mask: -(
                    rewards.flip(1).cumsum(1).flip(1)
                    * F.log_softmax(logits, -1).gather(-1, completion_ids[..., None]).squeeze(-1) * mask).sum(1).mean()),
    ],
)


# ---------------------------------------------------------------------------------------------------------------
# 3.3  Predict, then measure: the stray 1/T

PREDICT_MEAN = ChoiceQuestion(
    name="ch03_predict_token_mean", chapter=3, title="Sum over tokens or mean over tokens?",
    variable="predict_token_mean", minutes=6, difficulty="medium",
    choices={"A": "the per-token mean's expected gradient points exactly along ∇J: the 1/T is only a step size",
             "B": "it points elsewhere, but still uphill: 0 < cos(E ĝ, ∇J) < 1",
             "C": "it points downhill (cosine with ∇J below 0)"},
    answer="B",
    explanations={
        "A": "run the measurement: the cosine is printed. The 1/T_i differs from completion to completion when "
             "their lengths differ — is that one common factor?",
        "C": "run the measurement and read the printed cos(E ĝ, ∇J) of the mean over tokens: its sign decides. "
             "That 1/T_i is positive does not settle it by itself — a positive reweighting of the terms can turn "
             "their sum downhill (chapter 03's reward-so-far weights do on copy-sparse).",
    },
)

EXERCISES = [LOSS, FULL, PREDICT_MEAN]
