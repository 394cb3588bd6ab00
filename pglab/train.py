"""The outer training loop: seeding, callbacks, History and checkpoints — no algorithm math.

``train`` calls an algorithm's ``step`` ``steps`` times and records what it
returns. Everything random goes through one CPU ``torch.Generator`` seeded with
``seed``, so the same seed gives the same History on the CPU. A callback is any
``fn(step, stats, history)``; returning ``True`` (or setting ``stop_event``)
stops the run after the current update.
"""
from __future__ import annotations

import csv
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import checks
from .algos import ALGOS, NonFiniteError
from .policies import Policy, check_compatible, policy_from_spec, validate_spec

Callback = Callable[[int, dict, "History"], bool | None]
MAX_STEPS = 1_000_000
"""Upper bound on ``steps`` (a History row is ~1 KB: a million steps is already ~1 GB of statistics)."""


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
    if not isinstance(config, config_cls):
        names = {cls.__name__: name for name, (cls, _) in ALGOS.items()}
        hint = f" (pass algo={names[type(config).__name__]!r})" if type(config).__name__ in names else ""
        raise ValueError(f"config must be a {config_cls.__name__} for algo={algo!r}, got {type(config).__name__}{hint}")
    steps = checks.positive_int("steps", steps, maximum=MAX_STEPS)
    lr = checks.learning_rate("lr", lr)
    seed = checks.seed("seed", seed)
    if callbacks is None or not all(callable(cb) for cb in callbacks):
        raise ValueError(f"callbacks must be a sequence of functions fn(step, stats, history), got {callbacks!r}")
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
    """Save weights, the policy's spec, optimizer state and History as plain tensors and dicts.

    ``meta`` values must be plain Python (str, int, float, bool, None, lists and dicts of them):
    anything else could be saved but not loaded safely (``weights_only=True``). The file is
    written to a temporary name in the same folder and renamed, so a failed save never
    leaves a truncated checkpoint behind.
    """
    if not isinstance(getattr(policy, "spec", None), dict):      # e.g. pg.hf.policy(...) or make_policy("hf-gpt2")
        raise ValueError("save_checkpoint holds pglab's own policies (gru, lstm, transformer); save a Hugging Face "
                         "policy with policy.model.save_pretrained(folder) and policy.tokenizer.save_pretrained(folder)")
    for key, value in meta.items():
        _check_plain(f"meta[{key!r}]", value)
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"checkpoint path {path} is a directory; give a file name, e.g. {path / 'policy.pt'}")
    if not path.parent.is_dir():
        raise ValueError(f"cannot save checkpoint {path}: folder {path.parent} does not exist")
    weights = policy.state_dict()
    bad = non_finite(weights)
    if bad:                                           # load_checkpoint would refuse the file: refuse to write it
        raise ValueError(f"cannot save checkpoint {path}: non-finite values in {bad} — training diverged; save the "
                         "last finite weights instead (train() leaves them in the policy after a NonFiniteError)")
    payload = {"format": CHECKPOINT_FORMAT, "spec": policy.spec, "policy": weights,
               "optimizer": None if optimizer is None else optimizer.state_dict(),
               "history": None if history is None else history.rows, "meta": meta}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


CHECKPOINT_FORMAT = "pglab-checkpoint-1"


def _check_plain(name: str, value: Any) -> None:
    if value is None or type(value) in (str, bool, int, float):     # exact types: numpy.float64 is a float subclass
        return
    if type(value) in (list, tuple):
        for i, v in enumerate(value):
            _check_plain(f"{name}[{i}]", v)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{name} keys must be strings, got {k!r}")
            _check_plain(f"{name}[{k!r}]", v)
        return
    raise ValueError(f"{name} must be plain Python (str, int, float, bool, None, list, dict) so that it loads "
                     f"safely; got {type(value).__module__}.{type(value).__name__} — convert it, e.g. with float()")


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[Policy, dict]:
    """Rebuild the policy from a checkpoint (loaded with ``weights_only=True``, never unpickling code).

    Returns ``(policy, payload)``; ``payload["history"]`` is a :class:`History` or None.
    To resume training, build an optimizer over the returned policy and call
    :func:`restore_optimizer`. Anything that is not an intact pglab checkpoint — a
    missing, empty, truncated or foreign file, a bad spec, non-finite weights — raises
    ``ValueError("not a valid pglab checkpoint: PATH (why)")``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"not a valid pglab checkpoint: {path} (no such file)")

    def invalid(why: str) -> ValueError:
        return ValueError(f"not a valid pglab checkpoint: {path} ({why})")

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, empty, random bytes, a pickle with code in it, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise invalid(f"cannot be read: {type(err).__name__}: {first[:160]}") from None
    if not isinstance(payload, dict) or not {"spec", "policy", "optimizer", "history", "meta"} <= set(payload):
        raise invalid("it lacks the spec/policy/optimizer/history/meta entries pglab writes")
    try:
        spec = validate_spec(payload["spec"])
    except ValueError as err:
        raise invalid(f"bad policy spec: {err}") from None
    weights = payload["policy"]
    if not isinstance(weights, dict) or not all(isinstance(t, torch.Tensor) for t in weights.values()):
        raise invalid("the policy weights are not a dict of tensors")
    bad = non_finite(weights)
    if bad:
        raise invalid(f"non-finite values in {bad} — the file is corrupt or was saved after training diverged")
    policy = policy_from_spec(spec, device)
    mismatch = state_dict_mismatch(policy.state_dict(), weights)
    if mismatch:
        raise invalid(f"weights do not match the spec: {mismatch}")
    try:
        policy.load_state_dict(weights)
    except RuntimeError as err:                       # anything the comparison above did not foresee
        raise invalid(f"weights do not match the spec: {' '.join(str(err).split())[:300]}") from None
    if payload["history"] is not None:
        if not isinstance(payload["history"], list):
            raise invalid("history is not a list of rows")
        payload["history"] = History(list(payload["history"]))
    return policy, payload


def non_finite(weights: dict) -> str:
    """The floating-point tensors of a state dict holding NaN or ±inf, named (at most 3), or "" when none."""
    bad = [name for name, t in weights.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    return f"{', '.join(bad[:3])}{' …' if len(bad) > 3 else ''}"


def state_dict_mismatch(expected: dict, found: dict, limit: int = 4) -> str:
    """What differs between two state dicts — missing and unexpected keys, shapes — in one line, or ""."""
    def shape(t) -> str:
        return f"({', '.join(map(str, t.shape))})" if isinstance(t, torch.Tensor) else type(t).__name__

    def listed(items: list[str]) -> str:
        return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
    missing = [f"{k} {shape(v)}" for k, v in expected.items() if k not in found]
    unexpected = [f"{k} {shape(v)}" for k, v in found.items() if k not in expected]
    differ = [f"{k} is {shape(found[k])} in the file, {shape(v)} for the spec" for k, v in expected.items()
              if k in found and (not isinstance(found[k], torch.Tensor) or found[k].shape != v.shape)]
    parts = [f"missing {listed(missing)}" if missing else "", f"unexpected {listed(unexpected)}" if unexpected else "",
             f"shapes differ: {listed(differ)}" if differ else ""]
    return "; ".join(p for p in parts if p)


def restore_optimizer(optimizer: torch.optim.Optimizer, payload: dict) -> None:
    """Load a checkpoint's optimizer state into ``optimizer`` (built over the loaded policy).

    PyTorch checks only the number of parameters; here every saved moment (Adam's ``exp_avg``, …) must also
    have its parameter's shape — an optimizer built over another policy is refused with the parameter named,
    instead of failing later inside ``step`` (or silently broadcasting)."""
    saved = payload.get("optimizer")
    if saved is None:
        raise ValueError("this checkpoint holds no optimizer state")
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict) \
            or not isinstance(saved.get("param_groups"), list):
        raise ValueError("the checkpoint's optimizer state is not a torch optimizer state_dict")
    groups = optimizer.param_groups
    sizes = [len(g.get("params", [])) if isinstance(g, dict) else -1 for g in saved["param_groups"]]
    if sizes != [len(g["params"]) for g in groups]:
        raise ValueError(f"the checkpoint's optimizer has parameter groups of sizes {sizes}; this optimizer has "
                         f"{[len(g['params']) for g in groups]} — build it over the policy load_checkpoint returned")
    for g, (group, saved_group) in enumerate(zip(groups, saved["param_groups"])):
        for i, (param, index) in enumerate(zip(group["params"], saved_group["params"])):
            for key, value in (saved["state"].get(index) or {}).items():
                if key != "step" and isinstance(value, torch.Tensor) and value.shape != param.shape:
                    raise ValueError(f"the checkpoint's optimizer state does not fit parameter {i} of group {g}: "
                                     f"its {key} is {tuple(value.shape)}, the parameter is {tuple(param.shape)} — "
                                     "build the optimizer over the policy load_checkpoint returned")
    optimizer.load_state_dict(saved)

