"""Cost of one PPO and one GRPO update relative to one REINFORCE update, per policy type, side by side.

One *update* is everything an algorithm's ``step`` does with one batch: REINFORCE
(batch-mean baseline) samples B completions and takes one gradient step; A2C the
same with a critic; PPO samples once and takes epochs × minibatches = 4 × 4 steps
on quarters of the batch (critic included); GRPO (K = 8 per prompt) the same 4 × 4
without a critic. Same task (copy, T = 16 tokens, EOS disabled so every sequence
has the full length), same B, default policy sizes. The four algorithms are timed
round-robin — one update of each, then again — so a slow moment of a shared
machine hits all of them; the medians are compared. On the CPU the clock is the process's
CPU time with one thread (``--threads 1``, the default): on a machine shared with other jobs,
wall time varies tenfold from one update to the next, CPU time of one thread barely does. On CUDA
it is wall time between synchronisations.

    python benchmarks/updates.py [--quick] [--batch 256] [--repeats 7] [--device cpu]

Many small minibatch steps cost more than their share of the batch on a CPU (each step pays
the recurrent kernels' per-call overhead), so the ratios fall as B grows; compare them at the B you train with.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import pglab as pg
from pglab.algos import a2c, grpo, ppo, reinforce
from pglab.vocab import EOS_ID

EPOCHS, MINIBATCHES = 4, 4


def contenders(batch: int) -> dict[str, tuple]:
    """name → (step function, config, needs a critic)."""
    return {
        "REINFORCE": (reinforce.step, reinforce.ReinforceConfig(batch_size=batch), False),
        "A2C": (a2c.step, a2c.A2CConfig(batch_size=batch), True),
        "PPO": (ppo.step, ppo.PPOConfig(batch_size=batch, epochs=EPOCHS, minibatches=MINIBATCHES), True),
        "GRPO": (grpo.step, grpo.GRPOConfig(batch_size=batch, epochs=EPOCHS, minibatches=MINIBATCHES), False),
    }


def measure(kind: str, task, batch: int, repeats: int, device: str) -> dict[str, float]:
    """Median seconds per update of each contender, timed round-robin."""
    runs = {}
    for name, (step, cfg, critic) in contenders(batch).items():
        policy = pg.make_policy(kind, len(task.vocab), value_head="separate" if critic else None, seed=0,
                                device=device)
        with torch.no_grad():
            policy.lm_head.bias[EOS_ID] = -30.0                  # every sequence runs the full horizon
        opt = torch.optim.Adam(policy.parameters(), lr=1e-5)     # small steps: the policy stays comparable
        runs[name] = (step, cfg, policy, opt, torch.Generator().manual_seed(0), {})
    for step, cfg, policy, opt, gen, state in runs.values():     # warm-up
        step(policy, opt, task, cfg, gen, state)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (step, cfg, policy, opt, gen, state) in runs.items():
            cuda = device.startswith("cuda")
            clock = time.perf_counter if cuda else time.process_time
            if cuda:
                torch.cuda.synchronize()
            start = clock()
            step(policy, opt, task, cfg, gen, state)
            if cuda:
                torch.cuda.synchronize()
            times[name].append(clock() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--batch", type=int, default=256, help="batch size B of every update")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--repeats", type=int, default=7, help="round-robin rounds (the median is reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (CPU time is measured)")
    args = parser.parse_args()
    device = str(pg.resolve_device(args.device))
    torch.set_num_threads(pg.checks.positive_int("threads", args.threads))
    task = pg.make_task("copy", length=15)                        # T = 16 with EOS
    repeats = 2 if args.quick else pg.checks.positive_int("repeats", args.repeats)
    clock = "wall time" if device.startswith("cuda") else "CPU time"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {clock}, device {device}, B={args.batch}, "
          f"T={task.max_new_tokens}, PPO/GRPO: {EPOCHS} epochs × {MINIBATCHES} minibatches, GRPO K=8; "
          f"median of {repeats} round-robin updates")
    header = (f"{'policy':<12}{'REINFORCE ms':>13}{'A2C ms':>9}{'PPO ms':>9}{'GRPO ms':>9}"
              f"{'PPO/REINF':>11}{'PPO/A2C':>9}{'GRPO/REINF':>12}")
    print(header)
    print("-" * len(header))
    for kind in pg.policies.TRUNKS:
        t = measure(kind, task, args.batch, repeats, device)
        r = t["REINFORCE"]
        print(f"{kind:<12}{1e3 * r:>13.1f}{1e3 * t['A2C']:>9.1f}{1e3 * t['PPO']:>9.1f}{1e3 * t['GRPO']:>9.1f}"
              f"{t['PPO'] / r:>10.1f}×{t['PPO'] / t['A2C']:>8.1f}×{t['GRPO'] / r:>11.1f}×")


if __name__ == "__main__":
    main()
