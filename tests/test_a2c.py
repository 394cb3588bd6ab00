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


@pytest.mark.parametrize("advantage,extra", [("gae", {"gae_lambda": 0.0}), ("nstep", {"n_steps": 2})])
def test_a2c_variants_run(advantage, extra):
    task = pg.make_task("reverse-sparse")
    policy = pg.make_policy("transformer", len(task.vocab), hidden_size=16, value_head="shared")
    h = pg.train.train(policy, task, algo="a2c", config=pg.A2CConfig(batch_size=8, advantage=advantage, **extra),
                       steps=2, lr=1e-3)
    assert len(h) == 2


@pytest.mark.parametrize("baseline", list(BASELINES))
def test_reinforce_runs_with_every_baseline(baseline):
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16, value_head="shared")
    k = 4 if "groups" in getattr(BASELINES[baseline], "needs", ()) else 1
    cfg = pg.ReinforceConfig(batch_size=16, baseline=baseline, group_size=k)
    stats = reinforce.step(policy, torch.optim.Adam(policy.parameters(), 1e-3), task, cfg,
                           torch.Generator().manual_seed(0), {})
    assert torch.isfinite(torch.tensor(stats["loss/policy"])) and "loss/value" in stats


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
    with pytest.raises(ValueError, match="unknown algo 'ppo'"):
        pg.train.train(pg.make_policy("gru", len(task.vocab), hidden_size=8), task, algo="ppo", steps=1)
