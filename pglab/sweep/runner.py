"""Run a sweep on any ``concurrent.futures.Executor``, streaming each finished run to Parquet.

Executors (:func:`make_executor`):

* ``"inprocess"`` — :class:`InProcessExecutor`, runs each job when it is submitted (debugging, pdb, tests);
* ``"local"`` (default) — a :class:`~pglab.sweep.pool.ProcessPool` of ``workers`` processes: a ``spawn``
  :class:`~concurrent.futures.ProcessPoolExecutor` (no forked torch thread pools; each run uses one torch
  thread) whose workers ignore Ctrl-C and which is rebuilt when a worker is killed;
* ``"dask"`` — a Dask ``distributed.LocalCluster(processes=True)`` of ``workers`` single-threaded
  worker processes on 127.0.0.1, used through ``Client.get_executor()``;
* ``"tcp://host:8786"`` (any scheduler address) — an existing Dask cluster. The same code runs on a
  Slurm cluster through dask-jobqueue::

      from dask_jobqueue import SLURMCluster            # pip install dask-jobqueue
      cluster = SLURMCluster(cores=1, processes=1, memory="2GB", walltime="01:00:00")
      cluster.scale(jobs=40)                            # 40 Slurm jobs, one single-threaded worker each
      run_sweep(grid, 20, "runs/big", executor=Client(cluster).get_executor(pure=False))

  or on Kubernetes through dask-kubernetes (``KubeCluster(custom_cluster_spec=make_cluster_spec(
  name="pglab", image=IMAGE_WITH_PGLAB))``, ``cluster.scale(40)``); or pass the scheduler's address,
  ``--executor tcp://scheduler:8786``. Workers need pglab installed (the function travels by reference).

What travels: per run, the :class:`~pglab.sweep.grid.RunSpec` (about 540 bytes pickled, plain data) and a
reference to :func:`~pglab.sweep.run.run_one`; back comes a dict of floats (~116 bytes per logged step).
No weights, no tensors. Only the submitting process writes files, so ``out`` need not be shared storage.

In a script, create a ``local`` or ``dask`` executor under ``if __name__ == "__main__":`` — their worker
processes are spawned and re-import the main module (notebooks and ``python -m pglab sweep`` need nothing).

At most ``2 × workers`` runs are in flight at a time, so results stream as they finish, Ctrl-C
cancels little, and a lost Dask worker's runs are rescheduled by Dask itself. A killed worker of the
``local`` pool takes the runs in flight with it: they are recorded as failed (``WORKER_DIED``, one line),
the pool is rebuilt and the sweep goes on. One sweep at a time may write to an ``out`` folder
(:mod:`pglab.sweep.lock`): a second one stops at once with :class:`~pglab.sweep.lock.SweepLocked`.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import results
from .grid import RunSpec, expand, int_in
from .lock import lock_out
from .pool import EXECUTORS, WORKER_DIED, ProcessPool
from .run import one_line, run_one


class InProcessExecutor(cf.Executor):
    """The trivial executor: ``submit`` runs the function now, in this process, and returns a done future."""

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:                               # noqa: BLE001 — delivered through the future
            future.set_exception(err)
        return future


def check_executor(kind: str = "local", workers: int | None = None) -> int:
    """Validate an executor choice without starting anything; returns the number of workers it will use.

    Called by :func:`make_executor` and by the CLI *before* the output folder is created."""
    if not isinstance(kind, str) or not (kind in EXECUTORS or "://" in kind):
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)} or a Dask scheduler address such as "
                         f"'tcp://10.0.0.5:8786', got {kind!r}")
    if workers is not None and kind not in ("local", "dask"):
        raise ValueError(f"workers does not apply to executor {kind!r} (only to 'local' and 'dask'); "
                         "a scheduler's cluster is sized where it is started, e.g. cluster.scale(N)")
    return default_workers() if workers is None else int_in("workers", workers, 1, 1024)


@contextlib.contextmanager
def make_executor(kind: str = "local", workers: int | None = None) -> Iterator[cf.Executor]:
    """A context manager yielding an executor of ``kind`` (see the module docstring); it is shut down on exit.

    ``workers`` (default: one per core) sizes a ``local`` pool or a ``dask`` LocalCluster; it does not apply
    to ``inprocess`` or to a scheduler address (whose cluster has its own size), where giving it is an error.
    Leaving a ``local`` block with an exception while runs are still running (a second Ctrl-C abandoned
    them) stops the pool's processes instead of waiting for them; after a first Ctrl-C (the running runs
    were waited for) or a normal end the pool shuts down gracefully.
    """
    workers = check_executor(kind, workers)
    if kind == "inprocess":
        yield InProcessExecutor()
    elif kind == "local":
        pool = ProcessPool(workers)
        try:
            yield pool
        except BaseException:
            pool.close(abandon=True)                              # stops only runs still running
            raise
        pool.close()
    else:
        with dask_client(None if kind == "dask" else kind, workers) as client:
            yield client.get_executor(pure=False)


@contextlib.contextmanager
def dask_client(address: str | None = None, workers: int | None = None):
    """A ``distributed.Client``: on a new LocalCluster bound to 127.0.0.1 (``address=None``) or on a scheduler.

    The LocalCluster has ``workers`` processes with one thread each (each run is single-threaded
    torch), a dashboard on a free local port (``client.dashboard_link``), and is closed on exit.
    """
    from distributed import Client, LocalCluster
    workers = default_workers() if workers is None else int_in("workers", workers, 1, 1024)
    if address is not None:
        with Client(address) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", worker_dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def executor_workers(executor: cf.Executor, default: int = 2) -> int:
    """How many runs the executor runs at once (for the in-flight window)."""
    if isinstance(executor, InProcessExecutor):
        return 1
    if isinstance(executor, cf.ProcessPoolExecutor | cf.ThreadPoolExecutor | ProcessPool):
        return executor._max_workers
    client = getattr(executor, "_client", None)                # distributed.cfexecutor.ClientExecutor
    if client is not None:
        return max(sum(client.nthreads().values()), 1)
    return default


@dataclass
class SweepReport:
    """What one call of :func:`run_sweep` did (the table itself is :func:`results.load`)."""
    out: Path
    runs: list[RunSpec]
    executed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    stopped: str | None = None

    def __repr__(self) -> str:
        return (f"SweepReport({len(self.runs)} runs: {len(self.executed)} executed, {len(self.skipped)} found "
                f"finished in {self.out}, {len(self.failed)} failed{'; ' + self.stopped if self.stopped else ''})")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the finished runs are on disk; ``report`` says what happened."""

    def __init__(self, report: SweepReport) -> None:
        super().__init__(report.stopped)
        self.report = report


def run_sweep(grid: Mapping[str, Any] | list[RunSpec], seeds: int | list[int] = 5, out: str | Path = "runs/sweep",
              *, executor: cf.Executor | None = None, retry_failed: bool = True,
              progress: Callable[[RunSpec, dict], None] | None = None,
              run_fn: Callable[[RunSpec], dict] = run_one) -> SweepReport:
    """Expand and validate ``grid`` × ``seeds``, skip runs already in ``out``, run the rest on ``executor``.

    Every finished run is written to ``out/runs/<hash>.parquet`` as soon as it returns. A run that
    raises is recorded as failed (with its one-line error) and the others go on; failed runs are
    retried on the next call unless ``retry_failed=False``. Ctrl-C cancels what has not started, says so on
    stderr, waits for the running runs and saves them (a second Ctrl-C abandons them), then raises
    :class:`SweepInterrupted` (finished runs stay on disk; rerun to resume). ``executor=None``
    runs in this process. ``progress(spec, result)`` is called after each run (e.g. a tqdm update).
    A worker that dies (``kill -9``, out of memory) fails the runs it took down with the one-line reason
    ``WORKER_DIED``; the ``local`` pool is rebuilt and the sweep goes on (a plain ``ProcessPoolExecutor``
    cannot be rebuilt: the remaining runs then fail with the same reason, and the sweep still ends with a
    report). While the sweep runs it holds ``out``'s lock (:func:`~pglab.sweep.lock.lock_out`): a second
    sweep into the same folder raises :class:`~pglab.sweep.lock.SweepLocked` before it runs anything.
    """
    specs = grid if isinstance(grid, list) else expand(grid, seeds)        # every error before any run
    out = results.prepare_out(out)
    with lock_out(out):                                                    # one sweep per folder at a time
        return _run(specs, out, executor, retry_failed, progress, run_fn)


def _run(specs: list[RunSpec], out: Path, executor: cf.Executor | None, retry_failed: bool,
         progress: Callable[[RunSpec, dict], None] | None, run_fn: Callable[[RunSpec], dict]) -> SweepReport:
    """The body of :func:`run_sweep`, under the folder's lock."""
    done = results.finished(out, include_failed=not retry_failed)
    report = SweepReport(out, specs, skipped=[s.hash for s in specs if s.hash in done])
    todo = [s for s in specs if s.hash not in done]
    executor = executor or InProcessExecutor()
    window = 2 * executor_workers(executor)
    pending: dict[cf.Future, RunSpec] = {}
    queue = iter(todo)
    try:
        while True:
            for spec in queue:
                pending[_submit(executor, run_fn, spec)] = spec
                if len(pending) >= window:
                    break
            if not pending:
                break
            finished_now, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in finished_now:
                _record(out, pending.pop(future), future, report, progress)
    except KeyboardInterrupt:
        _stop(out, pending, report, progress)
        report.stopped = (f"interrupted (Ctrl-C) after {len(report.executed)} of {len(todo)} runs; "
                          f"{len(report.skipped) + len(report.executed)} of {len(specs)} are in {out} — "
                          "rerun the same command to resume")
        raise SweepInterrupted(report) from None
    return report


def _submit(executor: cf.Executor, run_fn: Callable[[RunSpec], dict], spec: RunSpec) -> cf.Future:
    """``executor.submit``; a pool broken for good (a dead worker, and no rebuild) gives a failed future."""
    try:
        return executor.submit(run_fn, spec)
    except cf.BrokenExecutor as err:
        future: cf.Future = cf.Future()
        future.set_exception(err)
        return future


def _stop(out: Path, pending: dict[cf.Future, RunSpec], report: SweepReport,
          progress: Callable[[RunSpec, dict], None] | None) -> None:
    """First Ctrl-C: cancel the runs not started, wait for the running ones and save them; a second Ctrl-C
    abandons them (their results are lost; they are rerun on resume)."""
    running = {f: s for f, s in pending.items() if not f.cancel()}      # started (or already done)
    busy = sum(not f.done() for f in running)
    if busy:
        print(f"pglab sweep: stopping: waiting for {busy} running run{'s' * (busy != 1)} "
              "(Ctrl-C again to abandon them)", file=sys.stderr, flush=True)
    try:
        while running:
            finished_now, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in finished_now:
                _record(out, running.pop(future), future, report, progress, stopping=True)
    except KeyboardInterrupt:
        for future in running:
            future.cancel()


def _record(out: Path, spec: RunSpec, future: cf.Future, report: SweepReport,
            progress: Callable[[RunSpec, dict], None] | None, stopping: bool = False) -> None:
    """Write one finished run (a failure from the executor itself — e.g. a dead worker — is recorded too).

    A run stopped by Ctrl-C inside its worker (the terminal sends SIGINT to the whole process group) is
    neither finished nor failed: it is not written, so a resume runs it again. While stopping, an error
    from the executor itself (a worker killed by the same Ctrl-C) is not recorded either."""
    try:
        result = future.result()
    except (KeyboardInterrupt, cf.CancelledError):
        return
    except Exception as err:                                   # noqa: BLE001 — worker lost, unpicklable, ...
        if stopping or "KeyboardInterrupt" in repr(err):         # Dask re-raises a worker's Ctrl-C wrapped
            return
        reason = WORKER_DIED if isinstance(err, cf.BrokenExecutor) else one_line(err)
        result = {"hash": spec.hash, "seed": spec.seed, "status": "failed", "error": reason,
                  "seconds": float("nan"), "grad_variance": float("nan"), "rows": []}
    results.write_run(out, spec, result)
    report.executed.append(spec.hash)
    if result["status"] != "ok":
        report.failed[spec.hash] = result["error"]
    if progress is not None:
        progress(spec, result)


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
