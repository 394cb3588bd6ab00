"""A grid of settings × seeds, expanded into runs and validated before any run starts.

A grid is a plain mapping (what ``grid.yaml`` holds)::

    task: copy-sparse          # a scalar: the same value in every run
    steps: 150
    lr: [0.001, 0.003]         # a list: swept — every combination of the lists
    variants:                  # optional arms, crossed with the lists above
      REINFORCE:            {algo: reinforce, baseline: none}
      REINFORCE + baseline: {algo: reinforce, baseline: batch_mean}
      A2C:                  {algo: a2c, gae_lambda: 0.9}

Settings are the run's own (:data:`RUN_SETTINGS`: algo, task, policy, hidden_size,
value_head, steps, lr, grad_batches) plus every field of the algorithm's config
dataclass (``pglab.algos.ALGOS[algo][0]``, e.g. ``gamma``, ``baseline``,
``gae_lambda``) — the names come from the registry, so a new algorithm's fields
are settings as soon as it is registered. Validation builds every run's config
(the configs check their own ranges), so an unknown setting, an empty list, a
setting that does not apply to a run's algorithm or a value out of range is a
``ValueError`` naming the setting — raised by :func:`expand`, before anything trains.

Each :class:`RunSpec` is plain data (str, int, float, bool, None): it pickles in
about 540 bytes, and :func:`run_hash` of its resolved config identifies the run across
restarts (the variant's *name* is a label, not part of the hash).
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import checks
from ..algos import ALGOS
from ..policies import DEFAULT_HIDDEN, HF_KINDS, POLICY_KINDS, VALUE_HEADS, require_hf, validate_spec
from ..tasks import TASKS, make_task

RUN_SETTINGS: dict[str, Any] = {"algo": "reinforce", "task": "copy", "policy": "gru", "hidden_size": None,
                                "value_head": "auto", "steps": 100, "lr": 3e-3, "grad_batches": 8}
"""Settings of the run itself and their defaults (every other setting is an algorithm-config field).
``value_head="auto"`` gives a separate critic to algorithms that need one (a ``gae_lambda`` field or
``baseline="value"``); ``grad_batches`` batch gradients measure the gradient variance at the end (0: off)."""
MAX_SEEDS = 10_000
MAX_STEPS = 1_000_000
MAX_GRAD_BATCHES = 1_000
HASH_VERSION = 1
"""Bump when a run's meaning changes without its config changing (e.g. what a row records)."""


@dataclass(frozen=True)
class RunSpec:
    """One run: a resolved, validated config and a seed — everything a worker needs, as plain data."""
    label: str
    """Human-readable name of the setting combination (the variant and the swept values)."""
    settings: dict[str, Any]
    """The settings the grid named for this run (columns of the results table)."""
    config: dict[str, Any]
    """Fully resolved: run settings plus every field of the algorithm's config (defaults included)."""
    seed: int
    hash: str = field(default="")

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", run_hash(self.config, self.seed))


def run_hash(config: Mapping[str, Any], seed: int) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of (config, seed): the run's identity on disk."""
    text = json.dumps({"v": HASH_VERSION, "config": dict(config), "seed": seed}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def algo_fields() -> dict[str, set[str]]:
    """Per registered algorithm, the names of its config fields."""
    return {name: {f.name for f in dataclasses.fields(cls)} for name, (cls, _) in ALGOS.items()}


def known_settings() -> list[str]:
    return sorted(set(RUN_SETTINGS) | set().union(*algo_fields().values()))


def _as_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"grid setting {name!r} is an empty list; give at least one value")
        return list(value)
    if isinstance(value, Mapping):
        raise ValueError(f"grid setting {name!r} must be a value or a list of values, got a mapping {dict(value)!r}")
    return [value]


def _check_names(names: Mapping[str, Any], where: str) -> None:
    known = known_settings()
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown setting {name!r}{where}{hint}; known: {', '.join(known)}")


def int_in(name: str, value: object, minimum: int, maximum: int) -> int:
    """``checks.positive_int`` with one wording for every range error: "NAME must be an integer in [1, 10,000]"."""
    try:
        return checks.positive_int(name, value, minimum=minimum, maximum=maximum)
    except ValueError:
        raise ValueError(f"{name} must be an integer in [{minimum:,}, {maximum:,}], got {value!r}") from None


def _variants(grid: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if "variants" not in grid:
        return {"": {}}
    raw = grid["variants"]
    if isinstance(raw, list):               # a list of mappings, each with a "name"
        if not all(isinstance(v, Mapping) and "name" in v for v in raw):
            raise ValueError("variants must be a mapping name → settings, or a list of mappings each with a 'name'")
        raw = {str(v["name"]): {k: x for k, x in v.items() if k != "name"} for v in raw}
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError(f"variants must be a non-empty mapping name → settings, got {raw!r}")
    for name, settings in raw.items():
        if not isinstance(settings, Mapping):
            raise ValueError(f"variant {name!r} must map settings to single values, got {settings!r}")
        _check_names(settings, f" in variant {name!r}")
        for key, value in settings.items():
            if isinstance(value, (list, tuple, Mapping)):
                raise ValueError(f"variant {name!r}: setting {key!r} must be a single value (a variant is one arm; "
                                 f"put lists in the grid), got {value!r}")
    return {str(k): dict(v) for k, v in raw.items()}


def expand(grid: Mapping[str, Any], seeds: int | list[int]) -> list[RunSpec]:
    """Every combination of the grid's lists × variants × seeds, validated; raises ``ValueError`` before any run.

    ``seeds`` is a count (seeds 0 … n − 1) or an explicit list of seeds. Runs are ordered
    seed-major within each combination, so the first runs of a sweep already cover every setting.
    """
    if not isinstance(grid, Mapping):
        raise ValueError(f"a grid must be a mapping of settings to values or lists, got {type(grid).__name__}")
    seed_list = _seeds(seeds)
    lists = {k: _as_list(k, v) for k, v in grid.items() if k != "variants"}
    _check_names(lists, "")
    variants = _variants(grid)
    clash = [(n, k) for n, v in variants.items() for k in v if k in lists]
    if clash:
        raise ValueError(f"setting {clash[0][1]!r} is set both in the grid and in variant {clash[0][0]!r}")
    swept = [k for k, v in lists.items() if len(v) > 1]
    specs = []
    for variant, settings in variants.items():
        for values in itertools.product(*lists.values()):
            chosen = {**dict(zip(lists, values)), **settings}
            parts = ([variant] if variant else []) + [f"{k}={chosen[k]}" for k in swept]
            label = ", ".join(parts) or "run"
            config = resolve(chosen, f"variant {variant!r}" if variant else "")
            named = {**({"variant": variant} if variant else {}), **chosen}
            specs += [RunSpec(label, named, config, s) for s in seed_list]
    hashes = [s.hash for s in specs]
    if len(set(hashes)) != len(hashes):
        dup = next(s for s in specs if hashes.count(s.hash) > 1)
        raise ValueError(f"two runs of the grid are the same run ({dup.label}, seed {dup.seed}): variants or lists "
                         "repeat a configuration")
    return specs


def _seeds(seeds: int | list[int]) -> list[int]:
    if isinstance(seeds, (list, tuple)):
        if not seeds:
            raise ValueError("seeds must list at least one seed")
        out = [checks.seed("seed", s) for s in seeds]
        if len(set(out)) != len(out):
            raise ValueError(f"seeds must be distinct, got {list(seeds)}")
        return out
    return list(range(int_in("seeds", seeds, 1, MAX_SEEDS)))


_TASK_VOCAB: dict[str, int] = {}


def resolve(chosen: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate one combination by building its configs; return the full, plain config."""
    run = {**RUN_SETTINGS, **{k: v for k, v in chosen.items() if k in RUN_SETTINGS}}
    algo = checks.choice("algo", run["algo"], list(ALGOS))
    cls = ALGOS[algo][0]
    extra = {k: v for k, v in chosen.items() if k not in RUN_SETTINGS}
    fields = algo_fields()[algo]
    for key in extra:
        if key not in fields:
            users = sorted(a for a, f in algo_fields().items() if key in f)
            raise ValueError(f"setting {key!r} does not apply to algo {algo!r}{f' ({where})' if where else ''}; "
                             f"it is a setting of "
                             f"{', '.join(users)}")
    try:
        algo_config = cls(**extra)                             # the config checks its own ranges
        plain = _run_settings(run, algo, algo_config)
    except ValueError as err:
        raise ValueError(f"bad grid{f' ({where})' if where else ''}: {err}") from None
    return {**plain, **dataclasses.asdict(algo_config)}


def _run_settings(run: dict[str, Any], algo: str, algo_config: Any) -> dict[str, Any]:
    task = checks.choice("task", run["task"], list(TASKS))
    policy = checks.choice("policy", run["policy"], POLICY_KINDS)
    hidden = DEFAULT_HIDDEN[policy] if run["hidden_size"] is None else run["hidden_size"]
    head = checks.choice("value_head", run["value_head"], [*VALUE_HEADS, "auto"])
    critic = hasattr(algo_config, "gae_lambda") or getattr(algo_config, "baseline", None) == "value"
    if head == "auto":
        head = "separate" if critic else None
    elif critic and head is None:
        raise ValueError(f"value_head=None leaves algo {algo!r} without the critic it needs; use 'separate', "
                         "'shared' or 'auto'")
    if run["grad_batches"] == 1:
        raise ValueError("grad_batches must be 0 (off) or an integer >= 2 (a variance needs two batches), got 1")
    if getattr(algo_config, "kl_coef", 0.0) > 0:
        raise ValueError("kl_coef > 0 needs a reference policy, which a sweep does not build; use 0")
    if task not in _TASK_VOCAB:
        _TASK_VOCAB[task] = len(make_task(task).vocab)
    if policy in HF_KINDS:                                     # tiny HF model: 4 heads, see make_policy
        try:
            require_hf(policy)
        except ModuleNotFoundError as err:
            raise ValueError(str(err)) from None
        hidden = checks.positive_int("hidden_size", hidden, maximum=8192)
        if hidden % 4:
            raise ValueError(f"hidden_size must be divisible by n_heads=4 for policy {policy!r}, got {hidden}")
    else:
        spec = {"kind": policy, "vocab_size": _TASK_VOCAB[task], "embed_size": 64, "hidden_size": hidden,
                "value_head": head, "n_layers": 2 if policy == "transformer" else 1,
                "n_heads": 4 if policy == "transformer" else None,
                "max_len": 64 if policy == "transformer" else None, "seed": 0}
        validate_spec(spec)                                    # hidden_size range, divisibility by heads
    return {"algo": algo, "task": task, "policy": policy, "hidden_size": hidden, "value_head": head,
            "steps": int_in("steps", run["steps"], 1, MAX_STEPS),
            "lr": checks.learning_rate("lr", run["lr"]),
            "grad_batches": int_in("grad_batches", run["grad_batches"], 0, MAX_GRAD_BATCHES)}
