import pytest
import torch


def _devices():
    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    return devs


DEVICES = _devices()


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


def pytest_collection_modifyitems(config, items):
    # Tests that run on CUDA are marked gpu automatically so `make test` (-m "not gpu") skips them.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "cuda" in str(callspec.params.get("device", "")):
            item.add_marker(pytest.mark.gpu)
