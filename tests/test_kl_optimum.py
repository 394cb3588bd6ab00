"""The KL-regularised objective (chapter 06): exact KL, J_β and its closed-form optimum π* ∝ π_ref e^{R/β}."""
import copy

import pytest
import torch

import pglab as pg
from pglab import exact


@pytest.fixture(scope="module")
def tiny():
    problem = exact.tiny_problem(value_head=None)
    reference = copy.deepcopy(problem.policy)
    pg.train.train(problem.policy, problem.task, config=pg.ReinforceConfig(batch_size=64), steps=20, lr=1e-2, seed=0)
    return problem, reference


def _tabular_maximum(reference, task, prompts, beta, steps=400):
    """max over *any* distribution q(τ|x) of E_q[R] − β KL(q ‖ π_ref), by Adam on one free logit per
    completion — a direct numerical maximisation that knows nothing of the closed form."""
    with torch.no_grad():
        rows = list(exact._enumerated(reference, task, prompts))
    ref_logp, R = torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])     # (P, N)
    logits = ref_logp.clone().requires_grad_(True)                                          # start at π_ref
    optimizer = torch.optim.Adam([logits], lr=0.1)
    for _ in range(steps):
        log_q = torch.log_softmax(logits, -1)
        q = log_q.exp()
        value = ((q * R).sum(1) - beta * (q * (log_q - ref_logp)).sum(1)).mean()
        optimizer.zero_grad()
        (-value).backward()
        optimizer.step()
    return value.item(), torch.log_softmax(logits.detach(), -1)


@pytest.mark.parametrize("beta", [0.05, 0.3])
def test_closed_form_optimum_matches_direct_maximisation(tiny, beta):
    problem, reference = tiny
    optimum = exact.kl_regularised_optimum(reference, problem.task, problem.prompts, beta)
    value, log_q = _tabular_maximum(reference, problem.task, problem.prompts, beta)
    assert value <= optimum.value + 1e-5                                  # nothing beats π*
    assert value == pytest.approx(optimum.value, abs=2e-3)                # and the maximiser finds it
    p_star, q = optimum.log_probs.exp(), log_q.exp()
    assert 0.5 * (p_star - q).abs().sum(1).max().item() < 0.05           # same distribution (total variation)
    assert optimum.value == pytest.approx(optimum.reward - beta * optimum.kl, abs=1e-5)


def test_optimum_interpolates_between_reference_and_argmax(tiny):
    problem, reference = tiny
    with torch.no_grad():
        ref_reward = exact.objective(reference, problem.task, problem.prompts).item()
    wide = exact.kl_regularised_optimum(reference, problem.task, problem.prompts, 100.0)
    narrow = exact.kl_regularised_optimum(reference, problem.task, problem.prompts, 0.01)
    assert wide.kl < 1e-4 and wide.reward == pytest.approx(ref_reward, abs=1e-3)      # β → ∞: π* = π_ref
    assert narrow.reward > 0.999                                                     # β → 0: the best completion
    with pytest.raises(ValueError, match="beta"):
        exact.kl_regularised_optimum(reference, problem.task, problem.prompts, 0.0)


def test_regularised_objective_never_exceeds_the_optimum(tiny):
    problem, reference = tiny
    beta = 0.1
    optimum = exact.kl_regularised_optimum(reference, problem.task, problem.prompts, beta)
    J_ref, reward_ref, kl_ref = exact.regularised_objective(reference, reference, problem.task, problem.prompts, beta)
    assert kl_ref == pytest.approx(0.0, abs=1e-6) and J_ref.item() == pytest.approx(reward_ref, abs=1e-6)
    for seed in range(3):
        policy = pg.make_policy("gru", len(problem.task.vocab), hidden_size=16, embed_size=8, seed=seed + 10)
        J, reward, kl = exact.regularised_objective(policy, reference, problem.task, problem.prompts, beta)
        assert kl > 0 and J.item() == pytest.approx(reward - beta * kl, abs=1e-5)
        assert J.item() < optimum.value
    J, _, _ = exact.regularised_objective(problem.policy, reference, problem.task, problem.prompts, beta)
    J.backward()                                                                       # it has a gradient
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in problem.policy.parameters())
    problem.policy.zero_grad()


def test_exact_kl_is_the_mean_of_the_sampled_penalty(tiny):
    """Eq. (6.2): E_π[Σ_t log π(a_t|s_t) − log π_ref(a_t|s_t)] = KL(π ‖ π_ref) over whole completions."""
    problem, reference = tiny
    kl = exact.kl_divergence(problem.policy, reference, problem.task, problem.prompts)
    assert kl > 0.05
    assert exact.kl_divergence(reference, reference, problem.task, problem.prompts) == pytest.approx(0.0, abs=1e-6)
    prompts = problem.task.sample_prompts(4000, torch.Generator().manual_seed(1))
    ro = pg.sample(problem.policy, prompts, problem.task.max_new_tokens, generator=torch.Generator().manual_seed(2))
    penalty = pg.algos.reinforce.kl_to_reference({"reference": reference}, prompts, ro).sum(1)
    se = penalty.std().item() / len(penalty) ** 0.5
    assert abs(penalty.mean().item() - kl) < 4 * se


def test_mle_fit_callback_sees_every_step_and_can_stop():
    task = pg.make_task("copy", length=3)
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16, embed_size=8)
    prompts = task.sample_prompts(32, torch.Generator().manual_seed(0))
    targets = task.targets(prompts)
    mask = torch.ones_like(targets, dtype=torch.float32)
    seen = []
    losses = pg.mle.fit(policy, prompts, targets, mask, steps=10, batch_size=8,
                        callback=lambda step, loss: seen.append((step, loss)) or step == 3)
    assert len(losses) == 4 and [s for s, _ in seen] == [0, 1, 2, 3] and seen[-1][1] == losses[-1]


def test_reward_kl_points_labels_the_reference_apart_from_trained_policies():
    fig = pg.plots.reward_kl_points({"β = 0.1": (3.0, 0.6), "β = 0.5": (0.1, 0.15)}, reference=(0.0, 0.093),
                                    frontier=([0.0, 1.0, 3.0], [0.09, 0.3, 0.61]), title="t")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["exact optimum π* over β", "trained policies", "reference π_ref (β = ∞)"]
    reference_line = fig.axes[0].get_lines()[-1]
    assert list(reference_line.get_xdata()) == [0.0] and list(reference_line.get_ydata()) == [0.093]
