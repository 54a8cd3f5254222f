import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small PINN problems run fastest (and fairest on shared machines) on one thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
