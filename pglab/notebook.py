"""Small helpers for the chapter notebooks: settings, rendering package source, timing.

``PGLAB_FAST=1`` in the environment selects the smaller settings that CI may use;
readers get the full ones. Every chapter reads its sizes through :func:`pick`.
"""
from __future__ import annotations

import inspect
import os
import time
from contextlib import contextmanager

FAST: bool = os.environ.get("PGLAB_FAST", "") == "1"


def pick(full, fast):
    """``full`` for readers, ``fast`` when ``PGLAB_FAST=1``."""
    return fast if FAST else full


def show_source(obj):
    """Render the source of a pglab function or class as highlighted code (never pasted)."""
    from IPython.display import Code
    return Code(inspect.getsource(obj), language="python")


@contextmanager
def timer(label: str = "elapsed"):
    """``with timer("training"): ...`` prints the wall time of the block."""
    start = time.perf_counter()
    yield
    print(f"{label}: {time.perf_counter() - start:.1f} s")
