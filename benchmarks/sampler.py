"""The per-step sampler at GPT-2's vocabulary: peak memory and tokens/s, as ratios measured in one run.

Model: a tiny GPT-2 config (2 layers, width 64, 4 heads) with V = 50,257 outputs and random
weights; B = 64 prompts of 8 tokens, T = 128 new tokens (EOS is as rare as any token, so every
row runs the full T). Four ways to draw the same-sized batch, each in its own fresh process:

* ``floor``    — the model's own loop: prefill, then T one-token steps with its KV cache, keeping
  only the current (B, V) logits and taking their argmax. Nothing less can sample: its peak is
  "the model's own one-step logits + KV cache", the yardstick for the memory goal (≤ 2×).
* ``sample``   — :func:`pglab.sample` (per-step inverse CDF; records log-probs and entropy).
* ``generate`` — ``model.generate(do_sample=True)``, the yardstick for speed (goal ≥ 0.8×).
* ``upfront``  — the sampler of pglab 0.2.0 (:func:`sample_upfront`: B×T×V uniforms drawn up
  front, Gumbel-max, log-softmax over the whole B×T×V block). At T = 128 its blocks are 1.65 GB
  each (≈ 8 GB at once), so it runs at ``--old-T`` (default 16) and its peak is also shown
  scaled linearly to T.

Memory: peak resident set size of the process during the call minus the resident size just
before it (glibc's mmap threshold is pinned at 64 KiB so freed tensors leave the RSS at once).
Speed: process CPU time with one thread (``torch.set_num_threads(1)``), median of ``--repeats``
calls, the methods taken round-robin so a busy moment of a shared machine hits all of them.

    python benchmarks/sampler.py [--B 64] [--T 128] [--repeats 3] [--old-T 16]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

V_GPT2 = 50_257
PROMPT_LEN = 8


def wide_tokenizer(V: int = V_GPT2):
    """A word-level tokenizer with V tokens ``t0 … t{V-1}``; the last is EOS (and pad), as in GPT-2."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    vocab = {f"t{i}": i for i in range(V - 1)} | {"<|endoftext|>": V - 1}
    core = Tokenizer(models.WordLevel(vocab, unk_token=None))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


@torch.no_grad()
def sample_upfront(policy, prompt_ids: torch.Tensor, max_new_tokens: int, *, generator: torch.Generator,
                   temperature: float = 1.0):
    """pglab 0.2.0's sampler, kept for comparison: B×T×V uniforms up front, Gumbel-max, B×T×V log-softmax.

    Returns ``(tokens (B, T), old_logprobs (B, T))``. Memory O(B·T·V): what the per-step sampler removed.
    """
    from pglab.rollout import completion_mask
    eos, pad = policy.eos_id, policy.pad_id
    device = policy.device
    B, T, V = prompt_ids.shape[0], max_new_tokens, policy.vocab_size
    u = torch.rand(B, T, V, generator=generator).clamp_(1e-20, 1.0).to(device)
    gumbel = -torch.log(-torch.log(u))                                          # (B, T, V)
    tokens = torch.full((B, T), pad, dtype=torch.long, device=device)
    scaled = torch.zeros(B, T, V, device=device)
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    logits, state = policy.prefill(prompt_ids.to(device))
    for t in range(T):
        scaled[:, t] = logits.float() / temperature
        tok = (scaled[:, t] + gumbel[:, t]).argmax(-1)
        tokens[:, t] = tok.masked_fill(finished, pad)
        finished |= tok == eos
        if t + 1 == T or bool(finished.all()):
            break
        logits, state = policy.step(tokens[:, t], state)
    mask = completion_mask(tokens, eos)
    logp = F.log_softmax(scaled, -1)
    old = logp.gather(-1, tokens[..., None]).squeeze(-1) * mask
    entropy = -(logp.exp() * logp).sum(-1) * mask                               # noqa: F841 (as it was)
    return tokens, old


def build(B: int, seed: int = 0):
    import pglab as pg
    tok = wide_tokenizer()
    model = pg.hf.tiny_model(tok, arch="gpt2", n_layers=2, hidden_size=64, n_heads=4, max_len=512, seed=seed)
    prompts = torch.randint(0, V_GPT2 - 1, (B, PROMPT_LEN), generator=torch.Generator().manual_seed(seed))
    return pg, tok, model, pg.hf.policy(model, tok), prompts


@torch.no_grad()
def floor_loop(model, prompts: torch.Tensor, T: int) -> torch.Tensor:
    """The model's own minimum: prefill, T cached steps, only the current logits kept."""
    out = model(input_ids=prompts, use_cache=True, logits_to_keep=1)
    past, tok = out.past_key_values, out.logits[:, -1].argmax(-1)
    del out
    for _ in range(T - 1):
        out = model(input_ids=tok[:, None], past_key_values=past, use_cache=True)
        past, tok = out.past_key_values, out.logits[:, -1].argmax(-1)
        del out
    return tok


def run(method: str, built, T: int, seed: int = 0):
    pg, tok, model, policy, prompts = built
    gen = torch.Generator().manual_seed(seed)
    if method == "floor":
        return floor_loop(model, prompts, T)
    if method == "sample":
        return pg.sample(policy, prompts, T, generator=gen)
    if method == "generate":
        torch.manual_seed(seed)
        return model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, top_k=0, top_p=1.0,
                              max_new_tokens=T, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    if method == "upfront":
        return sample_upfront(policy, prompts, T, generator=gen)
    raise ValueError(f"method must be floor, sample, generate or upfront, got {method!r}")


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(method: str, B: int, T: int, repeats: int) -> dict:
    """Runs in a fresh process: one memory measurement, then ``repeats`` timed calls."""
    torch.set_num_threads(1)
    built = build(B)
    run(method, built, 2, 0)                                      # warm up (lazy imports, first-call allocations)
    before = rss_bytes()
    reset_peak = Path("/proc/self/clear_refs")
    try:
        reset_peak.write_text("5")                              # reset the kernel's peak RSS (VmHWM)
        hwm = True
    except OSError:
        hwm = False
    run(method, built, T, 0)
    peak = (_vm_hwm() if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) - before
    times = []
    for r in range(repeats):
        t0 = time.process_time()
        run(method, built, T, r)
        times.append(time.process_time() - t0)
    return {"method": method, "peak_bytes": peak, "seconds": statistics.median(times), "tokens": B * T}


def _vm_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(method: str, B: int, T: int, repeats: int) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--child", method, "--B", str(B), "--T", str(T), "--repeats", str(repeats)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--T", type=int, default=128)
    ap.add_argument("--old-T", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.B, args.T, args.repeats)))
        return
    B, T = args.B, args.T
    rows = {m: measure(m, B, T, args.repeats) for m in ("floor", "sample", "generate")}
    old = measure("upfront", B, args.old_T, args.repeats)
    mb = lambda b: b / 2 ** 20  # noqa: E731
    tps = {m: r["tokens"] / r["seconds"] for m, r in rows.items()}
    print(f"V = {V_GPT2:,}, B = {B}, T = {T}, tiny GPT-2 (2 layers, width 64); one thread, CPU time; "
          f"one (B, V) float32 block = {mb(B * V_GPT2 * 4):.1f} MiB")
    print(f"{'method':<10} {'peak MiB':>9} {'tokens/s':>10}")
    for m, r in rows.items():
        print(f"{m:<10} {mb(r['peak_bytes']):9.1f} {tps[m]:10.0f}")
    old_tps = old["tokens"] / old["seconds"]
    print(f"{'upfront':<10} {mb(old['peak_bytes']):9.1f} {old_tps:10.0f}   at T = {args.old_T}; "
          f"≈ {mb(old['peak_bytes']) * T / args.old_T:,.0f} MiB scaled to T = {T}")
    print(f"memory: sample / (model's own one-step logits + KV cache) = "
          f"{rows['sample']['peak_bytes'] / rows['floor']['peak_bytes']:.2f}×  (goal ≤ 2×)")
    print(f"speed:  sample / generate(do_sample=True) = {tps['sample'] / tps['generate']:.2f}×  (goal ≥ 0.8×)")
    print(f"memory: generate / floor = {rows['generate']['peak_bytes'] / rows['floor']['peak_bytes']:.2f}×")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
