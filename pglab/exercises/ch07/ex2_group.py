"""Exercise 7.2: RLOO, GRPO and Dr. GRPO advantages from grouped returns (Eqs. 7.5–7.7), with their hints.

The returns ``R`` (B,) come in consecutive groups of K = ``group_size`` rows, one group per prompt:

    RLOO      A_i = R_i − mean_{j≠i} R_j
    GRPO      A_i = (R_i − mean_j R_j) / (std_j R_j + 1e-4),  sample std (K − 1); 0 for a group of equal returns
    Dr. GRPO  A_i = R_i − mean_j R_j

The diagnoses catch RLOO's baseline with the sample itself in it (or the others' sum divided by K), the
population std, ε inside the square root or left out, NaN for a group of equal returns, Dr. GRPO taken for
RLOO or divided by the std, and the groups taken the wrong way (strided instead of consecutive, or the whole
batch as one group).
"""
from __future__ import annotations

import torch

from ...algos import grpo
from ..function import Case, Exercise, mistake, symptom
from .cases import _close


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
