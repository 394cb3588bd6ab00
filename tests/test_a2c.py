import pytest
import torch

import pglab as pg
from pglab.advantages import BASELINES
from pglab.algos import a2c, reinforce


def test_a2c_raises_reward_and_explained_variance():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=64, embed_size=32, value_head="separate", seed=0)
    cfg = pg.A2CConfig(batch_size=64, gae_lambda=0.9)
    h = pg.train.train(policy, task, algo="a2c", config=cfg, steps=120, lr=3e-3, seed=0)
    r, ev = h["reward/mean"], h["explained_variance"]
    assert sum(r[-10:]) / 10 > sum(r[:10]) / 10 + 0.15
    assert sum(ev[-20:]) / 20 > sum(ev[:10]) / 10 + 0.2
    assert {"loss/value", "loss/policy", "explained_variance"} <= set(h.keys())


@pytest.mark.parametrize("value_head", ["shared", "separate"])
def test_every_parameter_changes_after_one_a2c_update(value_head):
    task = pg.make_task("copy")
    policy = pg.make_policy("lstm", len(task.vocab), hidden_size=16, embed_size=8, value_head=value_head)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    a2c.step(policy, opt, task, pg.A2CConfig(batch_size=16), torch.Generator().manual_seed(0), {})
    assert [n for n, p in policy.named_parameters() if torch.equal(p, before[n])] == []


def _loop_advantages(r, v, m, gamma, advantage, n=None, lam=None):
    """A plain-Python reference for the A2C advantages of one batch (independent of pglab.advantages)."""
    B, T = r.shape
    A = torch.zeros(B, T)
    for i in range(B):
        L = int(m[i].sum())                                        # valid tokens of row i
        V = [float(v[i, t]) for t in range(L)] + [0.0]             # V after the last valid token is 0
        if advantage == "nstep":
            for t in range(L):
                ret = sum(gamma ** k * float(r[i, t + k]) for k in range(min(n, L - t)))
                ret += gamma ** n * V[t + n] if t + n < L else 0.0
                A[i, t] = ret - V[t]
        else:
            deltas = [float(r[i, t]) + gamma * V[t + 1] - V[t] for t in range(L)]
            for t in range(L):
                A[i, t] = sum((gamma * lam) ** k * deltas[t + k] for k in range(L - t))
    return A


@pytest.mark.parametrize("advantage,extra", [("gae", {"gae_lambda": 0.7}), ("nstep", {"n_steps": 3}),
                                             ("nstep", {"n_steps": 9})])
def test_a2c_variants_use_their_advantage(advantage, extra):
    # Replay the step's own batch (same generator seed) and recompute A_t with plain loops.
    task = pg.make_task("reverse", length=4)
    policy = pg.make_policy("transformer", len(task.vocab), hidden_size=16, value_head="shared", seed=1)
    config = pg.A2CConfig(batch_size=8, gamma=0.9, advantage=advantage, **extra)
    gen = torch.Generator().manual_seed(5)
    prompts = task.sample_prompts(8, gen)
    ro = pg.sample(policy, prompts, task.max_new_tokens, generator=gen)
    r = task.reward(prompts, ro.completion_ids, ro.mask)
    A = _loop_advantages(r, ro.values.detach(), ro.mask, 0.9, advantage, extra.get("n_steps"), extra.get("gae_lambda"))
    stats = a2c.step(policy, torch.optim.Adam(policy.parameters(), 1e-3), task, config,
                     torch.Generator().manual_seed(5), {})
    valid = ro.mask.bool()
    assert stats["adv/mean"] == pytest.approx(A[valid].mean().item(), abs=1e-5)
    assert stats["adv/std"] == pytest.approx(A[valid].std(unbiased=False).item(), abs=1e-5)


@pytest.mark.parametrize("baseline", list(BASELINES))
def test_reinforce_runs_with_every_baseline(baseline):
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16, value_head="shared")
    k = 4 if "groups" in getattr(BASELINES[baseline], "needs", ()) else 1
    cfg = pg.ReinforceConfig(batch_size=16, baseline=baseline, group_size=k)
    stats = reinforce.step(policy, torch.optim.Adam(policy.parameters(), 1e-3), task, cfg,
                           torch.Generator().manual_seed(0), {})
    assert torch.isfinite(torch.tensor(stats["loss/policy"])) and "loss/value" in stats
    # the baseline really enters the update: same batch, same weights, different advantages than no baseline
    fresh = pg.make_policy("gru", len(task.vocab), hidden_size=16, value_head="shared")
    none = reinforce.step(fresh, torch.optim.Adam(fresh.parameters(), 1e-3), task,
                          pg.ReinforceConfig(batch_size=16, baseline="none", group_size=k),
                          torch.Generator().manual_seed(0), {})
    assert none["reward/mean"] == stats["reward/mean"]              # the same batch …
    if baseline == "none":
        assert none["adv/mean"] == stats["adv/mean"]
    elif baseline == "moving_average":                            # first batch: no history yet, b = 0
        assert none["adv/mean"] == stats["adv/mean"]
    else:
        assert abs(none["adv/mean"] - stats["adv/mean"]) > 0.05     # … other advantages


def test_a2c_and_baseline_errors():
    task = pg.make_task("copy")
    with pytest.raises(ValueError, match="A2C needs a critic"):
        pg.train.train(pg.make_policy("gru", len(task.vocab), hidden_size=8), task, algo="a2c", steps=1)
    with pytest.raises(ValueError, match=r"gae_lambda must be in \[0, 1\], got 1.5"):
        pg.A2CConfig(gae_lambda=1.5)
    with pytest.raises(ValueError, match=r"unknown advantage 'td'; known: 'gae', 'nstep'"):
        pg.A2CConfig(advantage="td")
    with pytest.raises(ValueError, match="baseline 'leave_one_out' needs group_size >= 2"):
        pg.ReinforceConfig(baseline="leave_one_out")
    with pytest.raises(ValueError, match="group_size must divide batch_size=10, got 4"):
        pg.ReinforceConfig(batch_size=10, baseline="group_norm", group_size=4)
    with pytest.raises(ValueError, match="baseline 'value' needs a policy with a value head"):
        pg.train.train(pg.make_policy("gru", len(task.vocab), hidden_size=8), task, steps=1,
                       config=pg.ReinforceConfig(baseline="value"))
    with pytest.raises(ValueError, match="unknown algo 'trpo'"):
        pg.train.train(pg.make_policy("gru", len(task.vocab), hidden_size=8), task, algo="trpo", steps=1)
