"""One sweep at a time per output folder: an exclusive lock on ``OUT/.pglab-sweep.lock``.

Two sweeps started into the same ``--out`` would each see the same runs missing and both run every
one of them (twice the compute, each part written twice). So a sweep takes an exclusive, non-blocking
``flock`` on a file in ``OUT`` for as long as it runs; a second sweep into the same folder stops at once
with :class:`SweepLocked` (a ``ValueError``: the CLI prints one line and exits 2) naming the sweep
that holds it. The operating system releases the lock when its holder ends, however it ends (Ctrl-C,
a crash, ``kill -9``), so a stale lock file never blocks anyone; the file itself stays (it only holds
the holder's pid, host and start time, for the message).

The lock is re-entrant within one thread (the CLI takes it before it starts any worker, then
:func:`pglab.sweep.runner.run_sweep` takes it again). ``flock`` works on local disks; some network
filesystems (older NFS) do not honour it — give concurrent sweeps on shared storage different folders.
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:                                            # Windows: no flock; sweeps are not locked there
    fcntl = None

LOCK_NAME = ".pglab-sweep.lock"
_HELD: dict[tuple[Path, int], list] = {}                       # (lock path, thread id) -> [file, depth]


class SweepLocked(ValueError):
    """Another sweep is writing to this output folder."""


@contextlib.contextmanager
def lock_out(out: str | Path) -> Iterator[Path]:
    """Hold the exclusive lock of ``out`` (an existing folder) for the ``with`` block; yields the lock path.

    Raises :class:`SweepLocked` at once if another process (or another thread) holds it."""
    path = (Path(out).expanduser() / LOCK_NAME).resolve()
    key = (path, threading.get_ident())
    if key in _HELD or fcntl is None:
        if key in _HELD:
            _HELD[key][1] += 1
        try:
            yield path
        finally:
            if key in _HELD:
                _HELD[key][1] -= 1
        return
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:                                            # BlockingIOError: someone holds it
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SweepLocked(f"another sweep ({holder}) is writing to {Path(out)}: two sweeps into one --out would "
                          "both run every run; wait for it to finish (rerunning then resumes), or use another "
                          "--out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    _HELD[key] = [handle, 1]
    try:
        yield path
    finally:
        _HELD[key][1] -= 1
        if _HELD[key][1] == 0:
            del _HELD[key]
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
