"""Every bad input raises a ValueError that names the field, the value and what is allowed."""
import pytest
import torch

import pglab as pg
from pglab.advantages import gae, reward_to_go


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan")])
def test_gamma_outside_unit_interval(gamma):
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\], got"):
        pg.ReinforceConfig(gamma=gamma)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        reward_to_go(torch.zeros(1, 2), torch.ones(1, 2), gamma)


@pytest.mark.parametrize("lam", [-0.5, 2.0])
def test_lambda_outside_unit_interval(lam):
    with pytest.raises(ValueError, match=rf"gae_lambda must be in \[0, 1\], got {lam}"):
        gae(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2), 0.9, lam)


@pytest.mark.parametrize("lr", [0.0, -1e-3, float("inf")])
def test_non_positive_learning_rate(lr):
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=8)
    with pytest.raises(ValueError, match=r"lr must be in \(0, 1\], got"):
        pg.train.train(policy, task, steps=1, lr=lr)


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("batch_size", 2.5), ("batch_size", -3)])
def test_bad_batch_size(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be an integer >= 1( and <= [0-9,]+)?, got {value!r}"):
        pg.ReinforceConfig(**{field: value})


@pytest.mark.parametrize("field,value", [("hidden_size", 0), ("embed_size", 1.5), ("n_layers", -1)])
def test_bad_policy_sizes(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be an integer >= 1( and <= [0-9,]+)?, got {value!r}"):
        pg.make_policy("transformer", 8, **{field: value})


def test_bad_steps_and_task_sizes():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=8)
    with pytest.raises(ValueError, match="steps must be an integer >= 1 and <= 1,000,000, got 0"):
        pg.train.train(policy, task, steps=0)
    with pytest.raises(ValueError, match="length must be an integer >= 1 and <= 256, got 0"):
        pg.make_task("copy", length=0)
    with pytest.raises(ValueError, match=r"alphabet must be in \[2, 26\], got 40"):
        pg.make_task("copy", alphabet=40)
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        task.sample_prompts(0, torch.Generator())


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown task 'nope'; known: 'copy', .*'translate'"):
        pg.make_task("nope")
    with pytest.raises(ValueError, match=r"unknown policy 'rnn'; known: 'gru', 'lstm', 'transformer'"):
        pg.make_policy("rnn", 8)
    with pytest.raises(ValueError, match=r"unknown baseline 'mean'; known: 'none', 'batch_mean', 'moving_average'"):
        pg.ReinforceConfig(baseline="mean")
    with pytest.raises(ValueError, match=r"unknown value_head 'both'"):
        pg.make_policy("gru", 8, value_head="both")


def test_vocabulary_policy_size_mismatch():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab) + 3, hidden_size=8)
    with pytest.raises(ValueError, match=r"policy vocab_size=11 does not match the task's vocabulary size 8"):
        pg.train.train(policy, task, steps=1)


def test_empty_references():
    with pytest.raises(ValueError, match=r"references\[0\] is empty"):
        pg.rewards.sentence_chrf(["x"], [""])


def test_value_of_a_policy_without_value_head():
    with pytest.raises(ValueError, match="no value head"):
        pg.make_policy("gru", 8, hidden_size=8).values(torch.zeros(1, 3, dtype=torch.long))
