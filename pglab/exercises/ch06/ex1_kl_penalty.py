"""Exercise 6.1: the KL penalty per token (Eq. 6.2), its reference, its cases and its hints.

    r'_t = r_t − β (log π_θ(a_t|s_t) − log π_ref(a_t|s_t)),   0 after <eos>.

The penalty is paid on every token, with the log-ratio of *that* token, in the direction of the reverse KL
KL(π_θ‖π_ref) that RLHF penalises. The diagnoses catch the sign flipped, probabilities instead of
log-probabilities, the ratio instead of its log, no mask, the whole KL paid at the end, a per-token mean, and
β forgotten.
"""
from __future__ import annotations

import torch

from ..ch04 import BT
from ..function import Case, Exercise, mistake
from ..masks import _ragged
from .cases import _rand


# ---------------------------------------------------------------------------------------------------------------
# 6.1 The KL penalty per token, Eq. 6.2:  r'_t = r_t − β (log π_θ(a_t|s_t) − log π_ref(a_t|s_t)),  0 after <eos>.

def kl_penalised_rewards(rewards: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
                         mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Reference (as the ``kl_coef`` step of :func:`pglab.algos.reinforce.step`)."""
    return (rewards - beta * (logprobs - ref_logprobs)) * mask


def _kl_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    sizes = [(2, 3, _rand(0.05, 0.5, g)), (3, 4, _rand(0.05, 0.5, g)), (2, 6, _rand(0.05, 0.5, g)),
             (4, 2, _rand(0.05, 0.5, g)), (2, 4, 0.0), (2, 50, _rand(0.05, 0.5, g))]   # then β = 0, a long T
    for B, T, beta in sizes:
        mask = _ragged(B, T, g)
        rewards = (torch.round(torch.rand(B, T, generator=g) * 4) / 4) * mask
        logits = torch.randn(B, T, 6, generator=g)
        ids = torch.randint(0, 6, (B, T, 1), generator=g)
        logprobs = torch.log_softmax(logits, -1).gather(-1, ids)[..., 0]             # log π(a_t|s_t) < 0
        ref_logprobs = torch.log_softmax(logits + torch.randn(B, T, 6, generator=g), -1).gather(-1, ids)[..., 0]
        out.append(Case(f"B={B}, T={T}, beta={beta}", {"rewards": rewards, "logprobs": logprobs,
                                                       "ref_logprobs": ref_logprobs, "mask": mask, "beta": beta}))
    return out


def _kl_sign(rewards, logprobs, ref_logprobs, mask, beta):
    return (rewards + beta * (logprobs - ref_logprobs)) * mask


def _kl_probs(rewards, logprobs, ref_logprobs, mask, beta):
    return (rewards - beta * (logprobs.exp() - ref_logprobs.exp())) * mask


def _kl_ratio(rewards, logprobs, ref_logprobs, mask, beta):
    return (rewards - beta * (logprobs - ref_logprobs).exp()) * mask


def _kl_no_mask(rewards, logprobs, ref_logprobs, mask, beta):
    return rewards - beta * (logprobs - ref_logprobs)


def _kl_at_end(rewards, logprobs, ref_logprobs, mask, beta):
    kl = ((logprobs - ref_logprobs) * mask).sum(1)                                   # Σ_t over the completion
    out = (rewards * mask).clone()
    out[torch.arange(len(out)), mask.sum(1).long() - 1] -= beta * kl
    return out


def _kl_token_mean(rewards, logprobs, ref_logprobs, mask, beta):
    n = mask.sum(1, keepdim=True)
    return (rewards - beta * (logprobs - ref_logprobs) / n) * mask


def _kl_no_beta(rewards, logprobs, ref_logprobs, mask, beta):
    return (rewards - (logprobs - ref_logprobs)) * mask


KL_PENALTY = Exercise(
    name="ch06_kl_penalty", chapter=6, title="The KL penalty per token", function="kl_penalised_rewards",
    minutes=6, difficulty="easy", reference=kl_penalised_rewards, cases=_kl_cases,
    diagnoses=[
        mistake("sign",
                "the penalty has the wrong sign: you *added* β(log π − log π_ref), which rewards the policy for "
                "moving away from the reference. Eq. 6.2 subtracts it: r'_t = r_t − β(log π − log π_ref) "
                "(equivalently, adds β(log π_ref − log π)).", _kl_sign),
        mistake("probabilities",
                "you used probabilities, exp(log π) − exp(log π_ref): the KL is an expectation of the *log*-ratio. "
                "Use the log-probs as given: β(log π − log π_ref).", _kl_probs),
        mistake("ratio",
                "you subtracted the ratio π/π_ref = exp(log π − log π_ref): the penalty is its logarithm, "
                "log π − log π_ref (0 where the two agree, not 1).", _kl_ratio),
        mistake("no_mask",
                "the positions after <eos> are not 0: the policy's log-probs there belong to padding, not to the "
                "completion. Multiply by the mask.", _kl_no_mask),
        mistake("at_end",
                "you paid the whole completion's KL on its last token: that has the same sum, but Eq. 6.2 "
                "penalises every token where it is written, r'_t = r_t − β(log π(a_t|s_t) − log π_ref(a_t|s_t)), "
                "so reward-to-go credits each token with the penalties from t on.", _kl_at_end),
        mistake("token_mean",
                "you divided the penalty by the completion's length: the KL over whole completions is the *sum* "
                "of the per-token log-ratios (the chain rule of the KL), not their mean.", _kl_token_mean),
        mistake("no_beta",
                "your penalty is not multiplied by β: the weight of the KL is the coefficient beta.", _kl_no_beta),
    ],
    **BT,
)
