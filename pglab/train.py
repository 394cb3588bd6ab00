"""The outer training loop: seeding, callbacks, History and checkpoints — no algorithm math.

``train`` calls an algorithm's ``step`` ``steps`` times and records what it
returns. Everything random goes through one CPU ``torch.Generator`` seeded with
``seed``, so the same seed gives the same History on the CPU. A callback is any
``fn(step, stats, history)``; returning ``True`` (or setting ``stop_event``)
stops the run after the current update.
"""
from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import checks
from .algos import ALGOS, NonFiniteError
from .policies import Policy, check_compatible, policy_from_spec

Callback = Callable[[int, dict, "History"], bool | None]


@dataclass
class History:
    """Per-step statistics of one run: ``history["reward/mean"]`` is a list over steps."""
    rows: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str | None = None

    def append(self, stats: dict[str, float]) -> None:
        self.rows.append(dict(stats))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str) -> list[float]:
        return [row[key] for row in self.rows if key in row]

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def to_csv(self, path: str | Path, run: str = "") -> None:
        """Write one row per step (see :func:`write_csv`)."""
        write_csv(path, {run: self})


def write_csv(path: str | Path, histories: dict[str, History]) -> None:
    """Several named runs in one long-format CSV: run, step, then every statistic."""
    keys = sorted({k for h in histories.values() for k in h.keys()})
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "step", *keys])
        for name, history in histories.items():
            for i, row in enumerate(history.rows):
                writer.writerow([name, i, *(row.get(k, "") for k in keys)])


def train(policy: Policy, task, algo: str = "reinforce", config: Any = None, *, steps: int = 100,
          lr: float = 1e-3, seed: int = 0, callbacks: Sequence[Callback] = (),
          stop_event: threading.Event | None = None,
          optimizer: torch.optim.Optimizer | None = None, history: History | None = None,
          reference: Policy | None = None) -> History:
    """Train ``policy`` on ``task`` with algorithm ``algo`` for ``steps`` updates.

    ``reference`` is a frozen policy for the KL penalty (``kl_coef`` > 0).
    Raises :class:`~pglab.algos.NonFiniteError` (with ``.history`` attached) if a
    loss or gradient turns non-finite; the parameters then hold their last finite values.
    """
    config_cls, step_fn = ALGOS[checks.choice("algo", algo, list(ALGOS))]
    config = config_cls() if config is None else config
    steps = checks.positive_int("steps", steps)
    lr = checks.positive_float("lr", lr)
    check_compatible(policy, len(task.vocab))
    optimizer = optimizer or torch.optim.Adam(policy.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = history if history is not None else History()
    state: dict = {} if reference is None else {"reference": reference.eval().requires_grad_(False)}
    for i in range(steps):
        if stop_event is not None and stop_event.is_set():
            history.stop_reason = "stopped by request"
            break
        try:
            stats = step_fn(policy, optimizer, task, config, generator, state)
        except NonFiniteError as err:
            history.stop_reason = str(err)
            err.history = history
            raise
        history.append(stats)
        if any(cb(i, stats, history) for cb in callbacks):
            history.stop_reason = "stopped by a callback"
            break
    return history


def save_checkpoint(path: str | Path, policy: Policy, optimizer: torch.optim.Optimizer | None = None,
                    history: History | None = None, **meta: Any) -> None:
    """Save weights, the policy's spec, optimizer state and History as plain tensors and dicts."""
    payload = {"spec": policy.spec, "policy": policy.state_dict(),
               "optimizer": None if optimizer is None else optimizer.state_dict(),
               "history": None if history is None else history.rows, "meta": meta}
    torch.save(payload, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[Policy, dict]:
    """Rebuild the policy from a checkpoint (loaded with ``weights_only=True``).

    Returns ``(policy, payload)``; ``payload["history"]`` is a :class:`History` or None.
    To resume training, build an optimizer over the returned policy and call
    :func:`restore_optimizer`.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    policy = policy_from_spec(payload["spec"], device)
    policy.load_state_dict(payload["policy"])
    if payload["history"] is not None:
        payload["history"] = History(list(payload["history"]))
    return policy, payload


def restore_optimizer(optimizer: torch.optim.Optimizer, payload: dict) -> None:
    """Load a checkpoint's optimizer state into ``optimizer`` (built over the loaded policy)."""
    if payload.get("optimizer") is None:
        raise ValueError("this checkpoint holds no optimizer state")
    optimizer.load_state_dict(payload["optimizer"])

