"""The group family against the exact gradient: RLOO unbiased, Dr. GRPO unbiased for (K−1)/K ∇J,
GRPO biased — in scale and in direction. Advantages and aggregation by hand; the algorithm's step
is the estimator's gradient; validation."""
import copy

import pytest
import torch

import pglab as pg
from pglab import exact
from pglab import gradients as G
from pglab.algos import grpo

ALPHA = 1e-3
K = 8


def test_group_advantages_by_hand():
    R = torch.tensor([1.0, 0, 0, 0, 1, 1, 1, 1, 3, 1, 2, 2])
    rloo = grpo.group_advantages(R, 4, "rloo")
    assert torch.allclose(rloo, torch.tensor([1.0, -1 / 3, -1 / 3, -1 / 3, 0, 0, 0, 0,       # R_i − mean of the others
                                              3 - 5 / 3, 1 - 7 / 3, 2 - 2, 2 - 2]), atol=1e-6)
    dr = grpo.group_advantages(R, 4, "dr_grpo")
    assert torch.allclose(dr, torch.tensor([0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0, 1, -1, 0, 0]), atol=1e-6)
    assert torch.allclose(dr, 3 / 4 * rloo, atol=1e-6)                      # (K−1)/K · RLOO, Eq. 7.7
    g = grpo.group_advantages(R, 4, "grpo")
    s1, s3 = 0.5, (2 / 3) ** 0.5                                          # sample stds of [1,0,0,0] and [3,1,2,2]
    expected = torch.tensor([0.75 / (s1 + 1e-4), *[-0.25 / (s1 + 1e-4)] * 3, 0, 0, 0, 0,
                             1 / (s3 + 1e-4), -1 / (s3 + 1e-4), 0, 0])
    assert torch.allclose(g, expected, atol=1e-5)
    assert torch.equal(g[4:8], torch.zeros(4))                             # equal returns: exactly 0, no NaN
    # the re-weighting: the easy-ish group's lone success gets 1.5, the other group's best only 1.22
    assert g[0] > g[8]



@pytest.mark.parametrize("kind", ["rloo", "grpo", "dr_grpo"])
def test_group_advantages_keep_the_returns_dtype(kind):
    """float64 returns give float64 advantages, exact to float64 (differences of 1e-12 survive); float32 stays
    float32 (issue 19: a float64 policy must not be rounded to float32 anywhere on the way to its loss)."""
    R64 = torch.tensor([1.0, 1.0 + 1e-12, 1.0, 1.0], dtype=torch.float64)
    A64 = grpo.group_advantages(R64, 4, kind)
    assert A64.dtype == torch.float64
    assert A64[1] > 0 and (A64[[0, 2, 3]] < 0).all()                      # float32 would round every R to 1.0
    assert grpo.group_advantages(R64.float(), 4, kind).dtype == torch.float32
    assert callable(pg.algos.grpo.group_advantages)                       # the name chapter 07 imports


def test_aggregation_by_hand():
    mask = torch.tensor([[1.0, 0, 0], [1, 1, 1]])
    ones = torch.ones(2, 3)
    assert grpo.aggregate(ones, mask, "sequence_sum").item() == pytest.approx(2.0)     # (1 + 3) / 2
    assert grpo.aggregate(ones, mask, "token_mean").item() == pytest.approx(1.0)       # 4 tokens / 4
    assert grpo.aggregate(ones, mask, "sequence_mean").item() == pytest.approx(1.0)    # (1/1 + 3/3) / 2
    x = torch.tensor([[2.0, 9, 9], [1, 2, 3]])
    assert grpo.aggregate(x, mask, "sequence_mean").item() == pytest.approx((2 + 6 / 3) / 2)
    assert grpo.aggregate(x, mask, "token_mean").item() == pytest.approx(8 / 4)
    assert grpo.aggregate(x, mask, "sequence_sum").item() == pytest.approx(8 / 2)


@pytest.mark.parametrize("algo", ["rloo", "grpo", "dr_grpo"])
def test_one_step_is_the_estimators_gradient(algo):
    """grpo.step (loss, autograd, one backward) against gradients.batch_gradients (per-sample vmap) on the same draw."""
    problem = exact.tiny_problem()
    config_cls = pg.algos.ALGOS[algo][0]
    policy = copy.deepcopy(problem.policy)
    opt = torch.optim.SGD(policy.parameters(), lr=0.0)
    grpo.step(policy, opt, problem.task, config_cls(batch_size=16, max_grad_norm=None),
              torch.Generator().manual_seed(4), {})
    step_grad = torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros(p.numel())
                           for p in policy.actor_parameters().values()])
    est = G.batch_gradients(problem.policy, problem.task, algo, batch_size=16, n_batches=2, seed=4)[0]
    assert torch.allclose(-step_grad, est, rtol=1e-4, atol=1e-6)            # the loss is −Ĵ: descent = −ascent
    assert est.norm() > 1e-4


@pytest.fixture(scope="module")
def tiny():
    problem = exact.tiny_problem()
    _, grad_J = problem.gradient()
    unit = grad_J / grad_J.norm()
    rand = torch.randn(8, grad_J.numel(), generator=torch.Generator().manual_seed(7))
    orth = rand - (rand @ unit)[:, None] * unit[None]                       # directions ⊥ ∇J
    return problem, grad_J, torch.cat([unit[None], rand]), orth


_CACHE: dict = {}


def _grads(tiny, est):
    """300 batch gradients (B = 16, two groups of K = 8) of ``est`` at the tiny problem's policy (cached)."""
    if est not in _CACHE:
        problem = tiny[0]
        _CACHE[est] = G.batch_gradients(problem.policy, problem.task, est, batch_size=16, n_batches=300, seed=0)
    return _CACHE[est]


def test_rloo_is_unbiased(tiny):
    _, grad_J, dirs, orth = tiny
    g = _grads(tiny, G.ESTIMATORS["rloo"])
    assert G.z_scores(g, grad_J, dirs).abs().max() < G.bonferroni_threshold(len(dirs), ALPHA)


def test_dr_grpo_is_unbiased_for_the_shrunk_gradient(tiny):
    """E[ĝ] = (K−1)/K ∇J: the true direction (no component ⊥ ∇J), a constant scale."""
    _, grad_J, dirs, orth = tiny
    g = _grads(tiny, G.ESTIMATORS["dr_grpo"])
    assert G.z_scores(g, (K - 1) / K * grad_J, dirs).abs().max() < G.bonferroni_threshold(len(dirs), ALPHA)
    assert G.z_scores(g, torch.zeros_like(grad_J), orth).abs().max() < G.bonferroni_threshold(len(orth), ALPHA)


@pytest.mark.parametrize("name, est", [
    ("grpo", G.ESTIMATORS["grpo"]),                                                        # std and 1/|o|
    ("std only", G.Estimator(group_advantage="grpo", group_size=K)),                      # the std alone
    ("1/|o| only", G.Estimator(group_advantage="dr_grpo", group_size=K, aggregation="sequence_mean")),
])
def test_grpo_bias_is_detected(tiny, name, est):
    _, grad_J, dirs, _ = tiny
    assert G.z_scores(_grads(tiny, est), grad_J, dirs).abs().max() > G.bonferroni_threshold(len(dirs), ALPHA)


@pytest.mark.parametrize("est, biased", [(G.ESTIMATORS["grpo"], True), (G.ESTIMATORS["rloo"], False),
                                         (G.Estimator(group_advantage="dr_grpo", group_size=K,
                                                      aggregation="sequence_mean"), True)])
def test_length_normalisation_changes_the_direction(tiny, est, biased):
    """Not just a rescaling: with 1/|o| the mean gradient has a component ⊥ ∇J (z-test along ⊥ directions)."""
    _, grad_J, _, orth = tiny
    z = G.z_scores(_grads(tiny, est), torch.zeros_like(grad_J), orth).abs().max()
    assert (z > G.bonferroni_threshold(len(orth), ALPHA)) == biased


def test_kl_placements_and_reference():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16, seed=0)
    ref = copy.deepcopy(policy)
    with pytest.raises(ValueError, match="kl_coef > 0 needs a reference"):
        pg.train.train(policy, task, algo="grpo", config=grpo.GRPOConfig(batch_size=16, kl_coef=0.04), steps=1)
    h = pg.train.train(policy, task, algo="grpo", config=grpo.GRPOConfig(batch_size=16, kl_coef=0.04), steps=3,
                       lr=1e-2, reference=ref)
    assert h["kl"][0] == pytest.approx(0.0, abs=1e-6) and h["kl"][-1] != 0      # π = π_ref at the start
    assert h["kl/loss"][0] == pytest.approx(0.0, abs=1e-6) and h["kl/loss"][-1] > 0   # k3 ≥ 0, > 0 once π moved
    assert grpo.GRPOConfig(kl_coef=0.1).kl_estimator_name == "k3"
    assert grpo.RLOOConfig(kl_coef=0.1).kl_estimator_name == "k1"


def test_kl_in_the_reward_lowers_the_return_by_beta_k1():
    """kl_placement="reward": R_i − β Σ_t k1 — checked on the advantages by hand from the same draw."""
    problem = exact.tiny_problem()
    policy, task = problem.policy, problem.task
    ref = exact.tiny_problem(seed=1).policy
    seen = {}
    real = grpo.group_advantages

    def spy(returns, k, kind):
        seen["R"] = returns.clone()
        return real(returns, k, kind)

    grpo.group_advantages = spy
    try:
        grpo.step(copy.deepcopy(policy), torch.optim.SGD(policy.parameters(), lr=0.0), task,
                  grpo.RLOOConfig(batch_size=8, kl_coef=0.5, group_size=4), torch.Generator().manual_seed(2),
                  {"reference": ref})
    finally:
        grpo.group_advantages = real
    gen = torch.Generator().manual_seed(2)                                    # the same draw, by hand
    prompts = pg.algos.common.grouped_prompts(task, 8, 4, gen)
    ro = pg.rollout.sample(policy, prompts, task.max_new_tokens, generator=gen)
    with torch.no_grad():
        lp = pg.rollout.token_logprobs(policy, prompts, ro.completion_ids).logprobs
        lr = pg.rollout.token_logprobs(ref, prompts, ro.completion_ids).logprobs
    R = (task.reward(prompts, ro.completion_ids, ro.mask) * ro.mask).sum(1) - 0.5 * ((lp - lr) * ro.mask).sum(1)
    assert torch.allclose(seen["R"], R, atol=1e-5)


@pytest.mark.parametrize("kwargs, field", [
    (dict(batch_size=64, group_size=3), "group_size must divide batch_size=64"),
    (dict(group_size=1), "group_size must be an integer >= 2"),
    (dict(batch_size=64, minibatches=5), "minibatches must divide batch_size=64"),
    (dict(epochs=0), "epochs"),
    (dict(clip_eps=1.5), "clip_eps must be in \\(0, 1\\)"),
    (dict(advantage="ppo"), "unknown advantage 'ppo'"),
    (dict(aggregation="mean"), "unknown aggregation 'mean'"),
    (dict(kl_placement="both"), "unknown kl_placement 'both'"),
    (dict(kl_coef=0.1, kl_estimator="k4"), "unknown kl_estimator 'k4'"),
    (dict(kl_estimator="k3"), "kl_estimator='k3' does not apply when kl_coef = 0"),
    (dict(kl_coef=-1.0), "kl_coef"),
])
def test_config_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        grpo.GroupConfig(**kwargs)


def test_estimator_validation():
    with pytest.raises(ValueError, match="returns and baseline do not apply"):
        G.Estimator(group_advantage="rloo", baseline="batch_mean", group_size=4)
    with pytest.raises(ValueError, match="group_size must be an integer >= 2"):
        G.Estimator(group_advantage="grpo")
    with pytest.raises(ValueError, match="unknown group_advantage"):
        G.Estimator(group_advantage="ppo", group_size=4)
    with pytest.raises(ValueError, match="unknown aggregation"):
        G.Estimator(aggregation="mean")


def test_k2_or_k3_in_the_reward_warns_that_it_is_not_the_kl_gradient():
    import warnings
    from pglab.algos.grpo import GroupConfig
    for est in ("k2", "k3"):
        with pytest.warns(UserWarning, match="only k1 does"):
            GroupConfig(kl_coef=0.1, kl_placement="reward", kl_estimator=est)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GroupConfig(kl_coef=0.1, kl_placement="reward", kl_estimator="k1")
        GroupConfig(kl_coef=0.1, kl_placement="loss", kl_estimator="k3")
