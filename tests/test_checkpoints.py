"""Checkpoints and configs refuse what would fail later: a mismatch names its keys and shapes, non-finite
weights are never written, an optimizer over other parameters is refused, and a config stays valid after
construction."""
from __future__ import annotations

import pytest
import torch

import pglab as pg
from pglab.algos import ALGOS


def _save(tmp_path, **policy_kw):
    policy = pg.make_policy("gru", 8, hidden_size=16, **policy_kw)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    path = tmp_path / "policy.pt"
    pg.train.save_checkpoint(path, policy, opt)
    return path, policy, opt


def test_a_state_dict_mismatch_names_the_keys_and_the_shapes(tmp_path):
    path, policy, _ = _save(tmp_path)
    payload = torch.load(path, weights_only=True)
    weights = payload["policy"]
    name, tensor = next((k, v) for k, v in weights.items() if v.dim() == 2)
    weights[name] = torch.zeros(tensor.shape[0] + 1, tensor.shape[1])       # one row too many
    dropped = next(k for k in weights if k != name)
    del weights[dropped]
    weights["extra.weight"] = torch.zeros(3)
    torch.save(payload, path)
    with pytest.raises(ValueError) as info:
        pg.train.load_checkpoint(path)
    message = str(info.value)
    assert f"missing {dropped} (" in message and "unexpected extra.weight (3)" in message, message
    assert f"{name} is ({tensor.shape[0] + 1}, {tensor.shape[1]}) in the file, " \
           f"({tensor.shape[0]}, {tensor.shape[1]}) for the spec" in message, message


def test_save_checkpoint_refuses_non_finite_weights(tmp_path):
    policy = pg.make_policy("gru", 8, hidden_size=16)
    with torch.no_grad():
        policy.lm_head.bias[0] = float("nan")
    with pytest.raises(ValueError, match="non-finite values in lm_head.bias"):
        pg.train.save_checkpoint(tmp_path / "diverged.pt", policy)
    assert list(tmp_path.iterdir()) == []                                    # nothing written, no temp file


def _stepped_adam(policy):
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    sum(p.sum() for p in policy.parameters()).backward()
    opt.step()                                                               # Adam now holds exp_avg per parameter
    return opt


def test_restore_optimizer_checks_the_parameter_shapes(tmp_path):
    small = pg.make_policy("gru", 8, hidden_size=16)
    path = tmp_path / "small.pt"
    pg.train.save_checkpoint(path, small, _stepped_adam(small))
    _, payload = pg.train.load_checkpoint(path)
    wider = pg.make_policy("gru", 8, hidden_size=24)                         # same parameter count, other shapes
    assert len(list(wider.parameters())) == len(list(small.parameters()))
    with pytest.raises(ValueError, match=r"does not fit parameter \d+ of group 0: its exp_avg is \(\d+, \d+\), the parameter is"):
        pg.train.restore_optimizer(torch.optim.Adam(wider.parameters()), payload)
    same, _ = pg.train.load_checkpoint(path)
    opt = torch.optim.Adam(same.parameters())
    pg.train.restore_optimizer(opt, payload)                                 # the right policy: restored
    assert all(torch.equal(opt.state[p]["exp_avg"], payload["optimizer"]["state"][i]["exp_avg"])
               for i, p in enumerate(same.parameters()))


@pytest.mark.parametrize("algo", list(ALGOS))
def test_a_field_assigned_after_construction_is_checked(algo):
    cfg = ALGOS[algo][0]()
    before = cfg.batch_size
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        cfg.batch_size = -5
    assert cfg.batch_size == before                                         # left as it was
    with pytest.raises(ValueError, match="entropy_coef must be"):
        cfg.entropy_coef = float("nan")
    with pytest.raises(AttributeError, match="has no setting 'batchsize'"):
        cfg.batchsize = 32                                                   # a typo is not silently ignored
    cfg.batch_size = 32                                                      # a valid value is taken
    assert cfg.batch_size == 32


@pytest.mark.parametrize("algo", list(ALGOS))
def test_entropy_coef_has_an_upper_bound(algo):
    config_cls = ALGOS[algo][0]
    assert config_cls(entropy_coef=1.0).entropy_coef == 1.0
    with pytest.raises(ValueError, match=r"entropy_coef must be in \[0, 1\], got 10"):
        config_cls(entropy_coef=10)
