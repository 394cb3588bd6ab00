import pytest
import torch

import pglab as pg
from pglab import exact
from pglab.vocab import EOS_ID, PAD_ID
from tests.conftest import POLICY_KINDS


def test_enumeration_counts_and_validity():
    ids, mask = exact.enumerate_completions(4, 3)
    assert len(ids) == 1 + 3 + 9 + 27                    # EOS at step 1, 2, 3, or none
    assert len({tuple(r) for r in ids.tolist()}) == len(ids)
    for row, m in zip(ids.tolist(), mask.tolist()):
        n = int(sum(m))
        assert EOS_ID not in row[: n - 1] and all(t == PAD_ID for t in row[n:])
        assert row[n - 1] == EOS_ID or n == 3


def test_enumeration_refuses_past_the_documented_limit():
    with pytest.raises(ValueError, match=r"\|V\|\^T = 8\^7 = 2,097,152 sequences exceeds the limit MAX_SEQUENCES"):
        exact.enumerate_completions(8, 7)


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_probabilities_sum_to_one(kind):
    task = pg.make_task("copy", length=3)
    policy = pg.make_policy(kind, len(task.vocab), hidden_size=16, embed_size=8)
    prompt = task.sample_prompts(1, torch.Generator().manual_seed(0))
    assert exact.total_probability(policy, task, prompt[0]) == pytest.approx(1.0, abs=1e-5)


def test_exact_gradient_matches_finite_differences():
    task = pg.make_task("copy", length=2)
    prompts = task.sample_prompts(2, torch.Generator().manual_seed(0))
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=8, embed_size=4).double()
    params = policy.actor_parameters()
    J, g = exact.gradient(policy, task, prompts, params=params)
    direction = torch.randn(g.numel(), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    eps = 1e-5

    def shifted(sign):
        offset = 0
        with torch.no_grad():
            for p in params.values():
                p += sign * eps * direction[offset: offset + p.numel()].view_as(p)
                offset += p.numel()
        return exact.objective(policy, task, prompts).item()

    plus, minus = shifted(+1), shifted(-2)
    shifted(+1)
    assert (plus - minus) / (2 * eps) == pytest.approx(float(g @ direction), rel=1e-5)


def test_exact_objective_agrees_with_monte_carlo():
    task = pg.make_task("copy", length=3)
    prompts = task.sample_prompts(2, torch.Generator().manual_seed(0))
    fixed = pg.tasks.FixedPrompts(task, prompts)
    policy = pg.make_policy("lstm", len(task.vocab), hidden_size=16, embed_size=8)
    J = exact.objective(policy, fixed, prompts).item()
    gen = torch.Generator().manual_seed(3)
    p = fixed.sample_prompts(20000, gen)
    ro = pg.sample(policy, p, task.max_new_tokens, generator=gen)
    R = fixed.reward(p, ro.completion_ids, ro.mask).sum(1)
    assert abs(R.mean().item() - J) < 4 * R.std().item() / 20000 ** 0.5


def test_discounting_without_gamma_t_is_not_the_gradient_of_j_gamma():
    # Independent routes: exact.gradient differentiates J_γ = Σ_τ p(τ) Σ_t γ^t r_t; expected_estimate
    # sums p(τ) Σ_t w_t ∇log π(a_t|s_t) over the enumeration. Nota & Thomas (2020): only w_t = γ^t G_t matches.
    problem = exact.tiny_problem(value_head=None)
    policy, task, prompts = problem.policy.double(), problem.task, problem.prompts
    gamma = 0.5
    _, grad_j_gamma = exact.gradient(policy, task, prompts, gamma)
    with_gamma_t = exact.expected_estimate(policy, task, prompts, "discounted_reward_to_go", gamma)
    without = exact.expected_estimate(policy, task, prompts, "reward_to_go", gamma)
    assert (with_gamma_t - grad_j_gamma).norm() < 1e-8 * grad_j_gamma.norm().clamp_min(1.0)
    assert (without - grad_j_gamma).norm() > 0.3 * grad_j_gamma.norm()
    _, grad_j = exact.gradient(policy, task, prompts, 1.0)
    assert (without - grad_j).norm() > 0.3 * grad_j.norm()
    # and at γ = 1 every form is the exact ∇J
    assert (exact.expected_estimate(policy, task, prompts, "reward_to_go", 1.0) - grad_j).norm() < 1e-8


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_objective_skips_unrewarded_completions_without_changing_j_or_its_gradient(gamma):
    """J sums p_θ(τ) R(τ) over the τ with R ≠ 0 only (about half of the tiny copy problem's): same value and
    gradient as the sum over every enumerated τ; a task that pays nothing still gives J = 0 with a zero gradient."""
    tiny = exact.tiny_problem(value_head=None)
    rows = list(exact._enumerated(tiny.policy, tiny.task, tiny.prompts, gamma))
    assert any((R == 0).any() for _, R in rows)                              # there is something to skip
    full = sum((lp.exp() * R).sum() for lp, R in rows) / len(tiny.prompts)    # every τ, as before
    fast = exact.objective(tiny.policy, tiny.task, tiny.prompts, gamma)
    params = tiny.policy.actor_parameters()
    assert fast.item() == pytest.approx(full.item(), rel=1e-5)
    g_fast, g_full = pg.gradients.flat_grad(fast, params), pg.gradients.flat_grad(full, params)
    assert (g_fast - g_full).norm() <= 1e-5 * g_full.norm()

    class PaysNothing:
        max_new_tokens = tiny.task.max_new_tokens

        def reward(self, prompt_ids, completion_ids, mask):
            return torch.zeros(mask.shape)

    J, grad = exact.gradient(tiny.policy, PaysNothing(), tiny.prompts)
    assert J == 0.0 and grad.abs().max() == 0.0
