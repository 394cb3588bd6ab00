import pytest
import torch

import pglab as pg
from tests.conftest import POLICY_KINDS


@pytest.mark.parametrize("kind", POLICY_KINDS)
@pytest.mark.parametrize("value_head", [None, "shared", "separate"])
def test_recomputed_logprobs_equal_sampled(kind, value_head, gen):
    task = pg.make_task("copy")
    policy = pg.make_policy(kind, len(task.vocab), hidden_size=32, embed_size=16, value_head=value_head)
    prompts = task.sample_prompts(16, gen)
    for kwargs in ({}, {"temperature": 0.7}):
        ro = pg.sample(policy, prompts, task.max_new_tokens, generator=gen, **kwargs)
        out = pg.token_logprobs(policy, prompts, ro.completion_ids, **kwargs)
        assert torch.allclose(out.logprobs * ro.mask, ro.old_logprobs, atol=1e-5)
        assert torch.allclose(out.entropy * ro.mask, ro.entropy, atol=1e-5)
        if value_head:
            assert torch.allclose(out.values * ro.mask, ro.values, atol=1e-5)
        else:
            assert ro.values is None and out.values is None


@pytest.mark.parametrize("kind", POLICY_KINDS)
def test_incremental_step_matches_teacher_forcing(kind, gen):
    policy = pg.make_policy(kind, 10, hidden_size=32, embed_size=16)
    ids = torch.randint(10, (3, 7), generator=gen)
    full = policy(ids)                                   # (B, L, V)
    logits, state = policy.prefill(ids[:, :3])
    steps = [logits]
    for t in range(3, 7):
        logits, state = policy.step(ids[:, t], state)
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), full[:, 2:], atol=1e-5)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_unrolled_cell_matches_fused_kernel(kind, gen):
    policy = pg.make_policy(kind, 10, hidden_size=32, embed_size=16)
    ids = torch.randint(10, (4, 9), generator=gen)
    fused = policy(ids)
    policy.set_fused(False)
    assert torch.allclose(policy(ids), fused, atol=1e-5)


def test_masks_and_padding_after_eos(gen):
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab), hidden_size=16, embed_size=8)
    with torch.no_grad():  # make EOS very likely so most rows end early
        policy.lm_head.bias[pg.vocab.EOS_ID] = 3.0
    ro = pg.sample(policy, task.sample_prompts(64, gen), task.max_new_tokens, generator=gen)
    assert torch.equal(ro.mask, pg.rollout.completion_mask(ro.completion_ids))
    assert (ro.completion_ids[ro.mask == 0] == pg.vocab.PAD_ID).all()
    assert (ro.old_logprobs[ro.mask == 0] == 0).all()
    assert (ro.lengths < task.max_new_tokens).any()


def test_greedy_is_deterministic_and_argmax(gen):
    task = pg.make_task("reverse")
    policy = pg.make_policy("transformer", len(task.vocab), hidden_size=32)
    prompts = task.sample_prompts(8, gen)
    a = pg.sample(policy, prompts, 4, generator=torch.Generator().manual_seed(1), greedy=True)
    b = pg.sample(policy, prompts, 4, generator=torch.Generator().manual_seed(2), greedy=True)
    assert torch.equal(a.completion_ids, b.completion_ids)
    first = policy(prompts)[:, -1].argmax(-1)
    assert torch.equal(a.completion_ids[:, 0], first)


def test_device_auto_falls_back_to_an_available_device(monkeypatch):
    mps = getattr(torch.backends, "mps", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: False)
    assert pg.resolve_device("auto") == torch.device("cpu")
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: True)
        assert pg.resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pg.resolve_device("auto") == torch.device("cuda")          # CUDA first
    policy = pg.make_policy("gru", 8, hidden_size=8, device="cpu")
    assert policy.device.type == "cpu"


def test_same_seed_same_weights_and_different_seed_differs():
    a = pg.make_policy("transformer", 8, hidden_size=16, seed=3)
    b = pg.make_policy("transformer", 8, hidden_size=16, seed=3)
    c = pg.make_policy("transformer", 8, hidden_size=16, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(x, y) for x, y in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("arg", [{"n_layers": 3}, {"n_heads": 2}, {"max_len": 32}])
def test_recurrent_policies_reject_transformer_only_sizes(kind, arg):
    with pytest.raises(ValueError, match=f"{next(iter(arg))}.*only apply to policy 'transformer'"):
        pg.make_policy(kind, 8, **arg)
    assert pg.make_policy(kind, 8, n_layers=1).spec["n_layers"] == 1


def test_transformer_sizes_are_used_and_seed_must_be_an_int():
    p = pg.make_policy("transformer", 8, n_layers=3, n_heads=2)
    assert len(p.trunk.blocks) == 3 and p.trunk.blocks[0].n_heads == 2
    for bad in (1.7, "1", True, -1):
        with pytest.raises(ValueError, match="seed must be an integer"):
            pg.make_policy("gru", 8, seed=bad)
