"""Estimators against the exact gradient. Tolerances come from standard errors:
max |z| over k fixed directions is compared with the Bonferroni bound Φ⁻¹(1 − α/2k)."""
import math

import pytest
import torch

import pglab as pg
from pglab import exact
from pglab import gradients as G
from pglab.algos import reinforce
from pglab.algos.a2c import fit_critic
from tests.conftest import POLICY_KINDS

ALPHA = 1e-3
N_BATCHES, BATCH = 300, 16


@pytest.fixture(scope="module")
def tiny():
    """The default tiny problem: copy 3 letters (V = 8, T = 4), two fixed prompts."""
    problem = exact.tiny_problem()
    _, grad_J = problem.gradient()
    directions = torch.cat([grad_J[None] / grad_J.norm(),
                            torch.randn(8, grad_J.numel(), generator=torch.Generator().manual_seed(7))])
    return problem.task, problem.policy, grad_J, directions


def max_z(tiny, estimator, seed=0):
    task, policy, grad_J, directions = tiny
    g = G.batch_gradients(policy, task, estimator, batch_size=BATCH, n_batches=N_BATCHES, seed=seed)
    return G.z_scores(g, grad_J, directions).abs().max().item()


@pytest.mark.parametrize("name", ["reinforce", "reward_to_go", "moving_average", "leave_one_out", "greedy", "value"])
def test_unbiased_estimators_match_the_exact_gradient(tiny, name):
    assert max_z(tiny, name) < G.bonferroni_threshold(len(tiny[3]), ALPHA)


def test_a2c_with_lambda_one_is_unbiased_whatever_the_critic(tiny):
    assert max_z(tiny, G.Estimator(returns="gae", gae_lambda=1.0)) < G.bonferroni_threshold(len(tiny[3]), ALPHA)


@pytest.mark.parametrize("estimator", [
    "article",                                              # reward so far, not reward to go
    G.Estimator(gamma=0.5),                                 # discounted, against the undiscounted J
    G.Estimator(returns="gae", gae_lambda=0.5),             # bootstrapping from an untrained critic
])
def test_biased_estimators_are_measurably_biased(tiny, estimator):
    assert max_z(tiny, estimator) > G.bonferroni_threshold(len(tiny[3]), ALPHA)


def test_report_fields_and_noise_floor(tiny):
    task, policy, grad_J, _ = tiny
    g = G.batch_gradients(policy, task, "reward_to_go", batch_size=BATCH, n_batches=N_BATCHES)
    r = G.report("reward_to_go", g, grad_J)
    assert r.n_batches == N_BATCHES and r.variance > 0 and r.variance_se > 0 and r.bias_se > 0
    assert r.noise_floor == pytest.approx(math.sqrt(r.variance / N_BATCHES))
    assert 0 < r.cosine < 1 and r.cosine_se > 0
    assert "reward_to_go" in G.format_table([r])


def _variance(tiny, name):
    task, policy, grad_J, _ = tiny
    g = G.batch_gradients(policy, task, name, batch_size=BATCH, n_batches=N_BATCHES, seed=1)
    r = G.report(name, g, grad_J)
    return r.variance, r.variance_se


def _clearly_lower(a, b):
    (va, sa), (vb, sb) = a, b
    return vb - va > 3 * math.hypot(sa, sb)


def test_baselines_lower_the_variance(tiny):
    vanilla = _variance(tiny, "reinforce")
    assert _clearly_lower(_variance(tiny, "batch_mean"), vanilla)
    assert _clearly_lower(_variance(tiny, "leave_one_out"), vanilla)


def test_a2c_variance_is_lower_once_its_critic_is_trained(tiny):
    task, policy, grad_J, _ = tiny
    trained = exact.tiny_problem().policy          # the same weights, a critic of its own to train
    losses = fit_critic(trained, task, steps=150, seed=0)
    assert losses[-1] < 0.5 * losses[0]
    g = G.batch_gradients(trained, task, "a2c", batch_size=BATCH, n_batches=N_BATCHES, seed=1)
    a2c = G.report("a2c", g, grad_J)
    assert _clearly_lower((a2c.variance, a2c.variance_se), _variance(tiny, "reinforce"))


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_vmap_per_sample_gradients_equal_the_loop(kind):
    task = pg.make_task("reverse", length=3)
    policy = pg.make_policy(kind, len(task.vocab), hidden_size=16, embed_size=8)
    gen = torch.Generator().manual_seed(0)
    prompts, completions, weights = G.sample_weights(G.ESTIMATORS["batch_mean"], policy, task, 6, gen, {})
    fast = G.per_sample_gradients(policy, prompts, completions, weights, "vmap")
    slow = G.per_sample_gradients(policy, prompts, completions, weights, "loop")
    assert torch.allclose(fast, slow, atol=1e-5)


def test_assembled_batch_gradient_equals_the_training_gradient():
    task = pg.make_task("copy", length=3)
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16, embed_size=8)
    gen = torch.Generator().manual_seed(0)
    prompts, completions, weights = G.sample_weights(G.ESTIMATORS["batch_mean"], policy, task, 8, gen, {})
    assembled = G.per_sample_gradients(policy, prompts, completions, weights).mean(0)
    out = pg.token_logprobs(policy, prompts, completions)
    mask = pg.rollout.completion_mask(completions)
    loss, _ = reinforce.loss(out.logprobs, weights, mask, out.entropy)
    params = policy.actor_parameters()
    grads = torch.autograd.grad(loss, list(params.values()))
    training = -torch.cat([g.flatten() for g in grads])      # the loss is −J's surrogate
    assert torch.allclose(assembled, training, atol=1e-6)


def test_batch_method_equals_per_sample_assembly(tiny):
    task, policy, _, _ = tiny
    a = G.batch_gradients(policy, task, "batch_mean", batch_size=8, n_batches=4, seed=3, method="vmap")
    b = G.batch_gradients(policy, task, "batch_mean", batch_size=8, n_batches=4, seed=3, method="batch")
    assert torch.allclose(a, b, atol=1e-6)
