"""Sweeps that meet a killed worker, a huge grid, a second sweep into the same folder, and Ctrl-C (issue 19, item 8).

Each test fails on the code before the fix: a ``kill -9``'d worker ended the sweep with a ``BrokenProcessPool``
traceback; a 2,010-run grid started silently; two sweeps into one ``--out`` both ran every run; the pool's
workers died on the terminal's Ctrl-C and the pool was torn down while the interpreter exited (the stray
``OSError: [Errno 9] Bad file descriptor``)."""
import concurrent.futures as cf
import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from pglab.sweep import expand, load, make_executor, run_sweep
from pglab.sweep import run as run_module
from pglab.sweep import runner
from pglab.sweep.lock import SweepLocked

TINY = {"task": "copy-sparse", "steps": 4, "batch_size": 8, "hidden_size": 16, "grad_batches": 0,
        "variants": {"REINFORCE": {"algo": "reinforce", "baseline": "none"},
                     "A2C": {"algo": "a2c", "gae_lambda": 0.9}}}
GRID_YAML = ("task: copy-sparse\nsteps: 4\nbatch_size: 8\nhidden_size: 16\ngrad_batches: 0\n"
             "variants:\n  REINFORCE: {algo: reinforce, baseline: none}\n  A2C: {algo: a2c}\n")
ROOT = Path(__file__).resolve().parents[1]


class KillOne:
    """A run function for pool workers: the chosen run kills its own worker process (``kill -9``)."""

    def __init__(self, victim: str):
        self.victim = victim

    def __call__(self, spec):
        if spec.hash == self.victim:
            os.kill(os.getpid(), signal.SIGKILL)
        return run_module.run_one(spec)


@pytest.mark.slow
def test_kill_9_of_a_worker_fails_its_runs_rebuilds_the_pool_and_ends_with_the_summary(tmp_path, capsys, monkeypatch):
    from pglab.cli import main
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID_YAML)
    specs = expand(load_grid_dict(grid), 4)                     # 8 runs; the first one is killed at once
    monkeypatch.setattr(runner, "run_sweep", functools.partial(runner.run_sweep, run_fn=KillOne(specs[0].hash)))
    argv = ["sweep", "--grid", str(grid), "--seeds", "4", "--out", str(tmp_path / "o"), "--executor", "local",
            "--workers", "2", "--no-progress", "--last", "2"]
    assert main(argv) == 1                                      # finished, with failed runs recorded
    out, err = capsys.readouterr()
    assert "8 runs executed, 0 already finished" in out and "final score" in out and "P(A2C > REINFORCE)" in out
    assert f"run {specs[0].hash} failed: BrokenProcessPool: a worker process died (killed by a signal" in err
    assert "Traceback" not in err
    table = load(tmp_path / "o", specs)
    status = table.groupby("run")["status"].first()
    assert status[specs[0].hash] == "failed" and status[specs[-1].hash] == "ok"   # the last run ran on a new pool
    failed = table[table["status"] == "failed"]["error"].unique()
    assert len(failed) == 1 and "\n" not in failed[0]              # one one-line reason for every affected run
    summary = pd.read_csv(tmp_path / "o" / "summary.csv")
    assert summary["failed"].sum() == (status == "failed").sum() >= 1


def load_grid_dict(path):
    from pglab.sweep.cli import load_grid
    return load_grid(path)


def _big_grid(tmp_path, values: int) -> Path:
    lrs = ", ".join(f"{1e-4 * (i + 1):.6g}" for i in range(values))
    grid = tmp_path / f"grid{values}.yaml"
    grid.write_text(f"task: copy\nsteps: 3\nbatch_size: 8\nhidden_size: 16\ngrad_batches: 0\nlr: [{lrs}]\n")
    return grid


def test_a_grid_above_2000_runs_needs_yes(tmp_path, capsys, monkeypatch):
    from pglab.cli import main
    started = []

    def fake_sweep(specs, **kwargs):                            # stands in for the 2,010 runs
        started.append(len(specs))
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_sweep", fake_sweep)
    base = ["sweep", "--seeds", "10", "--executor", "inprocess", "--no-progress"]
    big = base + ["--grid", str(_big_grid(tmp_path, 201)), "--out", str(tmp_path / "big")]
    assert main(big) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("pglab sweep: this grid is 2,010 runs (201 settings × 10 seeds), 6,030 updates: roughly ")
    assert "CPU-hours, about" in err and "above 2,000 runs a sweep starts only with --yes" in err
    assert started == [] and not (tmp_path / "big").exists()
    assert main(big + ["--yes"]) == 130 and started == [2010]   # --yes: it starts
    at_limit = base + ["--grid", str(_big_grid(tmp_path, 200)), "--out", str(tmp_path / "limit")]
    assert main(at_limit) == 130 and started == [2010, 2000]    # 2,000 runs: no question asked


HOLDER = textwrap.dedent("""
    import sys, time
    from pglab.sweep.lock import lock_out
    with lock_out(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(120)
""")


def test_a_second_sweep_into_the_same_out_is_refused_until_the_first_ends(tmp_path, capsys):
    from pglab.cli import main
    out = tmp_path / "o"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        calls = []
        with pytest.raises(SweepLocked, match=rf"another sweep \(pid {holder.pid} on .*\) is writing to {out}"):
            run_sweep(TINY, 1, out, run_fn=lambda spec: calls.append(spec) or run_module.run_one(spec))
        assert calls == [] and load(out).empty                  # nothing ran, nothing written
        grid = tmp_path / "grid.yaml"
        grid.write_text(GRID_YAML)
        argv = ["sweep", "--grid", str(grid), "--seeds", "1", "--out", str(out), "--executor", "inprocess",
                "--no-progress"]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(f"pglab sweep: another sweep (pid {holder.pid}") and "use another --out" in err[-1]
    finally:
        holder.kill()                                           # kill -9: the OS frees the lock
        holder.wait()
    report = run_sweep(TINY, 1, out)                            # the stale lock file blocks nobody
    assert len(report.executed) == 2 and not report.failed


def test_the_lock_is_reentrant_in_one_thread_and_exclusive_across_threads(tmp_path):
    from pglab.sweep.lock import lock_out
    seen = []
    with lock_out(tmp_path), lock_out(tmp_path):                # the CLI holds it, then run_sweep takes it again
        worker = threading.Thread(target=lambda: seen.append(_try_lock(tmp_path)))
        worker.start()
        worker.join()
    assert seen == ["refused"] and _try_lock(tmp_path) == "got it"


def _try_lock(path):
    from pglab.sweep.lock import lock_out
    try:
        with lock_out(path):
            return "got it"
    except SweepLocked:
        return "refused"


def _sigint_self_then_report() -> str:
    """Runs in a pool worker: the terminal's Ctrl-C reaches workers too."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
    return "still running"


@pytest.fixture
def ctrl_c_reaches_children():
    """Children inherit an *ignored* SIGINT (pytest started from a script in the background has one), which would
    hide the bug: give this process Python's usual Ctrl-C handler while the test starts its workers."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_pool_workers_ignore_ctrl_c(ctrl_c_reaches_children):
    with make_executor("local", workers=1) as pool:
        future = pool.submit(_sigint_self_then_report)
        assert future.exception(timeout=120) is None, repr(future.exception())   # not a KeyboardInterrupt
        assert future.result() == "still running"
        assert pool.submit(signal.getsignal, signal.SIGINT).result(timeout=60) == signal.SIG_IGN


def test_abandoning_the_pool_waits_for_its_manager_thread(monkeypatch):
    """A second Ctrl-C abandons running runs: the pool's processes are stopped, and its manager thread has ended
    before ``make_executor`` re-raises, so nothing of the pool is torn down while the interpreter exits (the
    race that printed ``OSError: [Errno 9] Bad file descriptor``) and no cancelled run crashes the manager."""
    crashes = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(args.exc_value))
    with pytest.raises(KeyboardInterrupt), make_executor("local", workers=1) as pool:
        futures = [pool.submit(time.sleep, 60) for _ in range(3)]     # one running, two queued
        while not futures[0].running():
            time.sleep(0.05)
        futures[2].cancel()
        inner = getattr(pool, "_pool", pool)
        manager, processes = inner._executor_manager_thread, list(inner._processes.values())
        raise KeyboardInterrupt
    assert not manager.is_alive() and not any(p.is_alive() for p in processes)
    assert crashes == []
    assert isinstance(futures[0].exception(timeout=5), cf.process.BrokenProcessPool)


@pytest.mark.slow
def test_one_ctrl_c_in_a_terminal_saves_the_running_runs_and_prints_one_line(tmp_path):
    """The terminal sends SIGINT to the whole process group; the sweep must end with its one line and status 130,
    with no traceback from a worker or from the pool's teardown."""
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID_YAML.replace("steps: 4", "steps: 30"))
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "pglab", "sweep", "--grid", str(grid), "--seeds", "4", "--out", str(out),
           "--executor", "local", "--workers", "2", "--no-progress"]
    sweep = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True,               # its own process group, like a terminal's job
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not list((out / "runs").glob("*.parquet")) and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.2)                                            # workers are up and runs are finishing
    os.killpg(sweep.pid, signal.SIGINT)
    _, err = sweep.communicate(timeout=240)
    assert sweep.returncode == 130, err
    assert "Traceback" not in err and "Errno 9" not in err and "Error" not in err, err
    assert "interrupted (Ctrl-C) after" in err.splitlines()[-1] and "rerun the same command to resume" in err
