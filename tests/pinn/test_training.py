import math

import pytest
import torch

from pinn.training import History, fit, load_checkpoint, save_checkpoint


def _problem(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    x = torch.linspace(-1, 1, 64, dtype=torch.float64).unsqueeze(1)

    def loss_fn():
        return {"data": ((net(x) - torch.sin(2 * x)) ** 2).mean(), "reg": (net[0].weight ** 2).mean()}

    return net, loss_fn


def test_fit_adam_then_lbfgs_history():
    net, loss_fn = _problem()
    h = fit(net, loss_fn, weights={"reg": 1e-6}, adam_steps=100, lbfgs_steps=50, lr=1e-2, progress=False)
    assert h.phase.count("adam") == 100 and h.phase[-2] == "lbfgs" and h.phase[-1] == "final"
    assert set(h.terms) == {"data", "reg"} and len(h.terms["data"]) == len(h.total) == len(h.time_s)
    assert h.weights == {"data": 1.0, "reg": 1e-6}
    assert h.total[-1] < 1e-4 < h.total[0]
    i = len(h) - 1
    assert math.isclose(h.total[i], h.terms["data"][i] + 1e-6 * h.terms["reg"][i], rel_tol=1e-9)
    assert h.stop_reason in ("steps", "lbfgs_converged")


def test_fit_seed_reproducible_and_tol():
    results = []
    for _ in range(2):
        net, loss_fn = _problem()
        results.append(fit(net, loss_fn, adam_steps=20, lr=1e-2, seed=3, progress=False).total)
    assert results[0] == results[1]
    net, loss_fn = _problem()
    h = fit(net, loss_fn, weights={"reg": 0.0}, adam_steps=2000, lr=1e-2, tol=1e-2, progress=False)
    assert h.stop_reason == "tol" and len(h) < 2000 and h.total[-1] <= 1e-2


def test_fit_step_argument_and_callback():
    net, loss_fn = _problem()
    seen = []
    h = fit(net, lambda step: (seen.append(step), loss_fn())[1], adam_steps=5, progress=False,
            callback=lambda step, hist: step >= 3)
    assert seen == [0, 1, 2] and h.stop_reason == "callback"


def test_checkpoint_round_trip(tmp_path):
    net, loss_fn = _problem()
    path = tmp_path / "ck" / "model.pt"
    h = fit(net, loss_fn, adam_steps=10, progress=False, checkpoint=path, checkpoint_every=5)
    assert path.is_file()
    raw = torch.load(path, weights_only=True)
    assert raw["extra"]["step"] == 10
    net2, _ = _problem(seed=1)
    payload = load_checkpoint(path, net2)
    for a, b in zip(net.state_dict().values(), net2.state_dict().values()):
        assert torch.equal(a, b)
    assert isinstance(payload["history"], History) and payload["history"].total == h.total
    save_checkpoint(tmp_path / "b.pt", net2, note="x")
    assert load_checkpoint(tmp_path / "b.pt")["extra"] == {"note": "x"}


def test_fit_bad_input():
    net, loss_fn = _problem()
    with pytest.raises(ValueError, match="weights: expected names among"):
        fit(net, loss_fn, weights={"nope": 1.0}, adam_steps=1, progress=False)
    with pytest.raises(ValueError, match="adam_steps: expected a non-negative int, got -1"):
        fit(net, loss_fn, adam_steps=-1, progress=False)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        fit(lambda x: x, loss_fn, progress=False)
    with pytest.raises(FloatingPointError, match="loss: expected finite values"):
        fit(net, lambda: {"bad": torch.tensor(float("nan"), requires_grad=True)}, adam_steps=1, progress=False)
    with pytest.raises(ValueError, match="path: expected an existing checkpoint"):
        load_checkpoint("/nonexistent/file.pt")
