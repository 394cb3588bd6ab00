"""pglab on a GPU: tokens/s and the share of the GPU's bf16 peak for a ~125M-parameter GPT-2, and the TRL ratio.

Model: GPT-2 small's shape (12 layers, width 768, 12 heads, V = 50,257: 124 M parameters) from
``GPT2Config`` with random weights — nothing is downloaded. Everything runs under bf16 autocast
(fp32 weights, fp32 log-softmax). Three measurements, wall time between CUDA synchronisations,
median of ``--repeats``:

* **sampling** — ``pglab.sample`` against ``model.generate(do_sample=True)``: B prompts of 32
  tokens, T new tokens (EOS suppressed by its rarity: every row runs the full T). tokens/s, and
  the share of the bf16 peak at ≈ 2·N FLOPs per generated token (N parameters, attention ignored).
* **an update** — one GRPO update of pglab on those sampled completions (teacher-forced forward
  and backward: ≈ 6·N FLOPs per token), as tokens/s and share of peak.
* **TRL ratio** — ``benchmarks/peers.py``'s comparison (tiny GPT-2, copy task) run on this GPU:
  seconds per update of pglab and TRL's GRPOTrainer, both under bf16 autocast.

The bf16 dense peak is looked up from the device name (H100/H200 SXM: 989 TFLOP/s, A100: 312,
L4: 121, …) or given with ``--peak-tflops``.

    python benchmarks/gpu.py [--B 64] [--T 128] [--repeats 3] [--peak-tflops 989]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0,
                    "RTX 4090": 165.0, "V100": 125.0}


def peak_tflops(name: str, given: float | None) -> float:
    if given:
        return given
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in name:
            return value
    raise SystemExit(f"unknown GPU {name!r}: pass --peak-tflops (its dense bf16 peak)")


def timed(fn, repeats: int) -> float:
    fn()                                                                           # warm-up
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--T", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peak-tflops", type=float, default=None)
    ap.add_argument("--skip-trl", action="store_true")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs CUDA; on a CPU run benchmarks/sampler.py and benchmarks/peers.py")
    import pglab as pg
    from benchmarks.sampler import wide_tokenizer
    from pglab.advantages import group_advantages
    from pglab.algos import grpo, ppo
    name = torch.cuda.get_device_name()
    peak = peak_tflops(name, args.peak_tflops) * 1e12
    tok = wide_tokenizer()
    model = pg.hf.tiny_model(tok, arch="gpt2", n_layers=12, hidden_size=768, n_heads=12, max_len=1024,
                             device="cuda")
    n_params = sum(p.numel() for p in model.parameters())
    policy = pg.hf.policy(model, tok)
    B, T = args.B, args.T
    prompts = torch.randint(0, 50_000, (B, 32), generator=torch.Generator().manual_seed(0)).cuda()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16)

    def ours():
        with autocast:
            return pg.sample(policy, prompts, T, generator=torch.Generator().manual_seed(0))

    def theirs():
        with autocast, torch.no_grad():
            return model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, top_k=0,
                                  top_p=1.0, max_new_tokens=T, min_new_tokens=T, pad_token_id=tok.pad_token_id)

    ro = ours()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)
    returns = torch.randn(B, generator=torch.Generator().manual_seed(1)).cuda()
    adv = group_advantages(returns, 8, "grpo")[:, None] * ro.mask

    def update():
        with autocast:
            out = pg.token_logprobs(policy, ro.prompt_ids, ro.completion_ids)
            per_token, _ = ppo.clipped_surrogate(out.logprobs, ro.old_logprobs, adv, ro.mask, 0.2)
            loss = grpo.aggregate(per_token, ro.mask, "sequence_mean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    s_ours, s_gen, s_upd = timed(ours, args.repeats), timed(theirs, args.repeats), timed(update, args.repeats)
    tokens = B * T
    print(f"{name}: GPT-2 shape, {n_params / 1e6:.0f} M parameters, B = {B}, T = {T}, bf16 autocast; "
          f"bf16 peak {peak / 1e12:.0f} TFLOP/s")
    for label, seconds, flops_per_token in (("pglab.sample", s_ours, 2 * n_params),
                                            ("model.generate", s_gen, 2 * n_params),
                                            ("GRPO update", s_upd, 6 * n_params)):
        n_tok = tokens if label != "GRPO update" else B * (32 + T)
        print(f"{label:<15} {n_tok / seconds:10.0f} tokens/s   {flops_per_token * n_tok / seconds / peak:6.1%} of peak")
    print(f"sample / generate tokens/s = {s_gen / s_ours:.2f}×")
    if not args.skip_trl:
        import benchmarks.peers as peers
        peers.main(["--steps", "8", "--B", "32", "--device", "cuda"])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
