"""GPU checks: skipped cleanly when CUDA is absent."""
import pytest
import torch

import pglab as pg

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")]


@pytest.mark.parametrize("kind", ["gru", "lstm", "transformer"])
def test_training_on_cuda_keeps_every_tensor_on_the_device(kind):
    task = pg.make_task("copy")
    policy = pg.make_policy(kind, len(task.vocab), value_head="shared", device="cuda")
    gen = torch.Generator().manual_seed(0)
    ro = pg.sample(policy, task.sample_prompts(32, gen), task.max_new_tokens, generator=gen)
    assert all(t.is_cuda for t in (ro.completion_ids, ro.mask, ro.old_logprobs, ro.values))
    out = pg.token_logprobs(policy, ro.prompt_ids, ro.completion_ids)
    assert torch.allclose(out.logprobs * ro.mask, ro.old_logprobs, atol=1e-4)
    h = pg.train.train(policy, task, steps=60, lr=3e-3)
    assert sum(h["reward/mean"][-10:]) > sum(h["reward/mean"][:10])


def test_auto_device_picks_cuda():
    assert pg.resolve_device("auto").type == "cuda"
