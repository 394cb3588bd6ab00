"""A race: several contenders (REINFORCE, REINFORCE + baseline, A2C) trained side by side.

The live lab (:mod:`pglab.app`) is a thin page over this module, which has no
widgets in it: it builds one policy per contender and seed from the same initial
weights, advances them round-robin one update at a time, and every
``measure_every`` updates measures each contender's gradient estimator on
*held-out* samples (a separate random stream): the total variance of a batch
gradient and its signal-to-noise ratio, from ``meter_batches`` independent
batches (one backward pass each, see :func:`pglab.gradients.batch_gradients`).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import checks
from .advantages import BASELINES
from .algos import ALGOS
from .algos.a2c import A2CConfig
from .algos.reinforce import ReinforceConfig
from .gradients import Estimator, batch_gradients
from .policies import TRUNKS, make_policy, resolve_device
from .rollout import sample
from .tasks import DEFAULT_TASK, TASKS, make_task
from .train import History

CONTENDERS = ("REINFORCE", "REINFORCE + baseline", "A2C")
"""REINFORCE is the textbook estimator (whole return, no baseline); the second
uses reward-to-go and the chosen baseline; A2C uses a separate critic and GAE(λ)."""
GROUP_SIZE = 4   # samples per prompt for the group baselines (leave_one_out, group_norm)


@dataclass
class RaceConfig:
    """Everything a race needs; validated where it enters."""
    task: str = DEFAULT_TASK
    policy: str = "gru"
    contenders: tuple[str, ...] = CONTENDERS
    baseline: str = "batch_mean"
    gamma: float = 1.0
    gae_lambda: float = 0.9
    lr: float = 3e-3
    batch_size: int = 32
    entropy_coef: float = 0.0
    steps: int = 300
    seeds: int = 1
    measure_every: int = 25
    meter_batches: int = 6
    device: str = "cpu"
    """Where the policies train: "cpu", "cuda", "mps" or "auto" (checked against this machine)."""

    def __post_init__(self) -> None:
        checks.choice("task", self.task, list(TASKS))
        checks.choice("policy", self.policy, list(TRUNKS))
        if isinstance(self.contenders, str):
            raise ValueError(f"contenders must be a list of names, e.g. [{self.contenders!r}], got the string "
                             f"{self.contenders!r}; known: {', '.join(CONTENDERS)}")
        self.contenders = tuple(self.contenders)
        if not self.contenders:
            raise ValueError(f"contenders must name at least one of {', '.join(CONTENDERS)}")
        for c in self.contenders:
            checks.choice("contender", c, CONTENDERS)
        checks.choice("baseline", self.baseline, [b for b in BASELINES if b != "none"])
        self.gamma = checks.unit_interval("gamma", self.gamma)
        self.gae_lambda = checks.unit_interval("gae_lambda", self.gae_lambda)
        self.lr = checks.learning_rate("lr", self.lr)
        self.batch_size = checks.positive_int("batch_size", self.batch_size, minimum=2, maximum=checks.MAX_BATCH)
        if "groups" in getattr(BASELINES[self.baseline], "needs", ()) and self.batch_size % GROUP_SIZE:
            raise ValueError(f"batch_size must be a multiple of {GROUP_SIZE} for the {self.baseline} baseline "
                             f"({GROUP_SIZE} samples per prompt), got {self.batch_size}")
        self.entropy_coef = checks.non_negative_float("entropy_coef", self.entropy_coef)
        self.steps = checks.positive_int("steps", self.steps, maximum=100_000)
        self.seeds = checks.positive_int("seeds", self.seeds)
        if self.seeds > 8:
            raise ValueError(f"seeds must be an integer in [1, 8], got {self.seeds!r}")
        self.measure_every = checks.positive_int("measure_every", self.measure_every)
        self.meter_batches = checks.positive_int("meter_batches", self.meter_batches, minimum=2)
        if not isinstance(self.device, str):
            raise ValueError(f"device must be a string such as 'cpu', 'cuda' or 'auto', got {self.device!r}")
        resolve_device(self.device)                         # an unavailable device fails here, where it enters


@dataclass
class Run:
    """One contender on one seed: its policy, optimizer, algorithm and History."""
    name: str
    seed: int
    algo: str
    config: object
    estimator: Estimator
    policy: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    state: dict = field(default_factory=dict)
    history: History = field(default_factory=History)


def _algorithm(name: str, cfg: RaceConfig) -> tuple[str, object, Estimator]:
    """The algorithm, its config and the matching gradient estimator of a contender."""
    common = {"batch_size": cfg.batch_size, "gamma": cfg.gamma, "entropy_coef": cfg.entropy_coef}
    if name == "A2C":
        return ("a2c", A2CConfig(gae_lambda=cfg.gae_lambda, **common),
                Estimator(returns="gae", gamma=cfg.gamma, gae_lambda=cfg.gae_lambda))
    if name == "REINFORCE":
        return "reinforce", ReinforceConfig(baseline="none", returns="total", **common), \
            Estimator(returns="total", gamma=cfg.gamma)
    k = GROUP_SIZE if "groups" in getattr(BASELINES[cfg.baseline], "needs", ()) else 1
    return ("reinforce", ReinforceConfig(baseline=cfg.baseline, group_size=k, **common),
            Estimator(baseline=cfg.baseline, gamma=cfg.gamma, group_size=k))


class Race:
    """Contenders × seeds, trained round-robin; see the module docstring."""

    def __init__(self, config: RaceConfig) -> None:
        self.config = config
        self.task = make_task(config.task)
        self.runs: list[Run] = []
        for name in config.contenders:
            algo, algo_cfg, est = _algorithm(name, config)
            critic = "separate" if algo == "a2c" or getattr(algo_cfg, "baseline", "") == "value" else None
            for seed in range(config.seeds):
                policy = make_policy(config.policy, len(self.task.vocab), value_head=critic, seed=seed,
                                     device=config.device)
                opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
                self.runs.append(Run(name, seed, algo, algo_cfg, est, policy, opt, torch.Generator().manual_seed(seed)))
        self.step = 0
        self.meter: dict[str, list[tuple[int, float, float]]] = {n: [] for n in config.contenders}  # (step, var, snr)
        self.seconds = 0.0

    @property
    def histories(self) -> dict[str, list[History]]:
        out: dict[str, list[History]] = {}
        for run in self.runs:
            out.setdefault(run.name, []).append(run.history)
        return out

    def advance(self, stop: threading.Event | None = None) -> None:
        """One update of every run (a set ``stop`` skips the remaining runs of this round)."""
        for run in self.runs:
            if stop is not None and stop.is_set():
                return
            step_fn = ALGOS[run.algo][1]
            run.history.append(step_fn(run.policy, run.optimizer, self.task, run.config, run.generator, run.state))
        self.step += 1

    def measure(self) -> None:
        """Gradient variance and SNR of each contender (seed 0) on held-out samples."""
        for run in (r for r in self.runs if r.seed == 0):
            g = batch_gradients(run.policy, self.task, run.estimator, batch_size=self.config.batch_size,
                                n_batches=self.config.meter_batches, seed=10_000 + self.step, method="batch")
            variance = g.var(0, unbiased=True).sum().item()
            signal = max(g.mean(0).pow(2).sum().item() - variance / len(g), 0.0)
            self.meter[run.name].append((self.step, variance, signal / variance if variance > 0 else 0.0))

    def run(self, stop: threading.Event | None = None,
            on_step: Callable[["Race"], None] | None = None) -> str:
        """Train until ``config.steps`` or ``stop``; returns why it ended."""
        start = time.perf_counter()
        try:
            while self.step < self.config.steps:
                if stop is not None and stop.is_set():
                    return "stopped"
                if self.step % self.config.measure_every == 0:
                    self.measure()
                self.advance(stop)
                if on_step is not None:
                    on_step(self)
            self.measure()
            return "finished"
        finally:
            self.seconds += time.perf_counter() - start

    def variance_ratios(self) -> dict[str, float]:
        """Latest variance of vanilla REINFORCE divided by each contender's (×N lower)."""
        latest = {n: m[-1][1] for n, m in self.meter.items() if m}
        if "REINFORCE" not in latest:
            return {}
        return {n: latest["REINFORCE"] / v for n, v in latest.items() if n != "REINFORCE" and v > 0}

    @torch.no_grad()
    def samples(self, n: int = 3) -> dict[str, list[str]]:
        """A few completions per contender (seed 0), prompt → completion, from a fixed random stream."""
        out = {}
        for run in (r for r in self.runs if r.seed == 0):
            gen = torch.Generator().manual_seed(99)
            prompts = self.task.sample_prompts(n, gen).to(run.policy.device)
            ro = sample(run.policy, prompts, self.task.max_new_tokens, generator=gen)
            out[run.name] = [f"{self.task.vocab.decode(p.tolist())} → {c}"
                             for p, c in zip(prompts, self.task.decode(ro.completion_ids))]
        return out
