"""Shared pieces of the real-browser tests (Voilà and JupyterLab): Chromium, ports, servers."""
import os
import socket
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (servers in tests bind the loopback only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_or_skip() -> str:
    """Debian's Chromium, or skip the test — except in CI, where .ci/run installs it and its absence is a failure."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run installs Debian's chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium to run the browser test)")


def wait_until_listening(proc, port: int, name: str, log_path, timeout: float = 90) -> None:
    """Block until ``proc`` (a server started by a browser test) accepts connections on 127.0.0.1:``port``;
    fail the test with a pointer to its log if it exits or stays silent for ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode}; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    pytest.fail(f"{name} did not start listening within {timeout:.0f} s")
