"""pglab beside TRL's GRPOTrainer: seconds per update, completions/s and peak memory, as ratios measured in one run.

Both train the same tiny GPT-2 (2 layers, width 64, random weights, seed 0) with the same
word-level tokenizer (:func:`pglab.hf.tokenizer_for_vocab`) on the same task (copy, 3 letters:
prompts ``<bos> c a b =``, completions of at most T = 4 tokens, per-token match reward summed
over the completion), the same B completions per update in groups of K, the same learning rate
(Adam, constant, no weight decay, gradient norm clipped at 1), one gradient step per batch
(TRL's μ = 1 and pglab's epochs = minibatches = 1), β = 0, and the same loss type:

* ``grpo``    — TRL ``loss_type="grpo"``, ``scale_rewards="group"``; pglab ``algo="grpo"``.
* ``dr_grpo`` — TRL ``loss_type="dr_grpo"``, ``scale_rewards="none"``; pglab ``algo="dr_grpo"``
  (TRL divides the loss by B·T_max, pglab by B: the same direction, a constant apart).

TRL runs in float32 (``bf16=False``: its default autocasts to bf16, also on a CPU). Each
framework runs in its own fresh process, one after the other, ``--repeats`` times round-robin.
The clock is process CPU time with one thread, per update (a TrainerCallback for TRL, a
``train`` callback for pglab), median over the updates after the first; memory is the peak
resident set (CUDA: allocated memory) over those updates minus the level before them.

    python benchmarks/peers.py [--B 32] [--K 4] [--steps 8] [--repeats 1] [--lr 1e-3] [--device cpu]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

LOSS = {"grpo": ("grpo", "group"), "dr_grpo": ("dr_grpo", "none")}


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def _reset_hwm() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def setup(seed: int = 0, device: str = "cpu"):
    import pglab as pg
    task = pg.make_task("copy", length=3)
    tok = pg.hf.tokenizer_for_vocab(task.vocab)
    model = pg.hf.tiny_model(tok, arch="gpt2", n_layers=2, hidden_size=64, n_heads=4, seed=seed, device=device)
    return pg, task, tok, model


class Memory:
    """Peak memory during a block: resident set on the CPU, allocated CUDA memory on a GPU."""

    def __init__(self, device: str) -> None:
        self.cuda = device == "cuda"

    def __enter__(self) -> "Memory":
        return self.restart()

    def restart(self) -> "Memory":
        """Forget the peak so far: measure from here (TRL: after its first update, as pglab after its warm-up)."""
        if self.cuda:
            torch.cuda.synchronize()
            self.before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.before = _rss()
            _reset_hwm()
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.peak = (torch.cuda.max_memory_allocated() if self.cuda else _hwm()) - self.before


def _clock(device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def run_pglab(loss: str, B: int, K: int, steps: int, lr: float, device: str = "cpu") -> dict:
    from contextlib import nullcontext
    pg, task, tok, model = setup(device=device)
    policy = pg.hf.policy(model, tok)
    config = (pg.algos.grpo.GRPOConfig if loss == "grpo" else pg.algos.grpo.DrGRPOConfig)(batch_size=B, group_size=K)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else nullcontext()
    with autocast:
        pg.train.train(policy, task, loss, config, steps=1, lr=lr, seed=1)          # warm-up
        marks = [_clock(device)]
        with Memory(device) as mem:
            pg.train.train(policy, task, loss, config, steps=steps, lr=lr, seed=0,
                           callbacks=[lambda *_: marks.append(_clock(device))])
    return _summary(marks, mem.peak, B)


def run_trl(loss: str, B: int, K: int, steps: int, lr: float, device: str = "cpu") -> dict:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer
    pg, task, tok, model = setup(device="cpu")
    n_prompts = B // K * (steps + 2)
    prompts = task.sample_prompts(n_prompts, torch.Generator().manual_seed(0))
    texts = [tok.decode(p) for p in prompts]                                          # "<bos> c a b ="

    def reward(prompts, completions, completion_ids, **_):                             # the task's own reward
        P = torch.tensor([tok(p).input_ids for p in prompts])
        ids = torch.full((len(completion_ids), task.max_new_tokens), tok.pad_token_id)
        for i, c in enumerate(completion_ids):
            ids[i, :len(c)] = torch.tensor(c[:task.max_new_tokens])
        mask = pg.rollout.completion_mask(ids, tok.eos_token_id)
        return task.reward(P, ids, mask).sum(1).tolist()

    loss_type, scale = LOSS[loss]
    args = GRPOConfig(output_dir=tempfile.mkdtemp(), use_cpu=device == "cpu", bf16=device == "cuda", report_to=[], save_strategy="no",
                      logging_steps=10 ** 6, per_device_train_batch_size=B, num_generations=K,
                      max_completion_length=task.max_new_tokens, learning_rate=lr, lr_scheduler_type="constant",
                      weight_decay=0.0, max_grad_norm=1.0, loss_type=loss_type, scale_rewards=scale, beta=0.0,
                      max_steps=steps + 1, temperature=1.0, top_p=1.0, seed=0, dataloader_num_workers=0)
    marks: list[float] = []

    mem = Memory(device)

    class Clock(TrainerCallback):
        def on_step_end(self, *_, **__):
            marks.append(_clock(device))
            if len(marks) == 1:
                mem.restart()                                  # the first update was the warm-up

    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, processing_class=tok,
                          train_dataset=Dataset.from_dict({"prompt": texts}), callbacks=[Clock()])
    with mem:
        trainer.train()
    return _summary(marks, mem.peak, B)         # marks[0] ends the first update: the warm-up


def _summary(marks: list[float], peak: int, B: int) -> dict:
    per_update = statistics.median(b - a for a, b in zip(marks, marks[1:]))
    return {"seconds_per_update": per_update, "completions_per_s": B / per_update, "peak_bytes": peak}


def measure(framework: str, loss: str, args) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--child", framework, "--loss", loss, "--B", str(args.B), "--K", str(args.K),
           "--steps", str(args.steps), "--lr", str(args.lr), "--device", args.device]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--K", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--loss", default=None, choices=list(LOSS))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="cuda: both under bf16 autocast, wall time between synchronisations, CUDA memory")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        torch.set_num_threads(1)
        run = run_pglab if args.child == "pglab" else run_trl
        print(json.dumps(run(args.loss, args.B, args.K, args.steps, args.lr, args.device)))
        return
    print(f"B = {args.B} completions per update (K = {args.K}), {args.steps} timed updates, tiny GPT-2 "
          f"(2 layers, width 64), copy task, T = 4; " + ("one thread, CPU time; float32 both" if args.device == "cpu"
                                                         else "CUDA, wall time; bf16 autocast both"))
    print(f"{'loss':<8} {'framework':<9} {'s/update':>9} {'compl./s':>9} {'peak MiB':>9}")
    for loss in ([args.loss] if args.loss else list(LOSS)):
        runs = {"pglab": [], "trl": []}
        for _ in range(args.repeats):
            for fw in runs:                                                             # round-robin
                runs[fw].append(measure(fw, loss, args))
        med = {fw: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for fw, rs in runs.items()}
        for fw, m in med.items():
            print(f"{loss:<8} {fw:<9} {m['seconds_per_update']:9.4f} {m['completions_per_s']:9.1f} "
                  f"{m['peak_bytes'] / 2 ** 20:9.1f}")
        p, t = med["pglab"], med["trl"]
        print(f"{loss:<8} pglab/TRL: speed {t['seconds_per_update'] / p['seconds_per_update']:.2f}× "
              f"(goal ≥ 1.0×), completions/s {p['completions_per_s'] / t['completions_per_s']:.2f}×, "
              f"peak memory {p['peak_bytes'] / max(t['peak_bytes'], 1):.2f}×")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
