"""A race: the ladder whole return → reward-to-go → + baseline → A2C critic, trained side by side,
and beside it the modern family: PPO, RLOO, GRPO and Dr. GRPO (chapter 07).

The live lab (:mod:`pglab.lab.app`) is a page over this module, which has no
widgets in it: it builds one policy per contender and seed from the same initial
weights and advances them round-robin, one update at a time. Every
``measure_every`` updates the same-policy meter (:mod:`pglab.lab.meter`) measures
*every* contender's gradient estimator at one shared policy θ, on held-out
samples, with 95 % intervals — so the readout compares estimators, not how far
each policy has moved. :meth:`Race.run` can stop and resume: the state is kept.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .. import checks
from . import meter
from .messages.en import MESSAGES as EN
from ..advantages import BASELINES
from ..algos import ALGOS
from ..algos.a2c import A2CConfig
from ..algos.grpo import DrGRPOConfig, GRPOConfig, RLOOConfig
from ..algos.ppo import PPOConfig
from ..algos.reinforce import ReinforceConfig
from ..gradients import Estimator
from ..policies import TRUNKS, make_policy, resolve_device
from ..rollout import sample
from ..tasks import DEFAULT_TASK, TASKS, make_task
from ..train import History

LADDER = ("REINFORCE", "REINFORCE (reward-to-go)", "REINFORCE + baseline", "A2C")
"""The ladder, one change at a time: the default contenders."""
MODERN = ("PPO", "RLOO", "GRPO", "Dr. GRPO")
"""Chapter 07's algorithms, selectable beside the ladder."""
CONTENDERS = LADDER + MODERN
"""Every contender, in the order the page lists them."""
EXPLAIN = {c: EN[f"explain.{c}"] for c in CONTENDERS}
"""What each contender changes, in English (the page shows its language's ``explain.<name>``)."""
GROUP_SIZE = 4   # samples per prompt for the group baselines (leave_one_out, group_norm) and RLOO/GRPO/Dr. GRPO
PPO_MINIBATCHES = 4


@dataclass
class RaceConfig(checks.Validated):
    """Everything a race needs; validated where it enters (and when a field is assigned later)."""
    task: str = DEFAULT_TASK
    policy: str = "gru"
    contenders: tuple[str, ...] = LADDER
    baseline: str = "batch_mean"
    """Used by "REINFORCE + baseline" only."""
    gamma: float = 1.0
    gae_lambda: float = 0.9
    """Used by "A2C" only."""
    lr: float = 3e-3
    batch_size: int = 32
    entropy_coef: float = 0.03
    """0.03 keeps the default race from collapsing within 300 steps (at 0 every policy's entropy falls
    below 0.05 nats/token by step 300 and vanilla REINFORCE plateaus at reward 0.38)."""
    steps: int = 300
    seeds: int = 1
    measure_every: int = 50
    meter_batches: int = 24
    """Held-out batches per estimator per meter point (the intervals come from these)."""
    device: str = "cpu"
    """Where the policies train: "cpu", "cuda", "mps" or "auto" (checked against this machine)."""
    seed: int = 0
    """Runs use seeds seed … seed + seeds − 1; the meter's streams are derived from it too."""

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
        self.contenders = tuple(c for c in CONTENDERS if c in self.contenders)   # ladder order
        checks.choice("baseline", self.baseline, [b for b in BASELINES if b != "none"])
        self.gamma = checks.unit_interval("gamma", self.gamma)
        self.gae_lambda = checks.unit_interval("gae_lambda", self.gae_lambda)
        self.lr = checks.learning_rate("lr", self.lr)
        self.batch_size = checks.positive_int("batch_size", self.batch_size, minimum=2, maximum=checks.MAX_BATCH)
        if "groups" in getattr(BASELINES[self.baseline], "needs", ()) and self.batch_size % GROUP_SIZE:
            raise ValueError(f"batch_size must be a multiple of {GROUP_SIZE} for the {self.baseline} baseline "
                             f"({GROUP_SIZE} samples per prompt), got {self.batch_size}")
        needs = {"PPO": PPO_MINIBATCHES, **dict.fromkeys(("RLOO", "GRPO", "Dr. GRPO"), GROUP_SIZE)}
        for c in self.contenders:
            if c in needs and self.batch_size % needs[c]:
                why = "4 minibatches" if c == "PPO" else f"{GROUP_SIZE} samples per prompt"
                raise ValueError(f"batch_size must be a multiple of {needs[c]} for {c} ({why}), got {self.batch_size}")
        self.entropy_coef = checks.entropy_coef("entropy_coef", self.entropy_coef)
        self.steps = checks.positive_int("steps", self.steps, maximum=100_000)
        self.seeds = checks.positive_int("seeds", self.seeds)
        if self.seeds > 8:
            raise ValueError(f"seeds must be an integer in [1, 8], got {self.seeds!r}")
        self.measure_every = checks.positive_int("measure_every", self.measure_every)
        self.meter_batches = checks.positive_int("meter_batches", self.meter_batches, minimum=4)
        self.seed = checks.seed("seed", self.seed)
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
    if name == "PPO":        # whitening off: the first step's estimator is then exactly A2C's
        return ("ppo", PPOConfig(gae_lambda=cfg.gae_lambda, minibatches=PPO_MINIBATCHES, normalize_advantages=False,
                                 **common),
                Estimator(returns="gae", gamma=cfg.gamma, gae_lambda=cfg.gae_lambda))
    group = {"RLOO": ("rloo", RLOOConfig), "GRPO": ("grpo", GRPOConfig), "Dr. GRPO": ("dr_grpo", DrGRPOConfig)}
    if name in group:
        algo, cls = group[name]
        config = cls(group_size=GROUP_SIZE, **common)
        return algo, config, Estimator(group_advantage=config.advantage, aggregation=config.aggregation,
                                       gamma=cfg.gamma, group_size=GROUP_SIZE)
    if name == "REINFORCE":
        return "reinforce", ReinforceConfig(baseline="none", returns="total", **common), \
            Estimator(returns="total", gamma=cfg.gamma)
    if name == "REINFORCE (reward-to-go)":
        return "reinforce", ReinforceConfig(baseline="none", returns="reward_to_go", **common), \
            Estimator(returns="reward_to_go", gamma=cfg.gamma)
    k = GROUP_SIZE if "groups" in getattr(BASELINES[cfg.baseline], "needs", ()) else 1
    return ("reinforce", ReinforceConfig(baseline=cfg.baseline, group_size=k, **common),
            Estimator(baseline=cfg.baseline, gamma=cfg.gamma, group_size=k))


# Seconds per update of one run at batch 32 on a 2-core laptop CPU (copy task), for the ETA before a start.
SECONDS_PER_UPDATE = {"gru": 0.012, "lstm": 0.012, "transformer": 0.03}
ALGO_FACTOR = {"ppo": 8.0}
"""Cost of one update relative to REINFORCE's: PPO takes 16 minibatch steps on one batch (6–11× at B = 64 by
``benchmarks/updates.py``, CPU); the group algorithms take one step here (≈ 1×)."""
TASK_FACTOR = {"translate": 3.0, "translate-chrf": 3.0, "dialogue": 3.0, "fluency": 4.0}


def estimate_seconds(cfg: RaceConfig) -> float:
    """A rough wall time for ``cfg`` on a 2-core CPU (training plus meter), to warn before a long start."""
    per_update = SECONDS_PER_UPDATE[cfg.policy] * TASK_FACTOR.get(cfg.task, 1.0) * max(cfg.batch_size / 32, 0.5)
    train = per_update * cfg.steps * cfg.seeds * sum(ALGO_FACTOR.get(_algorithm(c, cfg)[0], 1.0)
                                                     for c in cfg.contenders)
    points = cfg.steps // cfg.measure_every + 1
    estimators = len(cfg.contenders) + ("REINFORCE" not in cfg.contenders)
    return train + points * (estimators * cfg.meter_batches + 30) * per_update


class Race:
    """Contenders × seeds, trained round-robin; see the module docstring."""

    def __init__(self, config: RaceConfig) -> None:
        self.config = config
        self.task = make_task(config.task)
        self.runs: list[Run] = []
        for name in config.contenders:
            algo, algo_cfg, est = _algorithm(name, config)
            critic = "separate" if algo in ("a2c", "ppo") or getattr(algo_cfg, "baseline", "") == "value" else None
            for seed in range(config.seed, config.seed + config.seeds):
                policy = make_policy(config.policy, len(self.task.vocab), value_head=critic, seed=seed,
                                     device=config.device)
                opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
                self.runs.append(Run(name, seed, algo, algo_cfg, est, policy, opt, torch.Generator().manual_seed(seed)))
        self.step = 0
        self._next_run = 0            # the run whose update comes next within the current round
        self.points: list[meter.MeterPoint] = []
        self.seconds = 0.0
        self.update_seconds = 0.0     # time spent in updates (for the ETA)
        self.meter_seconds = 0.0      # time spent measuring

    # ----- views -----------------------------------------------------------------------------------
    @property
    def histories(self) -> dict[str, list[History]]:
        out: dict[str, list[History]] = {}
        for run in self.runs:
            out.setdefault(run.name, []).append(run.history)
        return out

    @property
    def meter(self) -> dict[str, list[tuple[int, float, float]]]:
        """Per contender, (step, variance, SNR) at the shared θ of each meter point."""
        return {n: [(p.step, p.variance[n].value, p.snr[n].value) for p in self.points if n in p.variance]
                for n in self.config.contenders}

    @property
    def finished(self) -> bool:
        return self.step >= self.config.steps

    def recent(self, key: str, window: int = 10) -> dict[str, float]:
        """Mean over seeds of each contender's last ``window`` values of a History statistic."""
        out = {}
        for name, runs in self.histories.items():
            vals = [sum(h[key][-window:]) / len(h[key][-window:]) for h in runs if h[key]]
            if vals:
                out[name] = sum(vals) / len(vals)
        return out

    def verdicts(self) -> list[meter.Verdict]:
        """The headline readout at the latest meter point (empty before the first)."""
        if not self.points:
            return []
        return meter.verdicts(self.points[-1], self.recent("entropy", 5), self.recent("reward/mean"))

    def eta(self) -> float | None:
        """Seconds left, from the measured time per update and per meter point (None before any)."""
        if self.step == 0:
            return None
        left = self.config.steps - self.step
        points_left = left // self.config.measure_every + 1
        per_point = self.meter_seconds / max(len(self.points), 1)
        return self.update_seconds / self.step * left + per_point * points_left

    # ----- training ---------------------------------------------------------------------------------
    def advance(self, stop: threading.Event | None = None) -> None:
        """One update of every run. A set ``stop`` pauses mid-round; the next call finishes that round
        (runs already updated are not updated twice), so a paused race resumes exactly where it was."""
        while self._next_run < len(self.runs):
            if stop is not None and stop.is_set():
                return
            run = self.runs[self._next_run]
            step_fn = ALGOS[run.algo][1]
            run.history.append(step_fn(run.policy, run.optimizer, self.task, run.config, run.generator, run.state))
            self._next_run += 1
        self._next_run = 0
        self.step += 1

    def _reference(self) -> Run:
        """Whose policy the meter uses: the lowest rung of the ladder in the race, first seed."""
        return self.runs[0]

    def estimators(self) -> dict[str, Estimator]:
        """Every contender's estimator, plus vanilla REINFORCE's as the yardstick."""
        ests = {meter.YARDSTICK: Estimator(returns="total", gamma=self.config.gamma)}
        ests.update({r.name: r.estimator for r in self.runs if r.seed == self.config.seed})
        return ests

    def measure(self) -> meter.MeterPoint:
        """Every estimator at the reference policy θ (see :mod:`pglab.lab.meter`)."""
        start = time.perf_counter()
        ref = self._reference()
        ests = self.estimators()
        ests.pop("REINFORCE", None)                          # identical to the yardstick
        critic = next((r.policy for r in self.runs if r.policy.has_value), None)
        point = meter.measure(self.step, ref.name, ref.policy, ests, self.task,
                              batch_size=self.config.batch_size, n_batches=self.config.meter_batches,
                              seed=10_000 + 1_000 * self.config.seed + self.step, critic_source=critic,
                              gamma=self.config.gamma)
        if "REINFORCE" in self.config.contenders:            # vanilla REINFORCE is the yardstick itself
            point.variance["REINFORCE"] = point.variance[meter.YARDSTICK]
            point.snr["REINFORCE"] = point.snr[meter.YARDSTICK]
        self.points.append(point)
        self.meter_seconds += time.perf_counter() - start
        return point

    def run(self, stop: threading.Event | None = None,
            on_step: Callable[["Race"], None] | None = None) -> str:
        """Train until ``config.steps`` or ``stop``; returns why it ended. Call again to resume."""
        start = time.perf_counter()
        try:
            while self.step < self.config.steps:
                if stop is not None and stop.is_set():
                    return "stopped"
                if self.step % self.config.measure_every == 0 and not self._measured(self.step):
                    self.measure()
                    if stop is not None and stop.is_set():
                        return "stopped"
                tick = time.perf_counter()
                self.advance(stop)
                self.update_seconds += time.perf_counter() - tick
                if on_step is not None:
                    on_step(self)
            if not self._measured(self.step):
                self.measure()
            return "finished"
        finally:
            self.seconds += time.perf_counter() - start

    def _measured(self, step: int) -> bool:
        return bool(self.points) and self.points[-1].step == step

    # ----- samples ----------------------------------------------------------------------------------
    @torch.no_grad()
    def samples(self, n: int = 3) -> dict[str, list[dict[str, str]]]:
        """A few completions per contender (first seed) from a fixed stream: prompt, completion, target, reward."""
        out = {}
        for run in (r for r in self.runs if r.seed == self.config.seed):
            gen = torch.Generator().manual_seed(99)
            prompts = self.task.sample_prompts(n, gen).to(run.policy.device)
            ro = sample(run.policy, prompts, self.task.max_new_tokens, generator=gen)
            rewards = self.task.reward(prompts, ro.completion_ids, ro.mask).sum(1).tolist()
            targets = reference_texts(self.task, prompts.cpu())
            out[run.name] = [{"prompt": self.task.vocab.decode(p.tolist()), "completion": c, "target": t,
                              "reward": f"{r:.2f}"}
                             for p, c, t, r in zip(prompts, self.task.decode(ro.completion_ids), targets, rewards)]
        return out


class RaceResults(dict):
    """Histories per contender (one per seed) plus the meter points; a short repr."""

    def __init__(self, race: "Race | None" = None) -> None:
        super().__init__({} if race is None else race.histories)
        self.points = [] if race is None else list(race.points)
        self.verdicts = [] if race is None else race.verdicts()
        self.step = 0 if race is None else race.step

    def __repr__(self) -> str:
        if not self:
            return "RaceResults(empty)"
        lines = [f"RaceResults(step {self.step}, {len(self.points)} meter points)"]
        for name, runs in self.items():
            reward = sum(sum(h["reward/mean"][-10:]) / max(len(h["reward/mean"][-10:]), 1) for h in runs) / len(runs)
            lines.append(f"  {name}: {len(runs)} seed(s), last-10 mean reward {reward:.3f}")
        lines += [f"  {v.name}: {v.text}" for v in self.verdicts]
        return "\n".join(lines)


def reference_texts(task, prompts: torch.Tensor) -> list[str]:
    """What the task wants for each prompt, as text ("—" when the reward has no reference, e.g. fluency)."""
    if hasattr(task, "references"):
        return list(task.references(prompts))
    if hasattr(task, "targets") and callable(task.targets):
        try:
            return task.decode(task.targets(prompts))
        except TypeError:
            pass
    return ["—"] * len(prompts)
