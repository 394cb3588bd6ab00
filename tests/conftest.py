"""Test-session settings shared by every test, and what makes `make test`'s parallel run safe.

`make test` runs the suite on pytest-xdist workers (``-n``, see the Makefile) with ``--dist loadfile``
(pyproject.toml): every file — a notebook's cells, a browser test's server — runs whole, in order, on one worker.
Here, for each worker: one torch intra-op thread, for this process and for every process it starts (nbval's kernels,
Voilà's kernels, the grader's), so that two workers do not fight over the two cores; and the longest files first.
"""
import os

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

# Seconds of the slowest files in one serial run on an idle 2-core machine (rounded; only the order matters). On
# xdist workers the files run longest first, so that no long file starts last and leaves one worker alone at the
# end; files not listed keep their place after these.
LONGEST_FIRST = {
    "tests/test_exercises.py": 142, "notebooks/09_real_language_model.ipynb": 93,
    "notebooks/06_text_rewards_and_applications.ipynb": 88, "tests/test_voila.py": 81,
    "notebooks/07_ppo_and_grpo.ipynb": 74, "tests/test_grade_sandbox.py": 69, "notebooks/05_actor_critic.ipynb": 68,
    "notebooks/08_sweeps.ipynb": 59, "tests/test_exercises_ch07_08.py": 42,
    "notebooks/04_baselines_and_variance.ipynb": 41, "notebooks/03_reinforce.ipynb": 39,
    "tests/test_packaging.py": 35, "tests/test_meter.py": 22, "tests/test_app.py": 20,
    "notebooks/02_policy_gradient_theorem.ipynb": 17, "tests/test_sweep_robust.py": 16, "tests/test_gradients.py": 16,
    "tests/test_sweep.py": 14, "tests/test_reliability.py": 13, "tests/test_jupyterlab_layout.py": 13,
}


def pytest_collection_modifyitems(config, items):
    """On xdist workers, order the files longest first (a stable sort: the items of one file keep their order)."""
    if WORKER:
        items.sort(key=lambda item: -LONGEST_FIRST.get(item.nodeid.split("::")[0], 0))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
