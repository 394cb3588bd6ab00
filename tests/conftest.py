"""Test-session settings shared by every test, and what makes `make test`'s parallel run safe.

`make test` runs the suite on pytest-xdist workers (``-n``, see the Makefile) with ``--dist loadfile``
(pyproject.toml): every file — a notebook's cells, a browser test's server — runs whole, in order, on one worker.
Here, for each worker: one torch intra-op thread, for this process and for every process it starts (nbval's kernels,
Voilà's kernels, the grader's), so that the workers do not fight over the cores; and the longest files first.
"""
import json
import os
from collections import Counter
from pathlib import Path

WORKER = os.environ.get("PYTEST_XDIST_WORKER")            # "gw0", "gw1", ... on an xdist worker; unset otherwise
if WORKER:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"     # inherited by every kernel it starts

import pytest  # noqa: E402
import torch  # noqa: E402

# Keep the reference-LM cache inside the test session, never in the user's home. Workers share it safely: each
# writes a unique temporary file and renames it into place (pglab.reference_lm._save_cached).
os.environ.setdefault("PGLAB_CACHE", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "pglab"))
torch.set_num_threads(1 if WORKER else min(2, torch.get_num_threads()))

POLICY_KINDS = ["gru", "lstm", "transformer"]

# Seconds each file took in the last run that stored them (`PGLAB_STORE_DURATIONS=1 make test` updates
# tests/durations.json; a file added since may carry an estimate until then). On xdist workers the files run
# longest first, so that no long file starts last and leaves one worker alone at the end; files not listed keep
# their collection order after the listed ones.
DURATIONS = Path(__file__).with_name("durations.json")
SPENT: Counter = Counter()


def _file(nodeid: str) -> str:
    return nodeid.split("::")[0]


def pytest_collection_modifyitems(config, items):
    """On xdist workers, order the files longest first (a stable sort: the items of one file keep their order).
    Every worker reads the same committed file, so every worker collects the same order, as xdist requires."""
    if WORKER:
        try:
            seconds = json.loads(DURATIONS.read_text())
        except (OSError, ValueError):
            seconds = {}
        items.sort(key=lambda item: -seconds.get(_file(item.nodeid), 0))


def pytest_runtest_logreport(report):
    """With PGLAB_STORE_DURATIONS=1: add up each file's setup, call and teardown seconds (on the xdist controller,
    which receives every worker's reports, or in a serial run)."""
    if os.environ.get("PGLAB_STORE_DURATIONS") and not WORKER:
        SPENT[_file(report.nodeid)] += report.duration


def pytest_sessionfinish(session, exitstatus):
    """With PGLAB_STORE_DURATIONS=1: merge this run's seconds per file into tests/durations.json."""
    if SPENT and not WORKER:
        try:
            seconds = json.loads(DURATIONS.read_text())
        except (OSError, ValueError):
            seconds = {}
        seconds.update({name: round(s, 1) for name, s in SPENT.items()})
        ranked = dict(sorted(seconds.items(), key=lambda kv: -kv[1]))
        partial = DURATIONS.with_name(f".durations-{os.getpid()}.json")
        partial.write_text(json.dumps(ranked, indent=1) + "\n")
        os.replace(partial, DURATIONS)                   # whole or not at all: workers of another run may be reading


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
