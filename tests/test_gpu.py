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


@pytest.mark.parametrize("algo,config,value_head", [
    ("reinforce", pg.ReinforceConfig(batch_size=32, baseline="none", returns="total"), None),
    ("reinforce", pg.ReinforceConfig(batch_size=32, baseline="leave_one_out", group_size=4), None),
    ("reinforce", pg.ReinforceConfig(batch_size=32, baseline="greedy"), None),
    ("reinforce", pg.ReinforceConfig(batch_size=32, baseline="value"), "separate"),
    ("reinforce", pg.ReinforceConfig(batch_size=32, returns="discounted_reward_to_go", gamma=0.9), None),
    ("a2c", pg.A2CConfig(batch_size=32), "separate"),
    ("a2c", pg.A2CConfig(batch_size=32, advantage="nstep", n_steps=2), "shared"),
])
def test_every_algorithm_trains_on_cuda_like_on_the_cpu(algo, config, value_head):
    # The sampler draws its uniforms on the CPU, so the first update sees the same tokens on both devices.
    task = pg.make_task("copy")
    runs = {}
    for device in ("cpu", "cuda"):
        policy = pg.make_policy("gru", len(task.vocab), value_head=value_head, seed=0, device=device)
        runs[device] = pg.train.train(policy, task, algo=algo, config=config, steps=3, lr=1e-3, seed=0)
    assert runs["cpu"]["reward/mean"][0] == runs["cuda"]["reward/mean"][0]
    assert abs(runs["cpu"]["loss/policy"][0] - runs["cuda"]["loss/policy"][0]) < 1e-3


def test_gradient_meter_and_exact_gradient_on_cuda():
    tiny = pg.exact.tiny_problem(device="cuda")
    J, grad_J = tiny.gradient()
    assert grad_J.is_cuda
    g = pg.gradients.batch_gradients(tiny.policy, tiny.task, "reward_to_go", batch_size=16, n_batches=20)
    report = pg.gradients.report("rtg", g, grad_J)
    assert report.bias < 5 * report.noise_floor
    z = pg.gradients.z_scores(g, grad_J, torch.eye(g.shape[1])[:4])      # directions on the CPU on purpose
    assert z.shape == (4,)


def test_race_trains_and_measures_on_cuda():
    race = pg.race.Race(pg.race.RaceConfig(steps=10, measure_every=5, device="cuda", batch_size=16))
    race.run()
    assert all(r.policy.device.type == "cuda" for r in race.runs)
    assert all(len(m) >= 2 for m in race.meter.values())


# ----- Hugging Face models (pglab.hf) and the per-step sampler on CUDA ---------------------------------------------

def _hf(arch="gpt2", dtype=torch.float32, **sizes):
    pytest.importorskip("transformers")
    task = pg.make_task("copy")
    tok = pg.hf.tokenizer_for_vocab(task.vocab)
    return task, tok, pg.hf.policy(pg.hf.tiny_model(tok, arch=arch, dtype=dtype, device="cuda", **sizes), tok)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_hf_adapter_samples_and_scores_on_cuda_under_bf16_autocast(arch):
    task, _, policy = _hf(arch)
    gen = torch.Generator().manual_seed(0)
    prompts = task.sample_prompts(32, gen)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        ro = pg.sample(policy, prompts, task.max_new_tokens, generator=gen)
        out = pg.token_logprobs(policy, ro.prompt_ids, ro.completion_ids)
    assert ro.completion_ids.is_cuda and ro.old_logprobs.dtype == out.logprobs.dtype == torch.float32
    assert torch.allclose(out.logprobs * ro.mask, ro.old_logprobs, atol=0.1)        # bf16 logits, fp32 softmax


def test_hf_policy_trains_with_every_group_algorithm_on_cuda_under_autocast():
    task, _, policy = _hf()
    for algo in ("rloo", "grpo", "dr_grpo"):
        config = pg.algos.ALGOS[algo][0](batch_size=16, group_size=4)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            h = pg.train.train(policy, task, algo=algo, config=config, steps=2, lr=1e-3)
        assert all(torch.isfinite(torch.tensor(v)) for v in h.rows[-1].values())


def test_bf16_weights_on_cuda_give_float32_logprobs():
    task, _, policy = _hf(dtype=torch.bfloat16)
    gen = torch.Generator().manual_seed(0)
    ro = pg.sample(policy, task.sample_prompts(16, gen), task.max_new_tokens, generator=gen)
    assert ro.old_logprobs.dtype == torch.float32 and torch.isfinite(ro.old_logprobs).all()


def test_hf_sampler_draws_the_same_tokens_on_cpu_and_cuda():
    pytest.importorskip("transformers")
    task = pg.make_task("copy")
    tok = pg.hf.tokenizer_for_vocab(task.vocab)
    prompts = task.sample_prompts(64, torch.Generator().manual_seed(0))
    tokens = {}
    for device in ("cpu", "cuda"):
        policy = pg.hf.policy(pg.hf.tiny_model(tok, seed=0, device=device), tok)
        tokens[device] = pg.sample(policy, prompts, 6, generator=torch.Generator().manual_seed(1)).completion_ids.cpu()
    assert (tokens["cpu"] == tokens["cuda"]).float().mean() > 0.99      # equal up to a rounding tie at a CDF edge


def test_sampler_memory_at_gpt2_vocabulary_is_within_twice_the_models_own_loop():
    pytest.importorskip("transformers")
    from benchmarks.sampler import floor_loop, wide_tokenizer
    tok = wide_tokenizer()
    model = pg.hf.tiny_model(tok, n_layers=2, hidden_size=64, n_heads=4, max_len=512, device="cuda")
    policy = pg.hf.policy(model, tok)
    B, T = 64, 128
    prompts = torch.randint(0, 50_000, (B, 8), generator=torch.Generator().manual_seed(0)).cuda()
    peaks = {}
    for name, fn in {"floor": lambda: floor_loop(model, prompts, T),
                     "sample": lambda: pg.sample(policy, prompts, T, generator=torch.Generator().manual_seed(0))}.items():
        fn()
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        peaks[name] = torch.cuda.max_memory_allocated() - base
    assert peaks["sample"] <= 2 * peaks["floor"], peaks
