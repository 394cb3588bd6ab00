"""Exercises for chapter 02 (the policy gradient theorem): the score function of a one-step bandit,
reward-to-go with γ and a mask, a proof question (find the false step in a "proof" that the batch mean adds no
bias), and a prediction about reward-to-go on a sparse reward.

Tensor conventions as in :mod:`pglab.advantages`: ``rewards[i, t]`` is r_t of sample i, ``mask[i, t]``
is 1 on the tokens actually written (up to and including ``<eos>``) and 0 after it.
"""
from __future__ import annotations

import torch

from .choice import ChoiceQuestion
from .function import Case, Exercise, mistake, symptom


# ---------------------------------------------------------------------------------------------------------------
# Reward-to-go with γ and a mask:  G_t = Σ_{k ≥ t} γ^{k−t} m_k r_k,  0 where m_t = 0.

def reward_to_go(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reference: G_t = r_t + γ G_{t+1}, right to left, masked (as :func:`pglab.advantages.reward_to_go`)."""
    G = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = (rewards[:, t] + gamma * running) * mask[:, t]
        G[:, t] = running
    return G


def _ragged_mask(B: int, T: int, g: torch.Generator) -> torch.Tensor:
    """Lengths 1..T; at least one row is cut short (an <eos> before T) when T > 1."""
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    if T > 1:
        lengths[0] = torch.randint(1, T, (1,), generator=g)
    return (torch.arange(T)[None, :] < lengths[:, None]).float()


def _rtg_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    sizes = [(2, 4, 1.0), (3, 5, 0.9), (4, 7, 0.5), (1, 1, 0.8), (3, 1, 0.7),
             (3, 6, float(0.3 + 0.6 * torch.rand(1, generator=g))),
             (3, 5, 0.0),                  # γ = 0: G_t = r_t (0^0 = 1, 0^(negative) = inf)
             (2, 60, 0.1)]                 # long and strongly discounted: γ^59 = 1e-59 underflows in float32
    for B, T, gamma in sizes:
        mask = _ragged_mask(B, T, g)
        rewards = torch.round(torch.rand(B, T, generator=g) * 4) / 4          # quarters: readable by hand
        rewards = rewards * mask + (1 - mask) * torch.round(torch.rand(B, T, generator=g) * 4 + 1)   # junk after <eos>
        out.append(Case(f"B={B}, T={T}, gamma={gamma:.3g}", {"rewards": rewards, "mask": mask, "gamma": gamma}))
    return out


def _non_finite(inputs, got, expected) -> bool:
    got = torch.as_tensor(got)
    return got.is_floating_point() and not bool(torch.isfinite(got).all())


def _rtg_total(rewards, mask, gamma):
    return reward_to_go(rewards, mask, gamma)[:, :1] * mask


def _rtg_so_far(rewards, mask, gamma):
    return (rewards * mask).cumsum(1) * mask


def _rtg_no_mask(rewards, mask, gamma):
    return reward_to_go(rewards, torch.ones_like(mask), gamma)


def _rtg_mask_output_only(rewards, mask, gamma):
    return reward_to_go(rewards, torch.ones_like(mask), gamma) * mask


def _rtg_no_gamma(rewards, mask, gamma):
    return reward_to_go(rewards, mask, 1.0)


def _rtg_excludes_now(rewards, mask, gamma):
    return (reward_to_go(rewards, mask, gamma) - rewards * mask) * mask


def _rtg_gamma_from_start(inputs, got, expected) -> bool:
    """got discounts each reward from the episode's start: Σ_{k≥t} γ^(k+c) r_k or γ^(t+c) G_t, c = 0 or 1."""
    gamma, mask = inputs["gamma"], inputs["mask"]
    if gamma == 1.0:
        return False
    got = torch.as_tensor(got, dtype=torch.float64)
    t = torch.arange(mask.shape[1], dtype=torch.float64)
    r = (inputs["rewards"] * mask).double()
    for c in (0, 1):
        for cand in (expected.double() * gamma ** (t + c),                                  # γ^t G_t
                     (r * gamma ** (t + c)).flip(1).cumsum(1).flip(1) * mask):              # Σ_{k≥t} γ^k r_k
            if got.shape == cand.shape and torch.allclose(got, cand, atol=1e-5, rtol=1e-4):
                return True
    return False


REWARD_TO_GO = Exercise(
    name="ch02_reward_to_go", chapter=2, title="Reward-to-go with a discount and a mask", function="reward_to_go",
    minutes=10, difficulty="medium", reference=reward_to_go, cases=_rtg_cases,
    shape="(B, T)", shape_means="one value per sample (row) and step (column), the shape of the inputs",
    diagnoses=[
        mistake("total_return",
                "your G_t is the same for every t: you used G_1 = R(τ), the whole return, for every token. "
                "Token t may only be credited with the rewards from step t on (Eq. 2.5) — loop right to left: "
                "G_t = r_t + γ G_{t+1}.", _rtg_total),
        mistake("reward_so_far",
                "you summed the rewards *up to* t (reward-so-far, the source article's loop), not *from* t on. "
                "The past rewards were fixed before a_t was chosen; G_t = Σ_{k ≥ t} γ^(k−t) r_k looks forward.",
                _rtg_so_far),
        mistake("no_mask",
                "G_t is not 0 after <eos>, and the rewards there leaked in: multiply by the mask. Positions with "
                "mask 0 are not part of the completion — their rewards must not count and their G_t must be 0.",
                _rtg_no_mask),
        mistake("mask_output_only",
                "you zeroed G_t after <eos>, but the rewards *after* <eos> still flow into G_t of the valid tokens: "
                "mask the rewards (or the running sum) inside the loop, not only the output.", _rtg_mask_output_only),
        mistake("no_gamma",
                "your answer is right for γ = 1 but ignores gamma: each step further away multiplies by γ once more, "
                "G_t = r_t + γ G_{t+1}.", _rtg_no_gamma),
        symptom("gamma_from_start",
                "discounting with γ^t in the wrong place: you discounted from the start of the episode (γ^k or γ^t), "
                "but G_t discounts from step t: the reward k steps later gets γ^(k−t), and r_t itself gets γ^0 = 1.",
                _rtg_gamma_from_start),
        symptom("nan_gamma_power",
                "NaN or inf where γ = 0 or γ^T is tiny: a table γ^(k−t) computes 0^(negative) = inf where k < t "
                "(and inf · 0 = NaN when a triangular mask zeroes it), and dividing a discounted sum by γ^t "
                "divides 0 by 0 once γ^t underflows (γ^59 for γ = 0.1 is below float32's range). Use the "
                "recursion G_t = m_t (r_t + γ G_{t+1}) right to left, or build γ^(k−t) only where k ≥ t.",
                _non_finite, exact=True),
        mistake("excludes_now",
                "your G_t misses r_t itself: the reward-to-go starts *at* t (G_t = r_t + γ G_{t+1}), not after it.",
                _rtg_excludes_now),
    ],
)

# ---------------------------------------------------------------------------------------------------------------
# The score-function estimate for a one-step bandit:  π = softmax(θ),  ∇_θ log π(a) = e_a − π,
# ĝ = (1/N) Σ_i r_i (e_{a_i} − π)   (Eq. 2.1 with a single action per episode)

def bandit_gradient(theta: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    pi = theta.softmax(-1)                                              # π(·), shape (V,)
    onehot = torch.nn.functional.one_hot(actions, theta.shape[0]).to(theta.dtype)   # e_{a_i}, (N, V)
    return (rewards[:, None] * (onehot - pi)).mean(0)                   # (1/N) Σ_i r_i ∇ log π(a_i)


def _bandit_cases(seed: int) -> list[Case]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for V, N in [(3, 4), (4, 8), (5, 6), (2, 1), (6, 10)]:
        theta = torch.randn(V, generator=g)
        actions = torch.multinomial(theta.softmax(-1), N, replacement=True, generator=g)
        rewards = torch.round(torch.rand(N, generator=g) * 8) / 4 - 0.5
        out.append(Case(f"V={V} actions, N={N} samples", {"theta": theta, "actions": actions, "rewards": rewards}))
    return out


def _onehot(actions, V):
    return torch.nn.functional.one_hot(actions, V).double()


BANDIT = Exercise(
    name="ch02_bandit_score", chapter=2, title="The score-function estimate for a one-step bandit",
    function="bandit_gradient", minutes=10, difficulty="medium", reference=bandit_gradient, cases=_bandit_cases,
    shape="(V,)", shape_means="one partial derivative per entry of theta",
    diagnoses=[
        mistake("no_minus_pi",
                "you used e_a (the one-hot of the action) as ∇ log π(a): the softmax's normaliser contributes "
                "−π. ∇_θ log softmax(θ)_a = e_a − π.",
                lambda theta, actions, rewards: (rewards.double()[:, None] * _onehot(actions, len(theta))).mean(0)),
        mistake("grad_pi",
                "you used ∇π(a) = π(a)(e_a − π) instead of ∇ log π(a) = e_a − π: the log-derivative trick "
                "(Eq. 2.1) divides by π(a) — that is what lets us sample.",
                lambda theta, actions, rewards: (rewards.double()[:, None] * theta.double().softmax(-1)[actions][:, None]
                                                 * (_onehot(actions, len(theta)) - theta.double().softmax(-1))).mean(0)),
        mistake("taken_entry_only",
                "you kept only the taken action's entry, e_a (1 − π): ∇_θ log softmax(θ)_a has an entry for "
                "*every* action — 1 − π_a at a, and −π_b for each other b — the whole vector e_a − π.",
                lambda theta, actions, rewards: (rewards.double()[:, None] * _onehot(actions, len(theta))
                                                 * (1 - theta.double().softmax(-1))).mean(0)),
        mistake("sum_not_mean",
                "your estimate is N times too large: ĝ averages over the N samples (1/N Σ_i), it does not sum.",
                lambda theta, actions, rewards: bandit_gradient(theta, actions, rewards) * len(actions)),
        mistake("sign",
                "your estimate points the other way: ĝ estimates +∇J (uphill). A loss for an optimizer would "
                "carry the minus sign, the gradient estimate does not.",
                lambda theta, actions, rewards: -bandit_gradient(theta, actions, rewards)),
        symptom("zero",
                "your gradient is zero: differentiating the rewards themselves gives nothing — R has no θ in it "
                "(chapter 02 §6, ∇E[R] ≠ E[∇R]). Differentiate the log-probabilities: r_i ∇ log π(a_i).",
                lambda inputs, got, expected: bool((torch.as_tensor(got).abs() < 1e-12).all())),
        mistake("mean_reward_baseline",
                "you subtracted the mean reward: that is a baseline (chapter 04) — a different estimator. "
                "This exercise asks for the plain score-function estimate r_i (e_{a_i} − π).",
                lambda theta, actions, rewards: bandit_gradient(theta, actions, rewards - rewards.mean())),
    ],
)


# ---------------------------------------------------------------------------------------------------------------
# Predict, then measure: reward-to-go vs the whole return when the reward is paid at the end

PREDICT_SPARSE = ChoiceQuestion(
    name="ch02_predict_sparse", chapter=2, title="Reward-to-go on a reward paid at the end",
    variable="predict_sparse", minutes=6, difficulty="easy",
    choices={"A": "the variance drops, as it did on dense copy (about 1.5×)",
             "B": "the variance is exactly the same: the two estimators give identical batch gradients",
             "C": "the variance rises: reward-to-go throws information away"},
    answer="B",
    explanations={
        "A": "run the measurement and compare the two variances digit by digit. On copy-sparse r_t = 0 except "
             "on the last token — what is G_t = Σ_{k≥t} r_k then, for every t?",
        "C": "run the measurement. Reward-to-go only drops rewards earned *before* t; with a reward paid at the "
             "end, is there any?",
    },
)


# ---------------------------------------------------------------------------------------------------------------
# A proof question: find the false step in a "proof" that the batch-mean baseline adds no bias (chapter 02 §5
# says it shrinks the mean gradient to about (1 − 1/B)∇J). Every wrong letter is a true step; its hint says why
# that step holds and where to look, without naming the false one.

PROOF_FALSE_STEP = ChoiceQuestion(
    name="ch02_proof_false_step", chapter=2, title="Proof question: the false step", variable="answer_false_step",
    minutes=6, difficulty="medium",
    choices={"A": "step A, linearity of expectation",
             "B": "step B, factorising over the other, independent samples",
             "C": "step C, the expected score is zero",
             "D": "step D, R(τ_i) taken out of the expectation because it has no θ in it",
             "E": "step E, adding up the terms"},
    answer="D", measured=False,
    reconsider="reread the box of chapter 02 (steps 1 and 3) and §5, and reconsider",
    wrong_means="is a true step",
    explanations={
        "A": "the expectation of a sum is the sum of the expectations, whether or not the terms are independent: "
             "the average of the returns over the batch can be split term by term. Which step treats two "
             "quantities as independent when they are not?",
        "B": "the completions are sampled independently, so for j ≠ i the return R(τ_j) and the score of τ_i are "
             "independent, and the mean of a product of independent variables is the product of their means. "
             "Which pair of quantities in the proof is *not* independent?",
        "C": "this is the lemma, Eq. (2.4), summed over a whole completion: Σ_τ p_θ ∇log p_θ = Σ_τ ∇p_θ = "
             "∇ Σ_τ p_θ = ∇1 = 0, for every θ. The flaw is in a step that uses this zero where it does not apply.",
        "E": "adding zeros gives zero: if every earlier step held, this would follow. One earlier step claims a "
             "factorisation it has no right to — compare it with Eq. (2.1): what is E[R(τ) ∇log p_θ(τ)]?",
    },
)

EXERCISES = [BANDIT, REWARD_TO_GO, PREDICT_SPARSE, PROOF_FALSE_STEP]
