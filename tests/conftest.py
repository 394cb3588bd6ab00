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

