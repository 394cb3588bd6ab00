"""PPO: one epoch on fresh samples is A2C (and REINFORCE with a value baseline); the ratio starts at 1;
the clip zeros exactly the gradients the min selects away (hand-computed); early stop; validation."""
import copy
import math

import pytest
import torch

import pglab as pg
from pglab.algos import a2c, ppo, reinforce


@pytest.fixture(scope="module")
def setup():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=32, value_head="separate", seed=3)
    with torch.no_grad():                      # a critic that is not ≈ 0, so value and policy terms both matter
        for p in policy.critic_parameters().values():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return task, policy


def _grads(policy, task, step_fn, config, seed=11):
    """Parameter gradients of one call of ``step_fn`` on a copy of ``policy`` (SGD with lr 0: nothing moves)."""
    policy = copy.deepcopy(policy)
    opt = torch.optim.SGD(policy.parameters(), lr=0.0)
    stats = step_fn(policy, opt, task, config, torch.Generator().manual_seed(seed), {})
    return {n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None}, stats


def _assert_same(g1, g2):
    assert g1.keys() == g2.keys()
    for name in g1:
        assert torch.allclose(g1[name], g2[name], rtol=1e-5, atol=1e-7), name
    assert sum(g.norm() ** 2 for g in g1.values()) > 1e-6                # not trivially zero


@pytest.mark.parametrize("value_clip", [None, 0.2])
def test_one_epoch_one_minibatch_is_the_a2c_gradient(setup, value_clip):
    """At θ = θ_old the ratio is 1, ∇ρ = ∇log π, the clip and the value clip are inactive:
    PPO's first step is A2C's, on the same samples (same generator), for actor and critic."""
    task, policy = setup
    common = dict(batch_size=16, gae_lambda=0.9, entropy_coef=0.01, value_coef=0.5, max_grad_norm=None)
    g_ppo, stats = _grads(policy, task, ppo.step, ppo.PPOConfig(epochs=1, minibatches=1, value_clip=value_clip,
                                                                normalize_advantages=False, **common))
    g_a2c, _ = _grads(policy, task, a2c.step, a2c.A2CConfig(**common))
    _assert_same(g_ppo, g_a2c)
    assert stats["updates"] == 1 and stats["clip_frac"] == 0.0


def test_with_lambda_one_it_is_reinforce_with_a_value_baseline(setup):
    """GAE(λ = 1) = G_t − V(s_t) and the critic target y = G_t: REINFORCE's "value" baseline, whose
    critic regresses on the Monte Carlo return — another code path (advantages.learned_value)."""
    task, policy = setup
    g_ppo, _ = _grads(policy, task, ppo.step, ppo.PPOConfig(
        batch_size=16, epochs=1, minibatches=1, gae_lambda=1.0, normalize_advantages=False, max_grad_norm=None))
    g_rf, _ = _grads(policy, task, reinforce.step, reinforce.ReinforceConfig(
        batch_size=16, baseline="value", max_grad_norm=None))
    _assert_same(g_ppo, g_rf)


def test_the_ratio_is_one_on_the_first_minibatch_only(setup, monkeypatch):
    task, policy = setup
    seen = []

    def spy(*args, **kwargs):
        per_token, stats = real(*args, **kwargs)
        seen.append(stats["ratio_dev"])
        return per_token, stats

    real = ppo.clipped_surrogate
    monkeypatch.setattr(ppo, "clipped_surrogate", spy)
    policy = copy.deepcopy(policy)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    stats = ppo.step(policy, opt, task, ppo.PPOConfig(batch_size=32, epochs=2, minibatches=4),
                     torch.Generator().manual_seed(0), {})
    assert len(seen) == 8 and stats["updates"] == 8
    assert seen[0] < 1e-5 and stats["ratio_dev/first"] == seen[0]          # π_θ = π_old before the first step
    assert min(seen[1:]) > 1e-3                                             # every later minibatch has moved
    assert stats["approx_kl"] > 0


def test_clipping_by_hand():
    """−min(ρA, clip(ρ, 0.8, 1.2)A) per token; d loss/d log π = −ρA where the unclipped branch is selected, else 0."""
    rho = torch.tensor([[1.5, 1.5, 0.5, 0.5, 1.1, 3.0]])
    adv = torch.tensor([[1.0, -1.0, -1.0, 1.0, 2.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0, 0.0]])
    old = torch.tensor([[-1.0, -2.0, -0.5, -1.5, -3.0, -1.0]])
    logp = (old + rho.log()).requires_grad_(True)
    per_token, stats = ppo.clipped_surrogate(logp, old, adv, mask, clip_eps=0.2)
    # by hand: a) ρ=1.5, A=+1: min(1.5, 1.2) = 1.2, clipped, grad 0   b) ρ=1.5, A=−1: min(−1.5, −1.2) = −1.5, grad −ρA = 1.5
    #          c) ρ=0.5, A=−1: min(−0.5, −0.8) = −0.8, clipped, grad 0  d) ρ=0.5, A=+1: min(0.5, 0.8) = 0.5, grad −0.5
    #          e) ρ=1.1 inside, A=2: −2.2, grad −2.2                   f) masked: 0
    assert torch.allclose(per_token, torch.tensor([[-1.2, 1.5, 0.8, -0.5, -2.2, 0.0]]), atol=1e-6)
    per_token.sum().backward()
    assert torch.allclose(logp.grad, torch.tensor([[0.0, 1.5, 0.0, -0.5, -2.2, 0.0]]), atol=1e-6)
    assert stats["clip_frac"] == pytest.approx(4 / 5)
    k3 = [r - 1 - math.log(r) for r in (1.5, 1.5, 0.5, 0.5, 1.1)]          # (ρ − 1) − log ρ, valid tokens
    assert stats["approx_kl"] == pytest.approx(sum(k3) / 5, rel=1e-5)
    assert stats["ratio_dev"] == pytest.approx(0.5, rel=1e-5)               # the masked ρ = 3 does not count


def test_early_stop_on_approximate_kl(setup):
    task, policy = setup
    policy = copy.deepcopy(policy)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    cfg = ppo.PPOConfig(batch_size=32, epochs=4, minibatches=4, target_kl=1e-6)
    stats = ppo.step(policy, opt, task, cfg, torch.Generator().manual_seed(0), {})
    assert stats["updates"] == 1 and stats["stopped_early"] == 1.0          # KL 0 before the first step, > 1e-6 after
    assert stats["approx_kl/last"] > 1e-6
    free = ppo.step(policy, opt, task, ppo.PPOConfig(batch_size=32, epochs=4, minibatches=4),
                    torch.Generator().manual_seed(0), {})
    assert free["updates"] == 16 and free["stopped_early"] == 0.0


def test_train_by_name_and_needs_a_critic():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16, value_head="separate", seed=0)
    h = pg.train.train(policy, task, algo="ppo", config=ppo.PPOConfig(batch_size=8, minibatches=2), steps=2)
    assert len(h) == 2 and h["updates"] == [8.0, 8.0]
    with pytest.raises(ValueError, match="PPO needs a critic"):
        pg.train.train(pg.make_policy("gru", len(task.vocab), hidden_size=16), task, algo="ppo", steps=1)
    with pytest.raises(ValueError, match="kl_coef > 0 needs a reference"):
        pg.train.train(policy, task, algo="ppo", config=ppo.PPOConfig(batch_size=8, kl_coef=0.1), steps=1)


@pytest.mark.parametrize("kwargs, field", [
    (dict(clip_eps=0.0), "clip_eps must be in \\(0, 1\\)"),
    (dict(clip_eps=1.0), "clip_eps must be in \\(0, 1\\)"),
    (dict(clip_eps="0.2"), "clip_eps"),
    (dict(epochs=0), "epochs must be an integer >= 1"),
    (dict(epochs=ppo.MAX_EPOCHS + 1), "epochs must be an integer in \\[1, 100\\]"),
    (dict(epochs=2.0), "epochs"),
    (dict(minibatches=0), "minibatches must be an integer >= 1"),
    (dict(batch_size=64, minibatches=3), "minibatches must divide batch_size=64"),
    (dict(batch_size=8, minibatches=16), "minibatches must be an integer in \\[1, 8\\]"),
    (dict(value_clip=0.0), "value_clip"),
    (dict(target_kl=-0.01), "target_kl"),
    (dict(gae_lambda=1.5), "gae_lambda"),
    (dict(normalize_advantages="False"), "normalize_advantages"),
])
def test_config_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ppo.PPOConfig(**kwargs)


def test_value_clipping_by_hand():
    """½ mean max((V − y)², (V_old + clip(V − V_old, ±0.2) − y)²); d/dV = (V − y)/n where the unclipped branch wins."""
    old = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    v = torch.tensor([[0.5, 0.5, -0.1, 0.1]], requires_grad=True)
    y = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    mask = torch.ones(1, 4)
    loss = ppo.value_loss(v, old, y, mask, clip=0.2)
    # a) V=0.5, y=1: (−0.5)² = 0.25 vs clipped V 0.2: (−0.8)² = 0.64 → clipped wins, grad 0
    # b) V=0.5, y=0: 0.25 vs clipped 0.2: 0.04 → unclipped wins, grad (0.5 − 0)/4
    # c) V=−0.1 inside: (−1.1)² = 1.21, grad (−0.1 − 1)/4      d) V=0.1 inside: 0.01, grad 0.1/4
    assert loss.item() == pytest.approx(0.5 * (0.64 + 0.25 + 1.21 + 0.01) / 4)
    loss.backward()
    assert torch.allclose(v.grad, torch.tensor([[0.0, 0.5 / 4, -1.1 / 4, 0.1 / 4]]), atol=1e-6)
    plain = ppo.value_loss(v, old, y, mask, clip=None)
    assert plain.item() == pytest.approx(0.5 * (0.25 + 0.25 + 1.21 + 0.01) / 4)
