"""The per-step sampler: exact draws, one step's (B, V) at a time, the policy's precision, seeded."""
import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import pglab as pg


class FixedLogits(torch.nn.Module):
    """A policy whose next-token logits are always ``z``: sampling it is drawing from softmax(z / τ)."""

    eos_id, pad_id, has_value = 2, 0, False

    def __init__(self, z: torch.Tensor) -> None:
        super().__init__()
        self.z = torch.nn.Parameter(z)

    vocab_size = property(lambda self: len(self.z))
    device = property(lambda self: self.z.device)

    def prefill(self, prompt_ids):
        return self.z.detach().expand(len(prompt_ids), -1).clone(), None

    def step(self, token, state):
        return self.z.detach().expand(len(token), -1).clone(), None


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_draws_follow_softmax_of_the_tempered_logits(temperature):
    z = torch.tensor([0.0, 1.0, -0.5, 2.0, -3.0, 0.5])
    n = 40_000
    ro = pg.sample(FixedLogits(z), torch.ones(n, 1, dtype=torch.long), 1,
                   generator=torch.Generator().manual_seed(0), temperature=temperature)
    p = torch.softmax(z / temperature, 0)
    freq = torch.bincount(ro.completion_ids[:, 0], minlength=len(z)).double() / n
    z_scores = (freq - p) / (p * (1 - p) / n).sqrt()
    assert z_scores.abs().max() < 4.0, z_scores                        # |z| < 4 for 6 categories: α ≈ 4e-4
    assert torch.allclose(ro.old_logprobs[:, 0], torch.log(p)[ro.completion_ids[:, 0]], atol=1e-6)
    assert torch.allclose(ro.entropy[:, 0], -(p * p.log()).sum().expand(n), atol=1e-6)


def test_a_zero_probability_token_is_never_drawn():
    z = torch.tensor([0.0, float("-inf"), 0.0, float("-inf"), 0.0])
    ro = pg.sample(FixedLogits(z), torch.ones(5000, 1, dtype=torch.long), 1, generator=torch.Generator().manual_seed(1))
    assert not torch.isin(ro.completion_ids, torch.tensor([1, 3])).any()
    assert torch.isfinite(ro.entropy).all() and torch.allclose(ro.entropy[:, 0], torch.tensor(math.log(3)))


def test_same_seed_same_tokens_other_seed_other_tokens():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab))
    prompts = task.sample_prompts(32, torch.Generator().manual_seed(0))
    draw = lambda seed: pg.sample(policy, prompts, 6, generator=torch.Generator().manual_seed(seed)).completion_ids  # noqa: E731
    assert torch.equal(draw(0), draw(0))
    assert not torch.equal(draw(0), draw(1))


def test_a_float64_policy_records_float64_old_logprobs():
    task = pg.make_task("copy")
    policy = pg.make_policy("gru", len(task.vocab)).double()
    gen = torch.Generator().manual_seed(0)
    prompts = task.sample_prompts(32, gen)
    ro = pg.sample(policy, prompts, task.max_new_tokens, generator=gen)
    out = pg.token_logprobs(policy, prompts, ro.completion_ids)
    assert ro.old_logprobs.dtype == ro.entropy.dtype == torch.float64
    # the PPO ratio exp(log π_θ − log π_old) at the old θ is 1 to float64 precision (float32 left ~1e-7)
    ratio = torch.exp(out.logprobs * ro.mask - ro.old_logprobs)
    assert (ratio - 1).abs().max() < 1e-12


def _tensors(tree):
    return [t for t in torch.utils._pytree.tree_leaves(tree) if isinstance(t, torch.Tensor)]


class LargestTensor(TorchDispatchMode):
    """Records the largest buffer (in elements) that any operation allocates while active.

    Views (a transposed weight, a slice) share their input's storage and are not counted."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        inputs = {t.untyped_storage().data_ptr() for t in _tensors((args, kwargs))}
        out = func(*args, **(kwargs or {}))
        for t in _tensors(out):
            if t.untyped_storage().data_ptr() not in inputs:
                self.largest = max(self.largest, t.untyped_storage().nbytes() // t.element_size())
        return out


@pytest.fixture(scope="module")
def gpt2_vocab_policy():
    pytest.importorskip("transformers")
    from benchmarks.sampler import wide_tokenizer
    tok = wide_tokenizer()                                               # V = 50,257, as GPT-2's
    return pg.hf.policy(pg.hf.tiny_model(tok, n_layers=1, hidden_size=8, n_heads=2, max_len=32), tok)


def test_no_tensor_larger_than_one_steps_logits_at_gpt2_vocabulary(gpt2_vocab_policy):
    from benchmarks.sampler import sample_upfront
    policy = gpt2_vocab_policy
    B, T, V = 4, 8, policy.vocab_size
    prompts = torch.randint(0, V - 1, (B, 3), generator=torch.Generator().manual_seed(0))
    with LargestTensor() as new:
        ro = pg.sample(policy, prompts, T, generator=torch.Generator().manual_seed(0))
    assert ro.mask.sum() == B * T                                        # every step ran (EOS is 1 in 50,257)
    assert new.largest <= B * V                                          # the model's own (B, V) logits
    with LargestTensor() as old:
        sample_upfront(policy, prompts, T, generator=torch.Generator().manual_seed(0))
    assert old.largest >= B * T * V > B * V                              # the bound the old sampler breaks
