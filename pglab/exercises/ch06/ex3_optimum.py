"""Exercise 6.3: the exact optimum of the KL-regularised objective (Eq. 6.4), with its hints.

    π*(τ|x) = π_ref(τ|x) exp(R(τ)/β) / Z_β(x),   Z_β(x) = Σ_τ π_ref(τ|x) exp(R(τ)/β).

Over each prompt's completions this is a softmax of log π_ref + R/β — computed stably, without forming
exp(R/β) (which overflows for a small β). The diagnoses catch βR instead of R/β, a missing normaliser, an
overflow, π_ref left out, one softmax over every prompt at once (or along the wrong dimension), the log of π*
returned, and π_ref used where log π_ref belongs.
"""
from __future__ import annotations

import torch

from ..function import Case, Exercise, mistake, symptom
from .cases import _rand


# ---------------------------------------------------------------------------------------------------------------
# 6.3 The optimum of the KL-regularised objective, Eq. 6.4:  π*(τ|x) = π_ref(τ|x) exp(R(τ)/β) / Z_β(x).

def kl_optimum(ref_logprobs: torch.Tensor, rewards: torch.Tensor, beta: float) -> torch.Tensor:
    """Reference (as :func:`pglab.exact.kl_regularised_optimum`): a softmax of log π_ref + R/β over each prompt's completions."""
    return torch.softmax(ref_logprobs + rewards / beta, dim=-1)                   # exp(·) / Z_β(x), stably


def _opt_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for P, N, beta in [(1, 3, 1.0), (2, 4, _rand(0.2, 0.6, g)), (3, 5, _rand(1.5, 3.0, g)), (2, 6, 0.01)]:
        ref_logprobs = torch.log_softmax(torch.randn(P, N, generator=g), -1)       # log π_ref(τ|x), one row per prompt
        rewards = torch.round(torch.rand(P, N, generator=g) * 4) / 4               # R(τ) in [0, 1]
        rewards[:, 0] = 1.0                                                        # a top-reward completion per prompt
        out.append(Case(f"{P} prompt(s) x {N} completions, beta={beta}",
                        {"ref_logprobs": ref_logprobs, "rewards": rewards, "beta": beta}))
    return out


def _opt_beta_times(ref_logprobs, rewards, beta):
    return torch.softmax(ref_logprobs + beta * rewards, -1)


def _opt_unnormalised(ref_logprobs, rewards, beta):
    return torch.exp(ref_logprobs + rewards / beta)


def _opt_unnormalised_symptom(inputs, got, expected) -> bool:
    """got is proportional to expected within each prompt but its rows do not sum to 1."""
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.shape != expected.shape or not torch.isfinite(got).all() or (got <= 0).any():
        return False
    rows = got.sum(-1, keepdim=True)
    return bool(torch.allclose(got / rows, expected.double(), atol=1e-5) and not torch.allclose(rows, torch.ones_like(rows)))


def _opt_overflow(inputs, got, expected) -> bool:
    got = torch.as_tensor(got, dtype=torch.float64)
    return got.shape == expected.shape and not torch.isfinite(got).all() and inputs["beta"] < 0.1


def _opt_no_ref(ref_logprobs, rewards, beta):
    return torch.softmax(rewards / beta, -1)


def _opt_joint(ref_logprobs, rewards, beta):
    return torch.softmax((ref_logprobs + rewards / beta).flatten(), 0).view_as(rewards)


def _opt_wrong_dim(ref_logprobs, rewards, beta):
    return torch.softmax(ref_logprobs + rewards / beta, 0)


def _opt_log(ref_logprobs, rewards, beta):
    return torch.log_softmax(ref_logprobs + rewards / beta, -1)


def _opt_ref_not_log(ref_logprobs, rewards, beta):             # π_ref + R/β in the exponent: exp(π_ref) ≠ π_ref
    return torch.softmax(ref_logprobs.exp() + rewards / beta, -1)


OPTIMUM = Exercise(
    name="ch06_kl_optimum", chapter=6, title="The optimum π* ∝ π_ref · exp(R/β)", function="kl_optimum",
    minutes=8, difficulty="medium", reference=kl_optimum, cases=_opt_cases,
    diagnoses=[
        mistake("exp_beta_r",
                "you used exp(β R): the optimum divides the reward by β, π* ∝ π_ref · exp(R/β). A large β must "
                "keep π* near π_ref (the penalty dominates), a small β push it onto the best completions.",
                _opt_beta_times),
        symptom("overflow",
                "inf or NaN at a small β: exp(R/β) overflows (exp(100) is beyond float32). Work with logarithms — "
                "log π_ref + R/β, then subtract each row's maximum (or use torch.softmax / logsumexp) before "
                "exponentiating.", _opt_overflow),
        mistake("no_reference",
                "you left π_ref out: softmax(R/β) is the optimum against a *uniform* reference. The KL is to π_ref, "
                "so π* ∝ π_ref · exp(R/β): add log π_ref inside the softmax.", _opt_no_ref),
        mistake("joint",
                "you normalised over all prompts at once: π*(·|x) is a distribution for *each* prompt x, so each "
                "row must sum to 1 (softmax over dim=-1).", _opt_joint),
        mistake("wrong_dim",
                "you normalised over the prompts (dim 0), not over each prompt's completions (the last dim).",
                _opt_wrong_dim),
        symptom("unnormalised",
                "right shape, wrong scale: your probabilities do not sum to 1 over each prompt's completions. "
                "Divide by Z_β(x) = Σ_τ π_ref(τ|x) exp(R(τ)/β), one normaliser per prompt (row).",
                _opt_unnormalised_symptom),
        mistake("log",
                "you returned log π*: the exercise asks for the probabilities π*(τ|x) (exponentiate).", _opt_log),
        mistake("ref_not_log",
                "you added the probability π_ref to R/β inside the exponent: exp(π_ref + R/β) is not "
                "π_ref · exp(R/β). The inputs are *log*-probabilities: add log π_ref as given.", _opt_ref_not_log),
    ],
    shape="(P, N)", shape_means="one value per prompt (row) and completion (column)",
)
