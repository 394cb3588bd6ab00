"""One run of a sweep: a pure function of (config, seed) that returns plain data.

:func:`run_one` is what every executor calls — in this process, in a process pool or
on a Dask worker. It builds the task and the policy from the spec, trains with
:func:`pglab.train`, and returns lists of floats and strings (never tensors), so the
reply pickles small (~116 bytes per logged step) and reads the same everywhere.

Torch uses **one thread** per run: two runs on two cores beat one run on two
threads for these small models, and a fixed thread count makes the numbers
identical whichever executor ran them.

Gradient variance. History logs each update's gradient *norm*, not its variance, so at
the end of the run (``grad_batches`` = M > 0) the run's own update is computed M more
times on fresh batches at the final policy θ_final without moving it (an SGD optimizer
with lr = 0, clipping off), and tr Cov[ĝ] = Σ_p Var_j[ĝ_j,p] over the M batch gradients of the
actor's parameters is recorded — the noise of the update that run ends with. (An algorithm that steps
several times per update, like PPO's epochs × minibatches, contributes its last minibatch's gradient; a
stateful baseline such as ``moving_average`` starts afresh for each of the M batches.) Runs of
different settings end at different policies, so this compares where each method ends
up, not estimators at one shared θ (chapters 04–05 and the live lab's meter do that).
"""
from __future__ import annotations

import dataclasses
import time
import traceback
from typing import Any

import torch

from ..algos import ALGOS, NonFiniteError
from ..policies import make_policy
from ..tasks import make_task
from ..train import History, train
from .grid import RunSpec


def build(spec: RunSpec):
    """The task, the policy (seeded by the run's seed) and the algorithm config of a run."""
    cfg = spec.config
    cls = ALGOS[cfg["algo"]][0]
    algo_config = cls(**{f.name: cfg[f.name] for f in dataclasses.fields(cls)})
    task = make_task(cfg["task"])
    policy = make_policy(cfg["policy"], task, hidden_size=cfg["hidden_size"],
                         value_head=cfg["value_head"], seed=spec.seed)
    return task, policy, algo_config


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Train one run; return ``{"hash", "seed", "status", "error", "seconds", "grad_variance", "rows"}``.

    ``status`` is "ok" or "failed"; a failed run keeps the steps it logged and a one-line
    ``error``. Exceptions never escape (a broken run must not stop the sweep), except
    KeyboardInterrupt and SystemExit.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    history, status, error, grad_variance = History(), "ok", "", float("nan")
    try:
        task, policy, algo_config = build(spec)
        train(policy, task, spec.config["algo"], algo_config, steps=spec.config["steps"], lr=spec.config["lr"],
              seed=spec.seed, history=history)
        if spec.config["grad_batches"] > 0:
            grad_variance = final_gradient_variance(policy, task, spec, algo_config)
    except Exception as err:                                   # noqa: BLE001 — recorded, never raised
        status, error = "failed", one_line(err)
    finally:
        torch.set_num_threads(threads)
    return {"hash": spec.hash, "seed": spec.seed, "status": status, "error": error,
            "seconds": time.perf_counter() - start, "grad_variance": grad_variance,
            "rows": [dict(r) for r in history.rows]}


def one_line(err: BaseException) -> str:
    """``Type: first line of the message`` plus where it was raised — short enough for a table cell."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    kind = "non-finite" if isinstance(err, NonFiniteError) else type(err).__name__
    return f"{kind}: {text[:300]}{where}"


def final_gradient_variance(policy, task, spec: RunSpec, algo_config) -> float:
    """tr Cov[ĝ] of the run's own update over M = grad_batches fresh batches at the final policy (see module)."""
    step_fn = ALGOS[spec.config["algo"]][1]
    if hasattr(algo_config, "max_grad_norm"):
        algo_config = dataclasses.replace(algo_config, max_grad_norm=None)       # the raw gradient, unclipped
    frozen = torch.optim.SGD(policy.parameters(), lr=0.0)                       # step() leaves θ where it is
    actor = list(policy.actor_parameters().values())
    generator = torch.Generator().manual_seed(spec.seed + 7_919)                # a stream apart from training's
    grads = []
    for _ in range(spec.config["grad_batches"]):
        step_fn(policy, frozen, task, algo_config, generator, {})         # fresh state: a moving average restarts
        grads.append(torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros_like(p).flatten()
                                for p in actor]))
    g = torch.stack(grads).double()                                             # (M, P)
    return float(g.var(0, unbiased=True).sum())                                 # tr Cov[ĝ]
