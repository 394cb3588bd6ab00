"""Exercises for chapter 04 (baselines and variance): a leave-one-out baseline per group of K, the
batch-mean baseline per step, which baselines keep the estimator unbiased, a prediction about
the variance of a bad (but unbiased) baseline, and a proof with one false step (the group mean as a
baseline, which gives (K−1)/K ∇J).

Tensor conventions as in :mod:`pglab.advantages`: ``returns[i, t]`` is G_t of sample i (γ = 1 in
chapters 01–04), ``mask[i, t]`` is 1 on the tokens actually written (up to and including ``<eos>``)
and 0 after it; rows come in groups of ``group_size`` consecutive samples of the same prompt.
"""
from __future__ import annotations

import torch

from .choice import ChoiceQuestion
from .function import Case, Exercise, mistake, symptom
from .masks import _mask

BT = dict(shape="(B, T)", shape_means="one value per sample (row) and step (column), the shape of the inputs")
"""The output's shape, named in core's built-in hint for an output of the wrong shape."""


def _returns(mask: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Quarter-valued returns on the valid tokens (readable by hand), junk (2..6) after <eos>."""
    G = torch.round(torch.rand(mask.shape, generator=g) * 8) / 4
    return G * mask + (1 - mask) * torch.round(torch.rand(mask.shape, generator=g) * 4 + 2)


# ---------------------------------------------------------------------------------------------------------------
# 4.1 Leave-one-out (RLOO):  A_{i,t} = G_{i,t} − mean of G_{j,t} over the other samples j ≠ i of the same
# prompt that are still running at step t (0 when none is); 0 after <eos>.

def leave_one_out(returns: torch.Tensor, mask: torch.Tensor, group_size: int) -> torch.Tensor:
    """Reference (as :func:`pglab.advantages.leave_one_out`): each row minus the mean of the *other* running rows."""
    B, T = returns.shape
    G = (returns * mask).view(B // group_size, group_size, T)
    m = mask.view(B // group_size, group_size, T)
    others_sum = G.sum(1, keepdim=True) - G                        # Σ_{j≠i} G_{j,t}
    others_n = m.sum(1, keepdim=True) - m                          # how many j ≠ i are running at t
    b = others_sum / others_n.clamp_min(1.0)
    return ((G - b) * m).view(B, T)


def _loo_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for K, n_groups, T in [(2, 1, 3), (3, 2, 4), (4, 1, 5), (4, 2, 3), (8, 1, 4)]:
        lengths = torch.randint(1, T + 1, (K * n_groups,), generator=g).tolist()
        lengths[0], lengths[1] = T, int(torch.randint(1, T, (1,), generator=g))   # group 0: one row runs alone at T
        for i in range(2, K):
            lengths[i] = min(lengths[i], T - 1)
        mask = _mask(lengths, T)
        returns = _returns(mask, g)
        out.append(Case(f"B={K * n_groups}, T={T}, group_size={K}", {"returns": returns, "mask": mask, "group_size": K}))
    return out


def _loo_group_mean(returns, mask, group_size):                  # the sample itself in the mean (GRPO's centre)
    B, T = returns.shape
    G = (returns * mask).view(B // group_size, group_size, T)
    m = mask.view(B // group_size, group_size, T)
    b = G.sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1.0)
    return ((G - b) * m).view(B, T)


def _loo_group_mean_all(returns, mask, group_size):              # ... and over all K rows, ended or not
    B, T = returns.shape
    G = (returns * mask).view(B // group_size, group_size, T)
    return ((G - G.mean(1, keepdim=True)) * mask.view_as(G)).view(B, T)


def _includes_self(inputs, got, expected) -> bool:
    return any(torch.allclose(torch.as_tensor(got, dtype=torch.float64), f(**inputs).double(), atol=1e-5, rtol=1e-4)
               for f in (_loo_group_mean, _loo_group_mean_all))


def _loo_divide_by_k(returns, mask, group_size):
    B, T = returns.shape
    G = (returns * mask).view(B // group_size, group_size, T)
    b = (G.sum(1, keepdim=True) - G) / group_size
    return ((G - b) * mask.view_as(G)).view(B, T)


def _loo_fixed_count(returns, mask, group_size):                 # K − 1 others even after some have ended
    B, T = returns.shape
    G = (returns * mask).view(B // group_size, group_size, T)
    b = (G.sum(1, keepdim=True) - G) / (group_size - 1)
    return ((G - b) * mask.view_as(G)).view(B, T)


def _loo_no_mask(returns, mask, group_size):                     # junk returns after <eos> in the others' sum
    return leave_one_out(returns, torch.ones_like(mask), group_size) * mask


def _loo_strided(returns, mask, group_size):                     # groups = rows i, i + B/K, i + 2B/K, ...
    B, T = returns.shape
    perm = torch.arange(B).view(group_size, B // group_size).t().reshape(-1)
    out = torch.empty_like(returns)
    out[perm] = leave_one_out(returns[perm], mask[perm], group_size)
    return out


def _loo_batch_wide(returns, mask, group_size):                  # the other samples of the whole batch
    return leave_one_out(returns, mask, returns.shape[0])


def _loo_zero_alone(returns, mask, group_size):                  # b = G_i itself when no other sample runs
    B, T = returns.shape
    G = (returns * mask).view(B // group_size, group_size, T)
    m = mask.view(B // group_size, group_size, T)
    others_sum, others_n = G.sum(1, keepdim=True) - G, m.sum(1, keepdim=True) - m
    b = torch.where(others_n > 0, others_sum / others_n.clamp_min(1.0), G)
    return ((G - b) * m).view(B, T)


def _loo_nan_alone(inputs, got, expected) -> bool:
    got = torch.as_tensor(got, dtype=torch.float64)
    return got.shape == expected.shape and not torch.isfinite(got).all()


LEAVE_ONE_OUT = Exercise(
    name="ch04_leave_one_out", chapter=4, title="A leave-one-out baseline per group of K", function="leave_one_out",
    minutes=15, difficulty="medium", reference=leave_one_out, cases=_loo_cases,
    diagnoses=[
        symptom("includes_self",
                "your baseline includes the sample itself: you subtracted the group mean (GRPO's centre), not the "
                "mean of the *other* K − 1 samples. Including G_i correlates the baseline with sample i's own "
                "actions: the advantage shrinks by (1 − 1/K) and the estimator is biased (chapter 04 §4). Subtract "
                "G_i from the group's sum before averaging.", _includes_self, exact=True),
        mistake("divide_by_k",
                "you summed the other samples but divided by K: there are only K − 1 others (fewer at steps where "
                "some have already ended). Divide by how many *other* samples are still running at step t.",
                _loo_divide_by_k),
        mistake("fixed_count",
                "right when every completion runs to the end, wrong after an <eos>: you divided by K − 1 at every "
                "step, but a sample that has ended has no G_t. Count the others still running at step t "
                "(the mask, summed over the group, minus your own mask).", _loo_fixed_count),
        mistake("no_mask",
                "the returns after <eos> leaked into the other samples' sum: they are junk, not zeros. Multiply "
                "the returns by the mask before summing over the group.", _loo_no_mask),
        mistake("strided_groups",
                "you grouped the wrong rows: a group is K *consecutive* rows (rows 0..K−1 share a prompt, then "
                "K..2K−1, …), i.e. returns.view(B // K, K, T), not view(K, B // K, T).", _loo_strided),
        mistake("batch_wide",
                "you left the sample out of the whole batch, not of its group: the baseline must come from the "
                "other samples of the *same prompt* (its group of K consecutive rows).", _loo_batch_wide),
        symptom("nan_alone",
                "NaN where a sample is the only one of its group still running: there is no other sample to "
                "average, 0 / 0. Then the baseline is 0 (divide by max(count, 1)).", _loo_nan_alone),
        mistake("zero_alone",
                "where a sample is the only one of its group still running, your advantage is 0: you used its "
                "own G_i as the baseline there. With no other sample to average, the leave-one-out baseline is "
                "0 and A_{i,t} = G_{i,t} — using G_i itself would correlate the baseline with sample i's actions "
                "(bias, chapter 04 §4) and throw away the learning signal of the longest completion.",
                _loo_zero_alone),
    ],
    **BT,
)


# ---------------------------------------------------------------------------------------------------------------
# 4.2 Batch-mean baseline, per step:  A_{i,t} = G_{i,t} − b_t,  b_t = mean of G_{j,t} over the n_t samples of
# the batch still running at step t (sample i included); 0 after <eos>.

def batch_mean_advantage(returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Reference (as :func:`pglab.advantages.batch_mean`): per step t, minus the mean over the running rows."""
    G = returns * mask
    b = G.sum(0) / mask.sum(0).clamp_min(1.0)                      # (T,) b_t over the n_t running rows
    return (G - b) * mask


def _bm_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for B, T in [(2, 3), (3, 4), (5, 5), (4, 1), (6, 6)]:
        lengths = torch.randint(1, T + 1, (B,), generator=g).tolist()
        lengths[0] = T
        if T > 1:
            lengths[1] = int(torch.randint(1, T, (1,), generator=g))
        mask = _mask(lengths, T)
        out.append(Case(f"B={B}, T={T}", {"returns": _returns(mask, g), "mask": mask}))
    return out


def _bm_scalar(returns, mask):                  # one number for the whole batch
    G = returns * mask
    return (G - G.sum() / mask.sum()) * mask


def _bm_first_step(returns, mask):              # the mean return R(τ) = G_1 subtracted at every step
    G = returns * mask
    return (G - G[:, 0].mean()) * mask


def _bm_divide_by_b(returns, mask):             # ended rows counted as zeros
    G = returns * mask
    return (G - G.mean(0)) * mask


def _bm_per_row(returns, mask):                 # mean over the steps of each row
    G = returns * mask
    return (G - G.sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp_min(1.0)) * mask


def _bm_output_unmasked(returns, mask):
    G = returns * mask
    return G - G.sum(0) / mask.sum(0).clamp_min(1.0)


def _bm_no_mask(returns, mask):                 # the junk after <eos> in the mean
    return (returns - returns.mean(0)) * mask


def _bm_junk_in_sum(returns, mask):             # right count n_t, but the junk after <eos> in the sum
    return (returns * mask - returns.sum(0) / mask.sum(0).clamp_min(1.0)) * mask


BATCH_MEAN = Exercise(
    name="ch04_batch_mean", chapter=4, title="The batch-mean baseline, step by step", function="batch_mean_advantage",
    minutes=8, difficulty="easy", reference=batch_mean_advantage, cases=_bm_cases,
    diagnoses=[
        mistake("one_number",
                "you subtracted one number for the whole batch (the mean of every valid G_t). Chapter 04 defines "
                "the batch mean *per step*: b_t averages G_{j,t} at the same t, over the samples still running.",
                _bm_scalar),
        mistake("sequence_mean",
                "you subtracted the mean sequence return (the mean of G_1 = R(τ)) at every step. The baseline of "
                "step t is the mean of G_t at that step: later steps have smaller returns-to-go.", _bm_first_step),
        mistake("divide_by_b",
                "you averaged over all B rows, counting the samples that already ended as G_t = 0. The mean is over "
                "the n_t samples still running at step t: divide by mask.sum(0).", _bm_divide_by_b),
        mistake("per_row",
                "you averaged along the wrong axis: over the steps of each row (dim=1), not over the batch at each "
                "step (dim=0).", _bm_per_row),
        mistake("output_unmasked",
                "the advantage is not 0 after <eos>: multiply the result by the mask (those positions are not "
                "part of any completion).", _bm_output_unmasked),
        mistake("no_mask",
                "the returns after <eos> are junk and went into the mean: mask them out before averaging.",
                _bm_no_mask),
        mistake("junk_in_sum",
                "you divided by the right count n_t, but the sum above it still holds the junk returns of the "
                "samples that already ended: mask the returns *before* summing over the batch, "
                "b_t = Σ_i G_{i,t} m_{i,t} / n_t.", _bm_junk_in_sum),
    ],
    **BT,
)


# ---------------------------------------------------------------------------------------------------------------
# 4.3 Which baseline makes the estimator biased?  A question answered by reasoning from Eq. 4.1, not by a
# measurement: its feedback on a wrong letter must not send the student to "the measurement".

UNBIASED = ChoiceQuestion(
    name="ch04_which_biased", chapter=4, title="Which baseline adds bias?", variable="answer_biased",
    minutes=5, difficulty="easy",
    choices={"A": "an exponential moving average of the mean G_t of *earlier* batches",
             "B": "an untrained critic V_φ(s_t) whose outputs are far from E[G_t | s_t]",
             "C": "a learned Q_φ(s_t, a_t): the critic's estimate of the return after taking the sampled token a_t",
             "D": "G_t of the greedy decode of the same prompt"},
    answer="C", measured=False,
    reconsider="reread Eq. 4.1: when is E[b_t ∇log π(a_t|s_t)] zero?",
    wrong_means="keeps the estimator unbiased",
    explanations={
        "A": "the moving average uses earlier batches only, so it is independent of this batch's actions: "
             "Eq. 4.1 applies. For each choice, imagine resampling the token a_t with everything else fixed: "
             "if b_t could change, b_t cannot be taken out of the expectation over a_t.",
        "B": "a bad baseline raises the variance, but a function of the state s_t alone keeps the estimator "
             "unbiased (Eq. 4.1, checked with the random critic in §1): bias and variance are separate questions. "
             "The proof of Eq. 4.1 needs one step only — taking b_t out of the expectation over a_t; for which "
             "choice does that step fail?",
        "D": "the greedy completion is a function of the prompt and θ, not of the sampled tokens, so its score "
             "term has mean zero (Eq. 4.1) — even though it is built from a decode of its own. Ask of each choice "
             "what it is computed from, and whether that includes anything sampled at step t.",
    },
)


# ---------------------------------------------------------------------------------------------------------------
# 4.4 Predict, then measure: a bad but unbiased baseline.

PREDICT = ChoiceQuestion(
    name="ch04_predict_bad_baseline", chapter=4, title="Predict, then measure: an untrained critic as baseline",
    variable="answer_variance", minutes=8, difficulty="medium",
    choices={"A": "lower than with no baseline: any baseline that adds no bias lowers the variance",
             "B": "about the same: an unbiased baseline leaves the variance unchanged",
             "C": "higher than with no baseline"},
    answer="C",
    explanations={
        "A": "compare with the ratio you measured: unbiased is not the same as useful. The variance of "
             "(G_t − b_t)∇log π grows when b_t is far from E[G_t | s_t] — |G_t − b_t| is then larger than |G_t|.",
        "B": "look at the measured ratio again: it is far from 1. The baseline leaves the *mean* unchanged, "
             "not the spread.",
    },
)


# ---------------------------------------------------------------------------------------------------------------
# 4.5 Choose the false step: a "proof" that the group-mean baseline (the sample included) adds no bias.
# The right proof splits b_i = G_i/K + (1/K) Σ_{j≠i} G_j and gives E ĝ = (1 − 1/K) ∇J (chapter 04 §4).

PROOF = ChoiceQuestion(
    name="ch04_false_step", chapter=4, title="Choose the false step: the group mean as a baseline",
    variable="answer_false_step", minutes=4, difficulty="medium",
    choices={"A": "E[(G_i − b) ∇log p(τ_i)] = E[G_i ∇log p(τ_i)] − E[b ∇log p(τ_i)]",
             "B": "E[G_i ∇log p(τ_i)] = ∇J",
             "C": "b is one number shared by the whole group, so by Eq. 4.1 E[b ∇log p(τ_i)] = E[b] · E[∇log p(τ_i)] = 0",
             "D": "for j ≠ i, E[G_j ∇log p(τ_i)] = E[G_j] · E[∇log p(τ_i)] = 0"},
    answer="C", measured=False,
    reconsider="check the assumption of each step: which one uses an independence that does not hold?",
    wrong_means="is a valid step",
    explanations={
        "A": "linearity of expectation holds for any random variables, dependent or not: this step is sound. "
             "Look for a step that factorises an expectation of a product.",
        "B": "this is the log-derivative trick of chapter 02 applied to sample i alone: sound, because sample i is "
             "drawn from p_θ like any trajectory. Look for a step that factorises an expectation of a product.",
        "D": "sample j is drawn independently of sample i, so G_j and ∇log p(τ_i) are independent and the "
             "expectation of their product factorises; E[∇log p] = 0 by Eq. 2.4. This step is sound — it is "
             "exactly why leave-one-out is unbiased. Now compare it with the step that claims the same for b.",
    },
)

EXERCISES = [LEAVE_ONE_OUT, BATCH_MEAN, UNBIASED, PREDICT, PROOF]
