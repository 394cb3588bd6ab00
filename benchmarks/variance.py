"""Gradient-estimate toolkit benchmark (no assertions), measured in one run:

1. time for 256 per-sample gradients, torch.func vmap vs a Python loop, per policy
   type at the default size (target: vmap ≥ 15× faster);
2. time of the exact gradient by enumeration at V = 8, T = 5 (target: < 0.5 s);
3. bias, variance, SNR and cosine of every named estimator on the default tiny
   problem (copy, V = 8, T = 4, two prompts, GRU 16), R batches of B = 16 —
   before and after fitting the critic for the estimators that use one.

    python benchmarks/variance.py [--quick]
"""
from __future__ import annotations

import argparse
import time

import torch

import pglab as pg
from pglab import exact
from pglab import gradients as G
from pglab.algos.a2c import fit_critic


def seconds(fn, repeats: int = 3) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def per_sample_speed(repeats: int) -> None:
    print("1. 256 per-sample gradients, copy task (T = 4): the tiny-problem width (16, the toolkit's"
          " default), 32, and the default policy width")
    print(f"   {'policy':<12}{'width':>6}{'params':>9}{'vmap ms':>10}{'loop ms':>10}{'speed-up':>10}")
    task = pg.make_task("copy")
    for kind in pg.policies.TRUNKS:
        for width in (16, 32, None):
            policy = pg.make_policy(kind, len(task.vocab), hidden_size=width, embed_size=8 if width else 64)
            gen = torch.Generator().manual_seed(0)
            x, y, w = G.sample_weights(G.ESTIMATORS["batch_mean"], policy, task, 256, gen, {})
            n_params = sum(p.numel() for p in policy.actor_parameters().values())
            fast = seconds(lambda: G.per_sample_gradients(policy, x, y, w, "vmap"), repeats)
            slow = seconds(lambda: G.per_sample_gradients(policy, x, y, w, "loop"), 1)
            print(f"   {kind:<12}{policy.spec['hidden_size']:>6}{n_params:>9,}{1e3 * fast:>10.1f}"
                  f"{1e3 * slow:>10.1f}{slow / fast:>9.0f}×")


def exact_speed(repeats: int) -> None:
    print("\n2. exact J and ∇J by enumeration (GRU 16; 19,608 completions per prompt at V = 8, T = 5)")
    for n_prompts in (1, 2):
        problem = exact.tiny_problem(length=4, n_prompts=n_prompts)
        t = seconds(problem.gradient, repeats)
        print(f"   V = 8, T = 5, {n_prompts} prompt{'s' if n_prompts > 1 else ' '}: {1e3 * t:7.1f} ms")


def estimator_table(n_batches: int) -> None:
    problem = exact.tiny_problem()
    J, grad_J = problem.gradient()
    print(f"\n3. estimators on the tiny problem (copy, V = 8, T = 4, 2 prompts; J = {J:.4f}, "
          f"‖∇J‖ = {grad_J.norm():.4f}; R = {n_batches} batches of B = 16)")
    reports = []
    for name in G.ESTIMATORS:
        g = G.batch_gradients(problem.policy, problem.task, name, batch_size=16, n_batches=n_batches)
        label = name + (" (raw critic)" if name in ("a2c", "value") else "")
        reports.append(G.report(label, g, grad_J))
    fit_critic(problem.policy, problem.task, steps=150)
    for name in ("value", "a2c"):
        g = G.batch_gradients(problem.policy, problem.task, name, batch_size=16, n_batches=n_batches)
        reports.append(G.report(name + " (fit critic)", g, grad_J))
    print("   " + G.format_table(reports).replace("\n", "\n   "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and batches (a smoke run)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    per_sample_speed(1 if args.quick else 3)
    exact_speed(1 if args.quick else 3)
    estimator_table(50 if args.quick else 400)


if __name__ == "__main__":
    main()
