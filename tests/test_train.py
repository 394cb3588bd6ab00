import math

import pytest
import torch

import pglab as pg
from pglab.algos import NonFiniteError, reinforce
from tests.conftest import POLICY_KINDS


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_every_parameter_changes_after_one_update(kind):
    task = pg.make_task("copy")
    policy = pg.make_policy(kind, len(task.vocab), hidden_size=32, embed_size=16)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    cfg = pg.ReinforceConfig(batch_size=32, baseline="batch_mean")
    reinforce.step(policy, opt, task, cfg, torch.Generator().manual_seed(0), {})
    unchanged = [n for n, p in policy.named_parameters() if torch.equal(p, before[n])]
    assert unchanged == []


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_reinforce_raises_mean_reward(kind):
    task = pg.make_task("copy")
    policy = pg.make_policy(kind, len(task.vocab), hidden_size=64, embed_size=32, seed=0)
    history = pg.train.train(policy, task, config=pg.ReinforceConfig(batch_size=64), steps=80, lr=3e-3, seed=0)
    r = history["reward/mean"]
    first, last = sum(r[:10]) / 10, sum(r[-10:]) / 10
    assert last > first + 0.15, (first, last)


def test_same_seed_same_history_and_different_seed_differs():
    task = pg.make_task("copy-sparse")

    def run(seed):
        policy = pg.make_policy("gru", len(task.vocab), hidden_size=32, seed=seed)
        cfg = pg.ReinforceConfig(batch_size=16, baseline="moving_average", entropy_coef=0.01)
        return pg.train.train(policy, task, config=cfg, steps=8, lr=1e-2, seed=seed)

    assert run(5).rows == run(5).rows
    assert run(5).rows != run(6).rows


def test_checkpoint_round_trip(tmp_path):
    task = pg.make_task("reverse")
    policy = pg.make_policy("transformer", len(task.vocab), hidden_size=32, value_head="separate", seed=2)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    history = pg.train.train(policy, task, steps=3, lr=1e-3, optimizer=opt)
    path = tmp_path / "ckpt.pt"
    pg.train.save_checkpoint(path, policy, opt, history, note="hello")
    loaded, payload = pg.train.load_checkpoint(path)
    assert loaded.spec == policy.spec and payload["meta"] == {"note": "hello"}
    assert payload["history"].rows == history.rows
    for (n, a), (_, b) in zip(policy.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), n
    ids = task.sample_prompts(4, torch.Generator().manual_seed(0))
    assert torch.equal(policy(ids), loaded(ids))
    opt2 = torch.optim.Adam(loaded.parameters(), lr=1e-3)
    pg.train.restore_optimizer(opt2, payload)
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_non_finite_loss_stops_and_keeps_last_finite_parameters():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16)
    calls = {"n": 0}
    original = task.reward

    def poisoned(*args):
        calls["n"] += 1
        r = original(*args)
        return r * math.nan if calls["n"] == 3 else r

    task.reward = poisoned
    snapshots = []
    with pytest.raises(NonFiniteError, match="non-finite|nan|stopping before the update") as info:
        pg.train.train(policy, task, steps=10, lr=1e-2,
                       callbacks=[lambda i, s, h: snapshots.append([p.detach().clone() for p in policy.parameters()])])
    assert len(info.value.history) == 2
    assert "stopping" in info.value.history.stop_reason
    assert all(torch.equal(a, b) for a, b in zip(snapshots[-1], policy.parameters()))


def test_callback_and_stop_event_stop_early():
    import threading
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16)
    h = pg.train.train(policy, task, steps=50, lr=1e-3, callbacks=[lambda i, s, h: i == 2])
    assert len(h) == 3 and h.stop_reason == "stopped by a callback"
    ev = threading.Event(); ev.set()
    h = pg.train.train(policy, task, steps=50, lr=1e-3, stop_event=ev)
    assert len(h) == 0 and h.stop_reason == "stopped by request"


def test_translation_and_fluency_tasks_train_end_to_end():
    for task in (pg.make_task("translate", n_pairs=300), pg.make_task("fluency", n_sentences=300, lm_steps=100)):
        policy = pg.make_policy("gru", len(task.vocab), hidden_size=32)
        h = pg.train.train(policy, task, config=pg.ReinforceConfig(batch_size=8), steps=3, lr=1e-3)
        assert len(h) == 3 and all(math.isfinite(x) for x in h["reward/mean"])
