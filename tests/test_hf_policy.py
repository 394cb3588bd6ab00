"""pglab.hf: a Hugging Face causal LM held to the same policy contract as pglab's own policies.

Every model here is a tiny random one built from its config; nothing is downloaded.
"""
import subprocess
import sys

import pytest
import torch

pytest.importorskip("transformers")

import pglab as pg  # noqa: E402
from pglab import exact  # noqa: E402
from pglab import gradients as G  # noqa: E402
from pglab.algos import ALGOS, grpo, ppo  # noqa: E402
from pglab.policies import PolicyProtocol  # noqa: E402
from pglab.tasks import FixedPrompts  # noqa: E402


@pytest.fixture(scope="module")
def task():
    return pg.make_task("copy")                      # V = 8: <pad> <bos> <eos> a b c d =


@pytest.fixture(scope="module")
def tok(task):
    return pg.hf.tokenizer_for_vocab(task.vocab)


def hf_policy(tok, arch="gpt2", value_head=None, seed=0, **sizes):
    return pg.hf.policy(pg.hf.tiny_model(tok, arch=arch, seed=seed, **sizes), tok, value_head=value_head)


def left_padded(rows, pad_id):
    """Prompts of different lengths, left-padded to the longest: (B, P)."""
    P = max(len(r) for r in rows)
    return torch.tensor([[pad_id] * (P - len(r)) + r for r in rows])


def test_both_kinds_of_policy_meet_the_protocol(tok):
    own, hf = pg.make_policy("gru", 8), hf_policy(tok)
    for policy in (own, hf):
        assert isinstance(policy, PolicyProtocol)
    assert (own.eos_id, own.pad_id) == (hf.eos_id, hf.pad_id) == (2, 0)
    assert hf.vocab_size == len(tok) == 8


def test_tokenizer_for_vocab_keeps_pglab_ids(task, tok):
    text = "a b c ="
    assert tok(text).input_ids == task.vocab.encode(text)
    assert tok.decode([3, 4, 2, 0], skip_special_tokens=True) == task.vocab.decode([3, 4, 2, 0])


def test_special_ids_come_from_the_tokenizer(tok):
    class Shifted:                                   # a foreign tokenizer: EOS and pad elsewhere
        eos_token_id, pad_token_id = 5, 7
        def __len__(self): return 8
    policy = pg.hf.policy(pg.hf.tiny_model(tok), Shifted())
    gen = torch.Generator().manual_seed(0)
    ro = pg.sample(policy, torch.tensor([[1, 3, 4]] * 64), 6, generator=gen)
    ids = ro.completion_ids
    ended = (ids == 5).any(1)
    assert ended.any(), "some row should draw id 5 within 6 tokens"
    for row, m in zip(ids[ended], ro.mask[ended]):
        k = int((row == 5).nonzero()[0])
        assert m[:k + 1].eq(1).all() and m[k + 1:].eq(0).all() and row[k + 1:].eq(7).all()
    assert not ((ids == 2) & (ro.mask == 0)).any()   # pglab's EOS id 2 is an ordinary token here


@pytest.mark.parametrize("arch", pg.hf.ARCHS)
def test_sampled_logprobs_equal_token_logprobs(task, tok, arch):
    policy = hf_policy(tok, arch, value_head="shared")
    gen = torch.Generator().manual_seed(0)
    prompts = task.sample_prompts(16, gen)
    ro = pg.sample(policy, prompts, task.max_new_tokens, generator=gen, temperature=0.7)
    out = pg.token_logprobs(policy, prompts, ro.completion_ids, temperature=0.7)
    assert ro.mask.sum() > 16
    assert torch.allclose(out.logprobs * ro.mask, ro.old_logprobs, atol=1e-5)
    assert torch.allclose(out.entropy * ro.mask, ro.entropy, atol=1e-5)
    assert torch.allclose(out.values * ro.mask, ro.values, atol=1e-5)


def test_dropout_stays_off_so_sampling_and_scoring_see_the_same_policy(task, tok):
    model = pg.hf.tiny_model(tok, resid_pdrop=0.3, embd_pdrop=0.3, attn_pdrop=0.3)   # as a pretrained GPT-2 has
    policy = pg.hf.policy(model, tok).train()
    assert policy.training and not model.training
    gen = torch.Generator().manual_seed(0)
    prompts = task.sample_prompts(16, gen)
    ro = pg.sample(policy, prompts, task.max_new_tokens, generator=gen)
    out = pg.token_logprobs(policy, prompts, ro.completion_ids)
    assert torch.allclose(out.logprobs * ro.mask, ro.old_logprobs, atol=1e-5)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_a_left_padded_batch_scores_each_row_as_it_scores_alone(tok, arch):
    policy = hf_policy(tok, arch)
    rows = [[1, 3], [1, 4, 5, 6, 3], [1, 6, 5, 4]]                        # <bos> and 1, 4 or 3 letters
    prompts = left_padded(rows, policy.pad_id)
    gen = torch.Generator().manual_seed(3)
    ro = pg.sample(policy, prompts, 6, generator=gen)
    batch = pg.token_logprobs(policy, prompts, ro.completion_ids).logprobs * ro.mask
    assert torch.allclose(batch, ro.old_logprobs, atol=1e-5)
    for i, row in enumerate(rows):
        alone = pg.token_logprobs(policy, torch.tensor([row]), ro.completion_ids[i:i + 1]).logprobs * ro.mask[i]
        assert torch.allclose(alone[0], ro.old_logprobs[i], atol=1e-5), f"row {i}"
        greedy_alone = pg.sample(policy, torch.tensor([row]), 6, generator=gen, greedy=True).completion_ids[0]
        greedy_batch = pg.sample(policy, prompts, 6, generator=gen, greedy=True).completion_ids[i]
        assert torch.equal(greedy_alone, greedy_batch), f"row {i}"


@pytest.mark.parametrize("arch", ["gpt2", "qwen2"])
def test_greedy_sampling_equals_generate(tok, arch):
    policy = hf_policy(tok, arch, seed=1)
    prompts = left_padded([[1, 3, 4, 5, 7], [1, 6, 7], [1, 4, 4, 7], [1, 5, 3, 6, 7]], policy.pad_id)
    T = 8
    ro = pg.sample(policy, prompts, T, generator=torch.Generator().manual_seed(0), greedy=True)
    mask = pg.hf.prompt_mask(prompts, policy.pad_id)
    out = policy.model.generate(prompts, attention_mask=mask, do_sample=False, max_new_tokens=T,
                                eos_token_id=policy.eos_id, pad_token_id=policy.pad_id)
    expected = out[:, prompts.shape[1]:]
    expected = torch.cat([expected, expected.new_full((len(prompts), T - expected.shape[1]), policy.pad_id)], 1)
    assert torch.equal(ro.completion_ids, expected)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_every_algorithm_updates_an_hf_policy(task, tok, algo):
    config_cls, _ = ALGOS[algo]
    sizes = {"batch_size": 8}
    if algo in ("rloo", "grpo", "dr_grpo"):
        sizes["group_size"] = 4
    if algo == "ppo":
        sizes.update(epochs=1, minibatches=2)
    value_head = "separate" if algo in ("a2c", "ppo") else None
    policy = hf_policy(tok, value_head=value_head)
    before = {n: p.detach().clone() for n, p in policy.actor_parameters().items()}
    history = pg.train.train(policy, task, algo=algo, config=config_cls(**sizes), steps=1, lr=1e-2)
    moved = max((p.detach() - before[n]).abs().max().item() for n, p in policy.actor_parameters().items())
    assert moved > 1e-4 and len(history) == 1
    assert all(torch.isfinite(torch.tensor(v)) for v in history.rows[0].values())


def test_kl_penalty_against_a_frozen_hf_reference(task, tok):
    policy, reference = hf_policy(tok, seed=0), hf_policy(tok, seed=0)
    config = grpo.GRPOConfig(batch_size=8, group_size=4, kl_coef=0.1)
    history = pg.train.train(policy, task, algo="grpo", config=config, steps=2, lr=1e-2, reference=reference)
    assert history["kl"][0] == pytest.approx(0.0, abs=1e-6)   # the same weights: no KL at the first step
    assert history["kl"][1] != 0.0


@pytest.fixture(scope="module")
def tiny_hf(tok):
    """The enumerable problem of pglab.exact.tiny_problem (V = 8, T = 4, 2 prompts) on a 1-layer GPT-2."""
    base = pg.make_task("copy", length=3)
    prompts = base.sample_prompts(2, torch.Generator().manual_seed(0))
    task = FixedPrompts(base, prompts)
    policy = hf_policy(tok, n_layers=1, hidden_size=16, n_heads=2, max_len=16)
    _, grad_J = exact.gradient(policy, task, prompts)
    directions = torch.cat([grad_J[None] / grad_J.norm(),
                            torch.randn(8, grad_J.numel(), generator=torch.Generator().manual_seed(7))])
    return task, policy, grad_J, directions


def _max_z(tiny_hf, estimator):
    task, policy, grad_J, directions = tiny_hf
    g = G.batch_gradients(policy, task, estimator, batch_size=16, n_batches=300, seed=0, method="batch")
    return G.z_scores(g, grad_J, directions).abs().max().item()


def test_exact_enumeration_on_an_hf_policy_sums_to_one(tiny_hf):
    task, policy, grad_J, _ = tiny_hf
    assert exact.total_probability(policy, task, task.prompts[0]) == pytest.approx(1.0, abs=1e-5)
    assert grad_J.norm() > 0


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["reinforce", "rloo"])
def test_reinforce_and_rloo_are_unbiased_on_an_hf_policy(tiny_hf, estimator):
    assert _max_z(tiny_hf, estimator) < G.bonferroni_threshold(len(tiny_hf[3]), 1e-3)


@pytest.mark.slow
def test_the_z_test_has_power_on_an_hf_policy(tiny_hf):
    # The same test rejects a biased estimator (reward so far, the article's) at the same sample size.
    assert _max_z(tiny_hf, "article") > G.bonferroni_threshold(len(tiny_hf[3]), 1e-3)


def test_per_sample_gradients_loop_and_equal_the_batch_gradient(tiny_hf):
    task, policy, _, _ = tiny_hf
    gen = torch.Generator().manual_seed(0)
    prompts, completions, weights = G.sample_weights(G.ESTIMATORS["reward_to_go"], policy, task, 4, gen, {})
    per_sample = G.per_sample_gradients(policy, prompts, completions, weights)       # loops: vmappable = False
    assert torch.allclose(per_sample.mean(0), G._batch_gradient(policy, prompts, completions, weights), atol=1e-6)


def test_the_meter_measures_an_hf_policy(task, tok):
    from pglab.lab import meter
    policy = hf_policy(tok)
    critic = hf_policy(tok, value_head="separate")
    ests = {meter.YARDSTICK: G.ESTIMATORS["reinforce"], "a2c": G.ESTIMATORS["a2c"]}
    point = meter.measure(0, "x", policy, ests, task, batch_size=8, n_batches=4, seed=0, critic_source=critic,
                          critic_steps=2)
    assert set(point.variance) == set(ests) and point.critic_fit is not None


def test_bf16_weights_give_float32_logprobs(task, tok):
    policy = pg.hf.policy(pg.hf.tiny_model(tok, dtype=torch.bfloat16), tok)
    gen = torch.Generator().manual_seed(0)
    prompts = task.sample_prompts(8, gen)
    ro = pg.sample(policy, prompts, task.max_new_tokens, generator=gen)
    out = pg.token_logprobs(policy, prompts, ro.completion_ids)
    assert ro.old_logprobs.dtype == out.logprobs.dtype == torch.float32
    assert torch.allclose(out.logprobs * ro.mask, ro.old_logprobs, atol=0.1)    # bf16 logits, fp32 softmax


def test_tiny_models_are_seeded_and_sized(tok):
    a, b = pg.hf.tiny_model(tok, arch="llama", seed=3), pg.hf.tiny_model(tok, arch="llama", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.config.vocab_size == len(tok) and a.config.eos_token_id == tok.eos_token_id
    with pytest.raises(ValueError, match="arch"):
        pg.hf.tiny_model(tok, arch="bert")
    with pytest.raises(ValueError, match="hidden_size"):
        pg.hf.tiny_model(tok, hidden_size=30, n_heads=4)
    with pytest.raises(ValueError, match="value_head"):
        pg.hf.policy(a, tok, value_head="both")


def test_import_pglab_works_without_transformers():
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('transformers', 'tokenizers'):\n"
            "            raise ModuleNotFoundError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import pglab\n"
            "try:\n"
            "    pglab.hf\n"
            "except ModuleNotFoundError as err:\n"
            "    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "pglab[hf]"' in out.stdout
