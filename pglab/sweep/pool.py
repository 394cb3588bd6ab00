"""The ``local`` executor: a process pool that survives a killed worker and a Ctrl-C without tracebacks.

:class:`ProcessPool` wraps :class:`concurrent.futures.ProcessPoolExecutor` (``spawn`` start) and adds
three things a long sweep needs:

* **Workers ignore Ctrl-C.** A terminal sends SIGINT to the whole process group, workers included.
  A worker hit by it mid-import or while idle dies with its own traceback, which breaks the pool
  while the main process is tearing it down — the source of the stray ``OSError: [Errno 9] Bad file
  descriptor`` (and of ``InvalidStateError``) that a single Ctrl-C used to print: the pool's manager
  thread closed its wake-up pipe while the interpreter's exit hook was writing to it. So workers are
  *started* with SIGINT blocked (the mask is inherited through fork and exec, so even the start-up
  imports are covered) and ignore it from their first instruction; only the main process decides
  what a Ctrl-C means (:func:`pglab.sweep.runner.run_sweep`: wait for the running runs, or abandon them).
* **A dead worker is survivable.** ``kill -9`` of one worker (or the OOM killer) breaks a
  ``ProcessPoolExecutor`` for good: every run in flight fails with ``BrokenProcessPool`` and every
  later ``submit`` raises it. :meth:`ProcessPool.submit` notices, starts a fresh pool and submits
  there; the runs that were in flight are recorded as failed by the sweep (with a one-line reason)
  and are retried by the next call.
* **Shutdown never races the exit.** :meth:`ProcessPool.close` waits for the pool's manager thread to
  finish before returning, also when it abandons running runs (terminating their processes), so nothing
  of the pool is still being torn down while the interpreter exits.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing.context
import signal
import threading
import time
import weakref

WORKER_DIED = ("BrokenProcessPool: a worker process died (killed by a signal, e.g. kill -9 or the out-of-memory "
               "killer) while this run was running or queued; rerun the sweep to retry it")
"""The one-line reason recorded for every run that a broken pool took down."""
EXECUTORS = ("local", "dask", "inprocess")
"""Where a sweep's runs go: this process pool, a Dask cluster, or one after another in this process."""


def _ignore_sigint() -> None:
    """Worker initializer: ignore Ctrl-C for good, then drop the block it was started with."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class _QuietProcess(multiprocessing.context.SpawnProcess):
    """A spawned process that starts with SIGINT blocked (inherited by the new interpreter)."""

    def start(self) -> None:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})    # this thread only, for the fork
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _QuietSpawnContext(multiprocessing.context.SpawnContext):
    Process = _QuietProcess


class ProcessPool(cf.Executor):
    """A ``spawn`` process pool of ``workers`` processes that ignore SIGINT and is rebuilt when a worker dies."""

    def __init__(self, workers: int) -> None:
        self._max_workers = workers
        self._lock = threading.Lock()
        self._futures: weakref.WeakSet[cf.Future] = weakref.WeakSet()
        self.rebuilds = 0
        """How many times a broken pool was replaced by a fresh one."""
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self._max_workers, mp_context=_QuietSpawnContext(),
                                      initializer=_ignore_sigint)

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        """Submit to the pool; if a worker died and broke it, replace the pool first (the dead pool's runs
        have failed with ``BrokenProcessPool`` already)."""
        with self._lock:
            try:
                future = self._pool.submit(fn, *args, **kwargs)
            except cf.process.BrokenProcessPool:
                old, self._pool = self._pool, self._new_pool()
                self.rebuilds += 1
                old.shutdown(wait=True)                    # its manager thread has ended or is ending
                future = self._pool.submit(fn, *args, **kwargs)
            self._futures.add(future)
            return future

    def busy(self) -> bool:
        """Whether a submitted run has not finished (running, or queued and not cancelled)."""
        return any(not f.done() for f in list(self._futures))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def close(self, abandon: bool = False) -> None:
        """Shut down. Graceful unless ``abandon`` and runs are still running: then stop their processes
        at once (their results are lost). Either way return only when the pool's manager thread is done."""
        pool = self._pool
        if not (abandon and self.busy()):
            pool.shutdown(wait=True, cancel_futures=True)
            return
        thread = pool._executor_manager_thread               # the pool drops these references on shutdown
        processes = list((pool._processes or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        _wait_until_cancelled_pruned(thread)
        for process in processes:
            process.terminate()
        if thread is not None:
            thread.join(timeout=30)
        for process in processes:
            process.join(timeout=5)


def _wait_until_cancelled_pruned(thread, timeout: float = 2.0) -> None:
    """Let the manager thread drop cancelled runs before the workers are stopped: on Python 3.11 a pool that
    breaks while it still holds a cancelled future crashes its manager thread with ``InvalidStateError``."""
    deadline = time.monotonic() + timeout
    while thread is not None and thread.is_alive() and time.monotonic() < deadline:
        items = dict(getattr(thread, "pending_work_items", {}))
        if not any(item.future.cancelled() for item in items.values()):
            return
        time.sleep(0.01)

