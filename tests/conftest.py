import os

import pytest
import torch

# Keep the reference-LM cache inside the test session, never in the user's home.
os.environ.setdefault("PGLAB_CACHE", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "pglab"))
torch.set_num_threads(min(2, torch.get_num_threads()))

POLICY_KINDS = ["gru", "lstm", "transformer"]


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


def wait_until_listening(proc, port: int, name: str, log_path, timeout: float = 90) -> None:
    """Block until ``proc`` (a server started by a browser test) accepts connections on 127.0.0.1:``port``;
    fail the test with a pointer to its log if it exits or stays silent for ``timeout`` seconds."""
    import socket
    import time
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
