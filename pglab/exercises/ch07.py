"""Exercises for chapter 07 (PPO, the GRPO family, KL estimators): PPO's per-token clipped surrogate, RLOO /
GRPO / Dr. GRPO advantages from grouped returns, the k1 and k3 estimators from log-probs, the proof of
Dr. GRPO's (K−1)/K factor (order the steps), and a prediction about PPO's loss while the reward rises.

Tensor conventions as in :mod:`pglab.algos.ppo` and :mod:`pglab.kl`: ``logprobs[i, t]`` = log π_θ(a_t|s_t),
``old_logprobs[i, t]`` = log π_old(a_t|s_t) recorded when the batch was sampled, ``ref_logprobs[i, t]`` =
log π_ref(a_t|s_t); ``mask[i, t]`` is 1 on the tokens actually written (up to and including ``<eos>``) and 0
after it. Group returns ``returns[i]`` come in consecutive groups of ``group_size`` (K) rows per prompt.
"""
from __future__ import annotations

from typing import Any

import torch

from .. import kl
from ..algos import grpo, ppo
from .ch04 import BT
from .core import Case, ChoiceQuestion, Exercise, WrongOutput, call, compare_fields, mistake, symptom
from .order import OrderQuestion


def _mask(lengths: list[int], T: int) -> torch.Tensor:
    return (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).float()


def _ragged(B: int, T: int, g: torch.Generator) -> torch.Tensor:
    lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
    lengths[0] = T
    if B > 1 and T > 1:
        lengths[1] = int(torch.randint(1, T, (1,), generator=g))
    return _mask(lengths, T)


def _close(a: Any, b: Any) -> bool:
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and torch.allclose(a, b, rtol=1e-4, atol=1e-5)


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


# ---------------------------------------------------------------------------------------------------------------
# 7.2 Group advantages from whole returns R (B,), K = group_size consecutive rows per prompt (Eqs. 7.5–7.7):
#   RLOO  A_i = R_i − mean_{j≠i} R_j;   GRPO  A_i = (R_i − mean_j R_j) / (std_j R_j + 1e-4), sample std (K − 1),
#   0 for a group of equal returns;     Dr. GRPO  A_i = R_i − mean_j R_j.

def group_advantages(returns: torch.Tensor, group_size: int, kind: str) -> torch.Tensor:
    """Reference: :func:`pglab.algos.grpo.group_advantages`."""
    return grpo.group_advantages(returns, group_size, kind)


def _group_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for kind, K, n in [("rloo", 4, 2), ("grpo", 4, 2), ("dr_grpo", 3, 2), ("grpo", 2, 3), ("rloo", 8, 1),
                       ("grpo", 8, 1), ("dr_grpo", 4, 2), ("grpo", 4, 3)]:
        R = torch.round(torch.rand(n, K, generator=g) * 4) / 4                 # graded outcomes, quarters
        if kind == "grpo" and K >= 4:
            R[0] = R[0, 0]                                                       # a group of equal returns
            R[-1] = torch.round(torch.rand(1, generator=g) * 4) / 4
            R[-1, -1] += 1 / 64                                                  # one tiny spread: ε matters
        out.append(Case(f"B={n * K}, group_size={K}, kind={kind!r}", {"returns": R.reshape(-1), "group_size": K,
                                                                      "kind": kind}))
    return out


def _groups(R, K):
    return R.double().view(-1, K)


def _kinds(rloo=None, grpo_=None, dr=None):
    """The reference, with the formula of one kind swapped (``fn(R (groups, K), K) -> (groups, K)``)."""
    def fn(returns, group_size, kind):
        own = {"rloo": rloo, "grpo": grpo_, "dr_grpo": dr}[kind]
        if own is None:
            return grpo.group_advantages(returns, group_size, kind)
        return own(_groups(returns, group_size), group_size).reshape(-1).to(returns.dtype)
    return fn


def _std_adv(R, std, eps):
    return torch.where(std > 0, (R - R.mean(1, keepdim=True)) / (std + eps), 0.0)


def _population_std(inputs, got, expected) -> bool:
    if inputs["kind"] != "grpo":
        return False
    R = _groups(inputs["returns"], inputs["group_size"])
    std = R.std(1, unbiased=False, keepdim=True)
    return any(_close(got, _std_adv(R, std, e).reshape(-1)) for e in (1e-4, 1e-6, 1e-8, 1e-5, 0.0))


def _nan(inputs, got, expected) -> bool:
    got = torch.as_tensor(got)
    return got.shape == expected.shape and not torch.isfinite(got).all()


GROUP = Exercise(
    name="ch07_group_advantages", chapter=7, title="RLOO, GRPO and Dr. GRPO advantages from grouped returns",
    function="group_advantages", minutes=10, difficulty="medium", reference=group_advantages, cases=_group_cases,
    diagnoses=[
        mistake("rloo_includes_self",
                "your RLOO baseline includes the sample's own return: you subtracted the group mean (that is Dr. "
                "GRPO). RLOO leaves sample i out — mean over the other K − 1 returns — so the baseline is "
                "independent of sample i and the estimator is unbiased.",
                _kinds(rloo=lambda R, K: R - R.mean(1, keepdim=True))),
        mistake("rloo_divide_by_k",
                "for RLOO you summed the other K − 1 returns but divided by K: there are K − 1 of them.",
                _kinds(rloo=lambda R, K: R - (R.sum(1, keepdim=True) - R) / K)),
        symptom("population_std",
                "GRPO's std here is the population std (dividing by K): Eq. 7.6, as pglab.algos.grpo and TRL compute it, "
                "takes the *sample* std (dividing by K − 1: torch's default .std(), not .std(unbiased=False) or "
                "np.std), plus ε = 1e-4. (Chapter 04's pg.advantages.group_normalised is the same advantage, applied "
                "per step to G_t.)",
                _population_std, exact=True),
        mistake("eps_in_sqrt",
                "you put ε inside the square root, sqrt(var + ε): Eq. 7.6 adds ε = 1e-4 to the std itself, "
                "(R_i − mean) / (std + ε).",
                _kinds(grpo_=lambda R, K: (R - R.mean(1, keepdim=True)) / torch.sqrt(R.var(1, keepdim=True) + 1e-4))),
        mistake("no_eps",
                "you divided by the std without ε = 1e-4: Eq. 7.6 is (R_i − mean) / (std + 1e-4) — it matters where "
                "a group's returns are nearly equal.",
                _kinds(grpo_=lambda R, K: _std_adv(R, R.std(1, keepdim=True), 0.0))),
        symptom("nan_equal_group",
                "NaN or inf where all K returns of a group are equal: their std is 0. With ε = 1e-4 added to the std "
                "the advantage is 0/1e-4 = 0 there, as it should be (nothing to prefer).", _nan, exact=False),
        mistake("dr_grpo_is_rloo",
                "your Dr. GRPO advantage is RLOO's: Dr. GRPO subtracts the mean of *all* K returns, sample i "
                "included — which makes it (K − 1)/K times RLOO's.", _kinds(dr=lambda R, K: R - (R.sum(1, keepdim=True) - R) / (K - 1))),
        mistake("dr_grpo_std",
                "your Dr. GRPO divides by the std: Dr. GRPO is GRPO *without* the std (and without 1/|o_i|), "
                "A_i = R_i − mean_j R_j.", _kinds(dr=lambda R, K: _std_adv(R, R.std(1, keepdim=True), 1e-4))),
        mistake("strided_groups",
                "you grouped the wrong rows: a group is K *consecutive* rows (returns.view(B // K, K)), not every "
                "(B/K)-th row (view(K, B // K)).",
                lambda returns, group_size, kind: grpo.group_advantages(
                    returns.view(group_size, -1).t().reshape(-1), group_size, kind).view(-1, group_size).t().reshape(-1)),
        mistake("batch_wide",
                "you used the whole batch as one group: the baseline comes from the K returns of the *same prompt* "
                "(K consecutive rows).",
                lambda returns, group_size, kind: grpo.group_advantages(returns, len(returns), kind)),
    ],
    shape="(B,)", shape_means="one advantage per completion",
)


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


# ---------------------------------------------------------------------------------------------------------------
# 7.4 Order the proof: E[A_i^Dr.GRPO ∇log π(o_i)] = (K−1)/K · ∇J.

PROOF = OrderQuestion(
    name="ch07_proof_dr_grpo", chapter=7, title="Order the proof: Dr. GRPO's (K−1)/K", variable="proof_order",
    minutes=6, difficulty="medium",
    steps={"A": "Split the group mean: mean_j R_j = R_i / K + (K−1)/K · m₋ᵢ, with m₋ᵢ the mean of the other K − 1 "
                "returns.",
           "B": "So R_i − mean_j R_j = (K−1)/K · (R_i − m₋ᵢ) = (K−1)/K · A_i^RLOO.",
           "C": "m₋ᵢ depends only on the other completions, drawn independently of o_i, so "
                "E[m₋ᵢ ∇log π(o_i)] = E[m₋ᵢ] · E[∇log π(o_i)] = 0.",
           "D": "Hence E[A_i^RLOO ∇log π(o_i)] = E[R_i ∇log π(o_i)] = ∇J.",
           "E": "Therefore E[A_i^Dr.GRPO ∇log π(o_i)] = (K−1)/K · ∇J: ∇J's direction, shrunk by a constant.",
           "F": "The group mean mean_j R_j is a baseline, so E[mean_j R_j ∇log π(o_i)] = 0."},
    requires={"B": "A", "D": "C", "E": "BD"}, answer="ABCDE",
    why={"B": "B rewrites the Dr. GRPO advantage with the other samples' mean m₋ᵢ: it needs the split of the group "
              "mean into sample i's share and the others' first.",
         "D": "D drops m₋ᵢ from the expectation: that is allowed only once its score term is known to vanish.",
         "E": "E multiplies a known expectation by a known factor: both the identity A^Dr.GRPO = (K−1)/K · A^RLOO "
              "and the expectation of the RLOO term must be in place before it."},
    distractors={"F": "F is false: the group mean contains R_i / K, which depends on o_i itself, so its score term "
                      "does not vanish — E[R_i/K · ∇log π(o_i)] = ∇J / K. That is exactly where the 1/K goes."},
)


# ---------------------------------------------------------------------------------------------------------------
# 7.5 Predict, then measure: PPO's loss while the reward rises.

PREDICT = ChoiceQuestion(
    name="ch07_predict_ppo_loss", chapter=7, title="Predict, then measure: PPO's loss while the reward rises",
    variable="answer_loss", minutes=8, difficulty="medium",
    choices={"A": "it falls as the reward rises, like a supervised loss",
             "B": "it rises with the reward (positively correlated over the updates)",
             "C": "it stays at 0: the advantages are whitened, so the loss has mean 0 on every batch"},
    answer="B",
    explanations={
        "A": "look at the printed correlation and the first and last values: the surrogate is rebuilt on every "
             "batch from fresh, centred advantages, so its value is not J — there is no reason for it to fall.",
        "C": "look at the printed first and last values: the logged loss is not 0 and it changes over training. "
             "Whitening makes the advantages' token mean 0 over the whole batch, so at w_t = 1 the loss on the "
             "whole batch would be 0; but PPO logs the mean over its 8 inner steps, each on a minibatch (half the "
             "batch, whose tokens need not average 0) and, after the first, at ratios that have already moved to "
             "lower the loss — so nothing holds the logged value at 0.",
    },
)

EXERCISES = [SURROGATE, GROUP, KL, PROOF, PREDICT]
