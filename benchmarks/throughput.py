"""Throughput of a REINFORCE update, per policy type, measured side by side in one run.

For each policy at the default size (GRU/LSTM: embed 64, hidden 128; Transformer:
d_model 64, 2 layers, 4 heads — about 0.1 M parameters each)
on the copy task with T = 16 completion tokens and B = 256:

* tokens/s of a batched REINFORCE update (sampled and trained: B·T per update);
* tokens/s of the source article's loop on the same model (one sequence at a
  time, the whole prefix re-run every token, an optimizer step after every token);
* the update's achieved FLOP/s (FLOPs counted by torch's FlopCounterMode) as a
  fraction of this machine's matmul FLOP/s at the *same shapes*: every mm/addmm/bmm
  the update issues is recorded and replayed alone, back to back;
* peak resident memory of the default ``python -m pglab compare`` run.

EOS is disabled (its logit bias set very low) in both loops so every sequence has
exactly T tokens and the two count the same work. Targets: ≥100× the article's
tokens/s; ≥60 % of the same-shape matmul rate for the GRU.

    python benchmarks/throughput.py [--quick]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

import pglab as pg
from pglab.algos import reinforce
from pglab.algos.article import article_episode
from pglab.vocab import EOS_ID

MATMULS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default}


class MatmulRecorder(TorchDispatchMode):
    """Records the operand shapes of every matmul dispatched while active."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in MATMULS:
            self.calls.append((func, [a.shape if isinstance(a, torch.Tensor) else a for a in args]))
        return func(*args, **(kwargs or {}))


def replay_seconds(calls: list[tuple], repeats: int) -> float:
    """Time the recorded matmuls alone (fresh operands of the same shapes)."""
    ops = [(f, [torch.randn(s) if isinstance(s, torch.Size) else s for s in shapes]) for f, shapes in calls]
    for f, a in ops:
        f(*a)
    start = time.perf_counter()
    for _ in range(repeats):
        for f, a in ops:
            f(*a)
    return (time.perf_counter() - start) / repeats


def setup(kind: str, task):
    policy = pg.make_policy(kind, len(task.vocab))
    with torch.no_grad():
        policy.lm_head.bias[EOS_ID] = -30.0  # every sequence runs the full horizon
    return policy, torch.optim.Adam(policy.parameters(), lr=1e-4)


def batched(kind: str, task, batch: int, repeats: int) -> dict[str, float]:
    policy, opt = setup(kind, task)
    cfg = pg.ReinforceConfig(batch_size=batch)
    gen = torch.Generator().manual_seed(0)
    state: dict = {}
    reinforce.step(policy, opt, task, cfg, gen, state)  # warm-up
    # Count on the unrolled path: the same arithmetic, but every matmul is visible to
    # the counter (oneDNN's fused LSTM kernel is not).
    policy.set_fused(False)
    with FlopCounterMode(display=False) as counter, MatmulRecorder() as rec:
        reinforce.step(policy, opt, task, cfg, gen, state)
    policy.set_fused(True)
    start = time.perf_counter()
    for _ in range(repeats):
        reinforce.step(policy, opt, task, cfg, gen, state)
    seconds = (time.perf_counter() - start) / repeats
    mm_seconds = replay_seconds(rec.calls, repeats)
    flops = counter.get_total_flops()
    return {"tok_s": batch * task.max_new_tokens / seconds, "flops": flops / seconds,
            "mm_flops": flops / mm_seconds, "update_ms": 1e3 * seconds}


def article(kind: str, task, episodes: int) -> float:
    policy, opt = setup(kind, task)
    gen = torch.Generator().manual_seed(0)
    prompts = task.sample_prompts(episodes + 1, gen)
    article_episode(policy, opt, task, prompts[:1], gen)  # warm-up
    start, tokens = time.perf_counter(), 0
    for i in range(1, episodes + 1):
        tokens += int(article_episode(policy, opt, task, prompts[i:i + 1], gen)["len/mean"])
    return tokens / (time.perf_counter() - start)


PEAK_RSS = """
import sys
from pglab.cli import main
main(["compare", "--out", sys.argv[1], "--no-progress"])
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(int(hwm.split()[1]) // 1024)
"""


def compare_peak_rss_mb() -> int:
    """Peak RSS (VmHWM) of a fresh process running the default compare job, in MB.

    Read from /proc in the child itself: getrusage(RUSAGE_CHILDREN) would also
    count the parent's pages inherited at fork."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", PEAK_RSS, out], check=True, capture_output=True, text=True)
    return int(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--batch", type=int, default=256, help="batch size B of the batched update")
    args = parser.parse_args()
    torch.manual_seed(0)
    task = pg.make_task("copy", length=15)  # T = 16 with EOS
    repeats, episodes = (2, 2) if args.quick else (10, 8)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, B={args.batch}, T={task.max_new_tokens}")
    header = f"{'policy':<12}{'update ms':>10}{'batched tok/s':>15}{'article tok/s':>15}{'speed-up':>10}" \
             f"{'GFLOP/s':>9}{'mm GFLOP/s':>12}{'of matmul':>11}"
    print(header)
    print("-" * len(header))
    for kind in pg.policies.TRUNKS:
        b = batched(kind, task, args.batch, repeats)
        a = article(kind, task, episodes)
        print(f"{kind:<12}{b['update_ms']:>10.1f}{b['tok_s']:>15,.0f}{a:>15,.0f}{b['tok_s'] / a:>9.0f}×"
              f"{b['flops'] / 1e9:>9.1f}{b['mm_flops'] / 1e9:>12.1f}{b['flops'] / b['mm_flops']:>10.0%}")
    print(f"peak resident memory of `python -m pglab compare` (defaults): {compare_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
