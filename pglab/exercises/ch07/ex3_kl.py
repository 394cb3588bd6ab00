"""Exercise 7.3: the k1 and k3 estimators of the KL from log-probs (Eq. 7.11), with their hints.

    u_t = π_ref(a_t|s_t) / π_θ(a_t|s_t),   k1 = −log u_t,   k3 = (u_t − 1) − log u_t,   0 after <eos>.

Both estimate the reverse KL KL(π_θ‖π_ref) from tokens sampled from π_θ; k3 is never negative
(log x ≤ x − 1) and has lower variance. The diagnoses catch k1's sign, the ratio upside down in k3,
log u added instead of subtracted, k3's sign, k2 = ½ (log u)² for k3, the missing − 1, and no mask —
as whole answers, and field by field when only one of the two estimates is wrong.
"""
from __future__ import annotations

from typing import Any

import torch

from ... import kl
from ..calling import WrongOutput, call
from ..compare import compare_fields
from ..function import Case, Exercise, mistake, symptom
from ..masks import _ragged
from .cases import _close


# ---------------------------------------------------------------------------------------------------------------
# 7.3 k1 and k3 from log-probs (Eq. 7.11), u_t = π_ref/π_θ:  k1 = −log u_t,  k3 = (u_t − 1) − log u_t; 0 after <eos>.

def kl_k1_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: (:func:`pglab.kl.k1`, :func:`pglab.kl.k3`)."""
    return kl.k1(logprobs, ref_logprobs, mask), kl.k3(logprobs, ref_logprobs, mask)


def _kl_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T, spread in [(2, 3, 1.0), (3, 4, 0.0), (2, 6, 2.0), (4, 2, 0.5), (1, 5, 3.0)]:
        mask = _ragged(B, T, g)
        logits = torch.randn(B, T, 6, generator=g)
        ids = torch.randint(0, 6, (B, T, 1), generator=g)
        logp = torch.log_softmax(logits, -1).gather(-1, ids)[..., 0]
        ref = torch.log_softmax(logits + spread * torch.randn(B, T, 6, generator=g), -1).gather(-1, ids)[..., 0]
        label = f"B={B}, T={T}" + (" (π_ref = π)" if spread == 0 else "")
        out.append(Case(label, {"logprobs": logp, "ref_logprobs": ref, "mask": mask}))
    return out


def _kl_observe(fn, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
    out = call(fn, inputs)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise WrongOutput(f"kl_k1_k3 must return a pair (k1, k3), got a {type(out).__name__}", "not_a_pair",
                          "return both estimates, each a (B, T) tensor: return k1, k3")
    return {"k1": out[0], "k3": out[1]}


def _k(k1=None, k3=None, use_mask=True):
    """The reference with one estimator (``f(logp, ref) -> (B, T)``, unmasked) swapped."""
    def fn(logprobs, ref_logprobs, mask):
        m = mask if use_mask else torch.ones_like(mask)
        lp, rf = logprobs * m, ref_logprobs * m
        a = (k1 or (lambda lp, rf: lp - rf))(lp, rf) * m
        b = (k3 or (lambda lp, rf: torch.exp(rf - lp) - 1 - (rf - lp)))(lp, rf) * m
        return a, b
    return fn


def _field(name: str, wrong):
    """Symptom: field ``name`` equals ``wrong``'s (whatever the other field is)."""
    def test(inputs, got, expected):
        return _close(got[name], wrong(**inputs)[0 if name == "k1" else 1])
    return test


_K3_INVERTED = _k(k3=lambda lp, rf: torch.exp(lp - rf) - 1 - (lp - rf))

KL = Exercise(
    name="ch07_kl_estimators", chapter=7, title="k1 and k3 from log-probs", function="kl_k1_k3",
    minutes=6, difficulty="easy", reference=kl_k1_k3, cases=_kl_cases, observe=_kl_observe, compare=compare_fields,
    diagnoses=[
        mistake("k1_sign",
                "your k1 is log u = log π_ref − log π_θ: its mean is *minus* the KL. k1 = −log u_t = log π_θ − log π_ref, "
                "positive on average (it estimates KL(π_θ ‖ π_ref), the reverse KL of the RLHF penalty).",
                _k(k1=lambda lp, rf: rf - lp)),
        mistake("k3_inverted",
                "your k3 uses the ratio upside down, u = π_θ/π_ref: k3 = (u − 1) − log u with u_t = π_ref/π_θ = "
                "exp(log π_ref − log π_θ). (The inverted one has mean KL(π_ref‖π_θ) only under samples from π_ref — "
                "not the tokens you have, which came from π_θ.)", _K3_INVERTED),
        mistake("k3_log_sign",
                "your k3 adds log u: k3 = (u − 1) − log u, so that it is ≥ 0 (log x ≤ x − 1) and its mean is the KL.",
                _k(k3=lambda lp, rf: torch.exp(rf - lp) - 1 + (rf - lp))),
        mistake("k3_sign",
                "your k3 has the wrong sign: you wrote log u − (u − 1), which is ≤ 0. k3 = (u − 1) − log u is never "
                "negative (log x ≤ x − 1) and its mean is the KL.",
                _k(k3=lambda lp, rf: -(torch.exp(rf - lp) - 1 - (rf - lp)))),
        mistake("k3_is_k2",
                "your k3 is ½ (log u)², which is k2 (biased: its mean is not the KL). k3 = (u − 1) − log u.",
                _k(k3=lambda lp, rf: 0.5 * (rf - lp) ** 2)),
        mistake("k3_no_minus_one",
                "your k3 is u − log u: the − 1 is missing, so k3 is 1 where π_ref = π_θ instead of 0.",
                _k(k3=lambda lp, rf: torch.exp(rf - lp) - (rf - lp))),
        mistake("no_mask",
                "the positions after ‹eos› are not 0: multiply both estimates by the mask.", _k(use_mask=False)),
        symptom("k1_sign", "your k1 has the wrong sign: k1 = −log u_t = log π_θ − log π_ref (mean +KL, not −KL).",
                _field("k1", _k(k1=lambda lp, rf: rf - lp))),
        symptom("k3_inverted", "your k3 uses u = π_θ/π_ref; it must be u_t = π_ref/π_θ = exp(log π_ref − log π_θ).",
                _field("k3", _K3_INVERTED)),
        symptom("k3_sign", "your k3 has the wrong sign: k3 = (u_t − 1) − log u_t ≥ 0, not log u_t − (u_t − 1).",
                _field("k3", _k(k3=lambda lp, rf: -(torch.exp(rf - lp) - 1 - (rf - lp))))),
    ],
)
