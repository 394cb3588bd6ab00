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


@pytest.mark.parametrize("estimator", [
    G.Estimator(returns="gae", gae_lambda=1.0),             # G_t − V(s_t)
    G.Estimator(returns="nstep", n_steps=4),                # n ≥ T: nothing left to bootstrap from
    G.Estimator(returns="discounted_reward_to_go", gamma=1.0),
])
def test_critic_free_advantages_are_unbiased_whatever_the_critic(tiny, estimator):
    assert max_z(tiny, estimator) < G.bonferroni_threshold(len(tiny[3]), ALPHA)


@pytest.mark.parametrize("n, lam", [(1, 0.0), (4, 1.0), (9, 1.0)])
def test_nstep_advantage_matches_gae_at_its_ends(tiny, n, lam):
    """n = 1 is the one-step TD error (GAE λ = 0); n ≥ T (= 4 here) is G_t − V(s_t) (GAE λ = 1):
    two different code paths (nstep_returns and gae) on the same samples."""
    task, policy, _, _ = tiny
    size = dict(batch_size=8, n_batches=3, seed=5)
    nstep = G.batch_gradients(policy, task, G.Estimator(returns="nstep", n_steps=n), **size)
    lam_g = G.batch_gradients(policy, task, G.Estimator(returns="gae", gae_lambda=lam), **size)
    assert torch.allclose(nstep, lam_g, atol=1e-6)
    assert nstep.abs().max() > 1e-3                          # not trivially zero


def test_nstep_weights_are_the_bootstrapped_return_minus_the_value():
    problem = exact.tiny_problem()
    est = G.Estimator(returns="nstep", n_steps=2)
    gen = torch.Generator().manual_seed(1)
    _, completions, weights = G.sample_weights(est, problem.policy, problem.task, 6, gen, {})
    ro_gen = torch.Generator().manual_seed(1)                # the same draws, by hand
    prompts = problem.task.sample_prompts(6, ro_gen)
    ro = pg.rollout.sample(problem.policy, prompts, problem.task.max_new_tokens, generator=ro_gen)
    r = problem.task.reward(prompts, ro.completion_ids, ro.mask) * ro.mask
    v = ro.values * ro.mask
    T = r.shape[1]
    expected = torch.zeros_like(r)
    for t in range(T):                                       # G_t^(2) − V(s_t) = r_t + r_{t+1} + V(s_{t+2}) − V(s_t)
        expected[:, t] = sum(r[:, k] for k in range(t, min(t + 2, T))) + (v[:, t + 2] if t + 2 < T else 0) - v[:, t]
    assert torch.equal(completions, ro.completion_ids)
    assert torch.allclose(weights, expected * ro.mask, atol=1e-6)


def test_discounted_estimators_against_the_exact_discounted_gradient(tiny):
    """Eq. 5.6: Σ_t γ^t ∇log π G_t is ∇J_γ exactly; without γ^t it is neither ∇J_γ nor ∇J."""
    problem = exact.tiny_problem()
    gamma = 0.5
    _, grad_J = problem.gradient()
    _, grad_Jg = problem.gradient(gamma)
    with_gt = exact.expected_estimate(problem.policy, problem.task, problem.prompts, "discounted_reward_to_go", gamma)
    without = exact.expected_estimate(problem.policy, problem.task, problem.prompts, "reward_to_go", gamma)
    assert (with_gt - grad_Jg).norm() < 1e-6 * grad_Jg.norm().clamp_min(1.0)
    assert (without - grad_Jg).norm() > 0.5 * grad_Jg.norm()
    assert (without - grad_J).norm() > 0.2 * grad_J.norm()


def test_exact_values_are_conditional_expectations_of_the_return():
    problem = exact.tiny_problem()
    v_true, v_critic, w = G.exact_values(problem.policy, problem.task, problem.prompts)
    J, _ = problem.gradient()
    assert (w[:, 0] * v_true[:, 0]).sum().item() == pytest.approx(J, rel=1e-5)     # E[V(s_1)] = J
    ids, mask = exact.enumerate_completions(problem.policy.vocab_size, problem.task.max_new_tokens)
    G_all = torch.cat([pg.advantages.reward_to_go(problem.task.reward(x.expand(len(ids), -1), ids, mask), mask)
                       for x in problem.prompts])
    for t in range(ids.shape[1]):                            # tower rule: E[V(s_t)] = E[G_t] at every t
        assert (w[:, t] * v_true[:, t]).sum().item() == pytest.approx((w[:, t] * G_all[:, t]).sum().item(), rel=1e-5)
    T, V = ids.shape[1], problem.policy.vocab_size           # one last state by hand: V(s_T) = Σ_a π(a|s_T) r_T(a)
    x, prefix = problem.prompts[1], ids[-1, :T - 1]          # a prefix of T − 1 non-EOS tokens
    conts = torch.cat([prefix.expand(V, -1), torch.arange(V)[:, None]], 1)
    r_last = problem.task.reward(x.expand(V, -1), conts, torch.ones(V, T))[:, -1]
    with torch.no_grad():
        pi = torch.softmax(problem.policy(torch.cat([x, prefix])[None])[0, -1], -1)
    row = len(ids) + int(torch.nonzero((ids[:, :T - 1] == prefix).all(1))[0, 0])      # second prompt's block
    assert v_true[row, T - 1].item() == pytest.approx((pi * r_last).sum().item(), rel=1e-5)
    assert torch.all(w >= 0) and v_critic.shape == v_true.shape
    assert G.critic_explained_variance(problem.policy, problem.task, problem.prompts) < 0   # a random critic


@pytest.mark.parametrize("estimator", [
    "article",                                              # reward so far, not reward to go
    G.Estimator(gamma=0.5),                                 # discounted, against the undiscounted J
    G.Estimator(returns="gae", gae_lambda=0.5),             # bootstrapping from an untrained critic
    G.Estimator(returns="nstep", n_steps=2),                # the same, by the n-step return
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
    problem = exact.tiny_problem()                 # the fitted critic tracks the exact V^π, the random one does not
    assert G.critic_explained_variance(trained, task, problem.prompts) > 0.3


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


@pytest.mark.parametrize("estimator", ["batch_mean", "moving_average", "a2c", "leave_one_out",
                                       G.Estimator(returns="nstep", n_steps=2), G.Estimator(returns="gae", gae_lambda=0.5)])
def test_samples_drawn_once_give_the_numbers_of_a_fresh_draw(tiny, estimator):
    """draw_samples + batch_gradients(samples=...) is what chapter 05 uses to weigh the same completions
    for many estimators: every number must equal a fresh batch_gradients call with the same seed."""
    task, policy, _, _ = tiny
    group_size = G.ESTIMATORS[estimator].group_size if isinstance(estimator, str) else estimator.group_size
    samples = G.draw_samples(policy, task, batch_size=8, n_batches=5, seed=3, group_size=group_size)
    fresh = G.batch_gradients(policy, task, estimator, batch_size=8, n_batches=5, seed=3)
    assert torch.equal(G.batch_gradients(policy, task, estimator, samples=samples), fresh)


def test_samples_refuse_another_policy_or_group_size(tiny):
    task, policy, _, _ = tiny
    samples = G.draw_samples(policy, task, batch_size=8, n_batches=2)
    with pytest.raises(ValueError, match="another policy"):
        G.batch_gradients(exact.tiny_problem().policy, task, "reward_to_go", samples=samples)
    with pytest.raises(ValueError, match="group_size=1"):
        G.batch_gradients(policy, task, "leave_one_out", samples=samples)
    with pytest.raises(ValueError, match="draw_samples"):
        G.batch_gradients(policy, task, "reward_to_go", samples=[1, 2])


def test_bootstrap_standard_errors_equal_a_loop_over_resamples():
    """report computes all resamples with two matrix products; a plain loop over the same resamples must agree."""
    g = torch.randn(40, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.1 + 0.05
    exact = torch.full((30,), 0.04, dtype=torch.float64)
    r = G.report("x", g, exact, n_boot=50, seed=2)
    gen = torch.Generator().manual_seed(2)
    rows = []
    for _ in range(50):
        s = g[torch.randint(40, (40,), generator=gen)]
        mean, variance = s.mean(0), s.var(0).sum()
        rows.append([(mean - exact).norm(), variance, (mean.pow(2).sum() - variance / 40).clamp_min(0) / variance])
    se = torch.tensor(rows, dtype=torch.float64).std(0)
    assert torch.allclose(torch.tensor([r.bias_se, r.variance_se, r.snr_se], dtype=torch.float64), se, rtol=1e-9)
    assert se.min() > 0


def test_bias_estimate_subtracts_the_noise_floor():
    r = G.GradientReport("x", bias=0.5, bias_se=0.0, noise_floor=0.3, variance=0.0, variance_se=0.0, snr=0.0,
                         snr_se=0.0, cosine=0.0, cosine_se=0.0, n_batches=1)
    assert G.bias_estimate(r) == pytest.approx(0.4)
    r.bias = 0.2                                          # below the floor: no bias detectable
    assert G.bias_estimate(r) == 0.0


def test_paired_difference_by_loop():
    gen = torch.Generator().manual_seed(0)
    a, noise = torch.randn(50, 6, generator=gen), torch.randn(50, 6, generator=gen)
    b, exact = a + 0.1 * noise, torch.randn(6, generator=gen)
    a, b, exact = a.double(), b.double(), exact.double()       # the loop below must not add float32 rounding
    (d_var, se_var), (d_cos, se_cos) = G.paired_difference(a, b, exact)
    def stats(g):
        m = [sum(g[j, k] for j in range(50)) / 50 for k in range(6)]
        var = [float(sum((g[j, k] - m[k]) ** 2 for k in range(6))) * 50 / 49 for j in range(50)]
        cos = [float(g[j] @ exact / (g[j].norm() * exact.norm())) for j in range(50)]
        return var, cos
    (va, ca), (vb, cb) = stats(a), stats(b)
    dv, dc = [x - y for x, y in zip(va, vb)], [x - y for x, y in zip(ca, cb)]
    assert d_var == pytest.approx(sum(dv) / 50, rel=1e-5) and d_cos == pytest.approx(sum(dc) / 50, rel=1e-5)
    assert se_cos == pytest.approx(torch.tensor(dc).std().item() / 50 ** 0.5, rel=1e-4)
    assert d_var == pytest.approx((a.var(0).sum() - b.var(0).sum()).item(), rel=1e-5)   # mean of terms is tr Cov
    with pytest.raises(ValueError):
        G.paired_difference(a, b[:10], exact)


@pytest.mark.parametrize("dof, expected", [(1, 12.7062), (4, 2.7764), (9, 2.2622), (30, 2.0423)])
def test_t_quantile_matches_tables(dof, expected):
    assert G.t_quantile(0.975, dof) == pytest.approx(expected, abs=2e-3)


def test_mean_interval():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    mean, low, high = G.mean_interval(x)
    half = 2.7764 * x.std().item() / 5 ** 0.5
    assert mean == 3.0 and low == pytest.approx(3 - half, abs=1e-3) and high == pytest.approx(3 + half, abs=1e-3)


def test_jacobian_asymmetry_zero_for_a_gradient_field_only():
    w = torch.nn.Parameter(torch.tensor([0.3, -0.7], dtype=torch.float64))
    params = {"w": w}
    u, v = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)
    gradient_field = lambda: torch.stack([2 * w[0] * w[1], w[0] ** 2 + 3 * w[1] ** 2]).detach()   # ∇(x²y + y³)
    rotation = lambda: torch.stack([-w[1], w[0]]).detach()                                  # curl ≠ 0
    a, b = G.jacobian_asymmetry(gradient_field, params, u, v)
    assert a == pytest.approx(b, abs=1e-6)
    a, b = G.jacobian_asymmetry(rotation, params, u, v)
    assert a == pytest.approx(-1.0) and b == pytest.approx(1.0)
    assert w.tolist() == [0.3, -0.7]                                                        # restored
