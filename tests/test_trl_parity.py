"""pglab's GRPO and Dr. GRPO against TRL's GRPOTrainer on one fixed batch: the same loss and gradient.

One batch — the same prompts, completions, rewards and old log-probs — goes through
pglab's pieces (``group_advantages``, ``token_logprobs``, ``clipped_surrogate``,
``aggregate`` with the GRPO / Dr. GRPO presets) and through TRL's own loss,
``GRPOTrainer._compute_loss``, on the same tiny GPT-2 (TRL builds its trainer offline
from a config, a tokenizer and a two-row dataset; nothing is downloaded). Where they differ:

* Dr. GRPO: TRL divides the token sum by B × ``max_completion_length`` (Liu et al.'s
  constant generation budget); pglab's "sequence_sum" divides by B only. The two losses
  and gradients differ by that constant factor T_max, which the test divides out (with
  Adam it changes nothing but the effect of gradient clipping and ε).
* TRL scores left-padded prompts with the attention mask only (positions count the
  padding); pglab's adapter also shifts the position ids (:mod:`pglab.hf.policy`). The
  copy task's prompts all have the same length, so the batch here has no padding.
"""
import tempfile

import pytest
import torch

pytest.importorskip("trl")

import pglab as pg  # noqa: E402
from pglab.advantages import group_advantages  # noqa: E402
from pglab.algos import grpo, ppo  # noqa: E402

K, N_PROMPTS, T = 4, 3, 4
PRESETS = {"grpo": (grpo.GRPOConfig(), "group"), "dr_grpo": (grpo.DrGRPOConfig(), "none")}


def trl_trainer(model, tok, loss_type: str, scale_rewards: str):
    """A GRPOTrainer around ``model``, built offline; only its loss is used."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    args = GRPOConfig(output_dir=tempfile.mkdtemp(), use_cpu=True, report_to=[], save_strategy="no",
                      per_device_train_batch_size=K * N_PROMPTS, num_generations=K, max_completion_length=T,
                      loss_type=loss_type, scale_rewards=scale_rewards, beta=0.0, epsilon=0.2,
                      bf16=False)                              # TRL autocasts to bf16 by default, also on the CPU
    trainer = GRPOTrainer(model=model, reward_funcs=[lambda completions, **_: [0.0] * len(completions)], args=args,
                          train_dataset=Dataset.from_dict({"prompt": ["<bos> a b c ="] * 2}), processing_class=tok)
    trainer.current_gradient_accumulation_steps = 1          # set by Trainer's training loop; one step, no accumulation
    return trainer


@pytest.fixture(scope="module")
def batch():
    """Prompts, completions, mask, returns and old log-probs (perturbed so that ρ ≠ 1 and some ratios clip)."""
    task = pg.make_task("copy")
    tok = pg.hf.tokenizer_for_vocab(task.vocab)
    policy = pg.hf.policy(pg.hf.tiny_model(tok, seed=0), tok)
    gen = torch.Generator().manual_seed(0)
    prompts = task.sample_prompts(N_PROMPTS, gen).repeat_interleave(K, 0)
    ro = pg.sample(policy, prompts, T, generator=gen)
    returns = task.reward(prompts, ro.completion_ids, ro.mask).sum(1)
    old = (ro.old_logprobs + 0.3 * torch.randn(ro.mask.shape, generator=gen)) * ro.mask
    return tok, prompts, ro.completion_ids, ro.mask, returns, old


def grads(model) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("loss_type", list(PRESETS))
def test_loss_and_gradient_equal_trls_on_one_batch(batch, loss_type):
    tok, prompts, completions, mask, returns, old = batch
    config, scale = PRESETS[loss_type]
    policy = pg.hf.policy(pg.hf.tiny_model(tok, seed=0), tok)
    trainer = trl_trainer(policy.model, tok, loss_type, scale)
    assert trainer.model is policy.model

    # TRL's advantage (its code inlines it: rewards − group mean, ÷ (group std + 1e-4) unless scale_rewards="none")
    from trl.trainer.utils import nanstd
    grouped = returns.view(-1, K)
    trl_adv = (returns - grouped.mean(1).repeat_interleave(K))
    if scale == "group":
        trl_adv = trl_adv / (nanstd(grouped, dim=1).repeat_interleave(K) + 1e-4)
    adv = group_advantages(returns, K, config.advantage)
    assert torch.allclose(adv, trl_adv, rtol=1e-6, atol=1e-7)
    assert (adv != 0).any()

    # pglab: the same pieces grpo.step's loss uses, with the preset's aggregation
    policy.zero_grad()
    out = pg.token_logprobs(policy, prompts, completions)
    per_token, stats = ppo.clipped_surrogate(out.logprobs, old, adv[:, None] * mask, mask, config.clip_eps)
    ours = grpo.aggregate(per_token, mask, config.aggregation)
    if loss_type == "dr_grpo":
        ours = ours / T                                      # TRL: ÷ (B · max_completion_length); pglab: ÷ B
    ours.backward()
    g_ours = grads(policy.model).clone()
    assert stats["clip_frac"] > 0                            # the clip is exercised, not only ρ = 1

    # TRL: its own loss function on the same tensors
    policy.model.zero_grad()
    inputs = {"prompt_ids": prompts, "prompt_mask": torch.ones_like(prompts), "completion_ids": completions,
              "completion_mask": mask.long(), "advantages": trl_adv, "old_per_token_logps": old}
    theirs = trainer._compute_loss(policy.model, inputs)
    theirs.backward()
    g_theirs = grads(policy.model)

    assert abs(ours.item() - theirs.item()) <= 1e-5 * abs(theirs.item())
    assert (g_ours - g_theirs).norm() <= 1e-5 * g_theirs.norm()


def test_the_parity_test_sees_a_different_aggregation(batch):
    # GRPO's 1/|o_i| against the token sum: the same comparison must report a difference.
    tok, prompts, completions, mask, returns, old = batch
    assert not torch.all(mask.sum(1) == T), "need completions of different lengths"
    policy = pg.hf.policy(pg.hf.tiny_model(tok, seed=0), tok)
    trainer = trl_trainer(policy.model, tok, "grpo", "group")
    adv = group_advantages(returns, K, "grpo")
    out = pg.token_logprobs(policy, prompts, completions)
    per_token, _ = ppo.clipped_surrogate(out.logprobs, old, adv[:, None] * mask, mask, 0.2)
    ours = grpo.aggregate(per_token, mask, "sequence_sum")
    inputs = {"prompt_ids": prompts, "prompt_mask": torch.ones_like(prompts), "completion_ids": completions,
              "completion_mask": mask.long(), "advantages": adv, "old_per_token_logps": old}
    theirs = trainer._compute_loss(policy.model, inputs)
    assert abs(ours.item() - theirs.item()) > 1e-3 * abs(theirs.item())
