"""NeuralODE layer: outputs against solve_ode and closed forms, nn.Sequential, dtypes, devices,
state_dict round-trip, training/eval behaviour of the regularizers, schedules, bad input."""

import math

import pytest
import torch
from torch import nn

from neurode import solve_ode
from neurode.layers import NeuralODE
from neurode.regularizers import (
    RNODE,
    STEER,
    ExponentialAnnealing,
    GlobalError,
    GlobalStiffness,
    LocalError,
)

F64 = torch.float64


class Field(nn.Module):
    def __init__(self, d=3, h=16, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.lin1 = nn.Linear(d + 1, h)
        self.lin2 = nn.Linear(h, d)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.5 * torch.randn(p.shape, generator=g))

    def forward(self, t, y):
        return self.lin2(torch.tanh(self.lin1(torch.cat([y, t[:, None]], dim=1))))


class Decay(nn.Module):
    def __init__(self, a=-0.7):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=F64))

    def forward(self, t, y):
        return self.a * y


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_final_state_matches_closed_form(dtype, device):
    node = NeuralODE(Decay(), t_span=(0.0, 2.0), rtol=1e-7, atol=1e-9).to(device=device, dtype=dtype)
    y0 = torch.randn(5, 3, dtype=dtype, device=device)
    y1 = node(y0)
    assert y1.shape == (5, 3) and y1.dtype == dtype and y1.device.type == device.type
    tol = 1e-5 if dtype == torch.float32 else 1e-7
    torch.testing.assert_close(y1, y0 * math.exp(-1.4), rtol=tol, atol=tol)
    assert node.solution.ys.shape == (5, 1, 3) and node.solution.ts.shape == (5, 1)
    assert bool(node.solution.success.all())
    assert node.regularization.item() == 0.0


def test_t_eval_and_backward_span():
    t_eval = torch.tensor([0.25, 0.5, 1.0])
    node = NeuralODE(Decay(), t_eval=t_eval, rtol=1e-8, atol=1e-10).double()
    y0 = torch.randn(4, 2, dtype=F64)
    ys = node(y0)
    assert ys.shape == (4, 3, 2)
    torch.testing.assert_close(ys, y0[:, None] * torch.exp(-0.7 * t_eval.double())[None, :, None], rtol=1e-7, atol=1e-9)
    back = NeuralODE(Decay(), t_span=(1.0, 0.0), rtol=1e-8, atol=1e-10).double()
    torch.testing.assert_close(back(y0), y0 * math.exp(0.7), rtol=1e-7, atol=1e-9)


def test_matches_solve_ode_and_adjoint_gradients():
    f = Field().double()
    y0 = torch.randn(6, 3, dtype=F64)
    ref = solve_ode(f, y0, [0.0, 1.0], rtol=1e-9, atol=1e-11).ys[:, -1]
    grads = {}
    for mode in ("direct", "adjoint"):
        node = NeuralODE(f, rtol=1e-9, atol=1e-11, gradient=mode)
        f.zero_grad()
        y = y0.clone().requires_grad_()
        out = node(y)
        torch.testing.assert_close(out, ref)
        out.pow(2).sum().backward()
        grads[mode] = [y.grad] + [p.grad.clone() for p in f.parameters()]
    for a, b in zip(grads["direct"], grads["adjoint"]):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_in_sequential_trains(dtype):
    torch.manual_seed(0)
    node = NeuralODE(Field(d=4), regularizers=(GlobalError(0.1),), rtol=1e-5, atol=1e-7)
    model = nn.Sequential(nn.Linear(8, 4), node, nn.Linear(4, 2)).to(dtype)
    x = torch.randn(16, 8, dtype=dtype)
    target = torch.randn(16, 2, dtype=dtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for it in range(5):
        node.step = it
        opt.zero_grad()
        loss = (model(x) - target).pow(2).mean()
        losses.append(loss.item())
        (loss + node.regularization).backward()
        opt.step()
    assert losses[-1] < losses[0]
    assert node.regularization.dtype == dtype and node.regularization.requires_grad
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_state_dict_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(5, 3), NeuralODE(Field(seed=1)), nn.Linear(3, 2))
    path = tmp_path / "m.pt"
    torch.save(model.state_dict(), path)
    other = nn.Sequential(nn.Linear(5, 3), NeuralODE(Field(seed=2)), nn.Linear(3, 2))
    x = torch.randn(7, 5)
    assert not torch.allclose(model(x), other(x))
    other.load_state_dict(torch.load(path))
    torch.testing.assert_close(model(x), other(x))
    assert set(model.state_dict()) == set(other.state_dict())


def test_eval_mode_has_no_regularization_or_extra_cost():
    regs = (GlobalError(1.0, "mean"), LocalError(1.0), LocalError(1.0, "biased"), STEER(0.3), RNODE())
    node = NeuralODE(Field(), regularizers=regs, generator=torch.Generator().manual_seed(0))
    plain = NeuralODE(node.vector_field)
    y0 = torch.randn(8, 3)
    node.eval()
    y = node(y0)
    torch.testing.assert_close(y, plain(y0))
    assert node.regularization.item() == 0.0 and node.regularization_terms == {}
    assert torch.equal(node.solution.stats["nfe"], plain.solution.stats["nfe"])
    node.train()
    node(y0)
    assert set(node.regularization_terms) == {"error_global", "rnode", "error_local_unbiased", "error_local_biased"}
    assert node.regularization.item() > 0
    assert node.solution.ys.shape == (8, 1, 3)


def test_steer_end_times():
    node = NeuralODE(Field(), regularizers=(STEER(0.5),), generator=torch.Generator().manual_seed(0))
    node(torch.randn(64, 3))
    t_end = node.solution.ts[:, -1]
    assert bool(((t_end > 0.5) & (t_end < 1.5)).all()) and float(t_end.std()) > 0.1
    node.eval()
    node(torch.randn(64, 3))
    assert bool((node.solution.ts[:, -1] == 1.0).all())


def test_local_unbiased_keeps_outputs_and_t_eval():
    """The extra output column at t_r is removed from the returned states."""
    f = Field().double()
    t_eval = torch.tensor([0.0, 0.3, 0.6, 1.0])
    node = NeuralODE(f, t_eval=t_eval, rtol=1e-9, atol=1e-11, regularizers=(LocalError(1.0), LocalError(0.5)))
    y0 = torch.randn(5, 3, dtype=F64)
    ys = node(y0, generator=torch.Generator().manual_seed(3))
    ref = solve_ode(f, y0, t_eval.double(), rtol=1e-9, atol=1e-11).ys
    torch.testing.assert_close(ys, ref, rtol=1e-7, atol=1e-9)
    assert set(node.regularization_terms) == {"error_local_unbiased", "error_local_unbiased_2"}
    assert node.solution.extras["regularization_nfe"] == 2 * 9


def test_schedule_and_weights_in_total():
    node = NeuralODE(Field(), regularizers=(GlobalError(ExponentialAnnealing(100.0, 10.0, 10)), GlobalStiffness(0.0285)))
    y0 = torch.randn(4, 3)
    for step, w in ((0, 100.0), (5, math.sqrt(1000.0)), (20, 10.0)):
        node(y0, step=step)
        terms = node.regularization_terms
        expect = w * terms["error_global"] + 0.0285 * terms["stiffness_global"]
        torch.testing.assert_close(node.regularization.detach(), expect, rtol=1e-5, atol=0)


def test_rnode_in_layer_matches_closed_form():
    a, T = -0.7, 1.5
    node = NeuralODE(Decay(a), t_span=(0.0, T), rtol=1e-9, atol=1e-11, regularizers=(RNODE(1.0, 1.0),)).double()
    y0 = torch.tensor([[1.0], [2.0]], dtype=F64)
    y = node(y0)
    torch.testing.assert_close(y, y0 * math.exp(a * T), rtol=1e-8, atol=0)
    kin = a * y0[:, 0] ** 2 * (math.exp(2 * a * T) - 1) / 2
    torch.testing.assert_close(node.regularization_terms["rnode"], (kin + a * a * T).mean(), rtol=1e-7, atol=0)


def test_float32_t_eval_snaps_to_t_span():
    """A float32 t_eval built from the same floats as t_span (its end a few ulps past t1) is accepted,
    and the solve ends exactly at t1."""
    t_eval = torch.linspace(0.0, 0.1, 5)  # float32: t_eval[-1] = 0.10000000149 > 0.1
    assert float(t_eval[-1]) > 0.1
    node = NeuralODE(Decay(), t_span=(0.0, 0.1), t_eval=t_eval, rtol=1e-8, atol=1e-10).double()
    y0 = torch.ones(2, 1, dtype=F64)
    ys = node(y0)
    assert float(node.solution.ts[0, -1]) == 0.1
    torch.testing.assert_close(ys[:, -1], y0 * math.exp(-0.07), rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="t_eval: expected times inside t_span"):
        NeuralODE(Decay(), t_span=(0.0, 0.1), t_eval=[0.0, 0.1001])


def test_step_gradient_false_same_forward_and_parameter_gradient():
    """The layer passes step_gradient to the solver: same forward values; the parameter gradient of
    y(1) for y' = a y matches the closed form y0 e^a (to solver accuracy) either way."""
    y0 = torch.randn(3, 2, dtype=F64)
    outs = []
    for sg in (True, False):
        node = NeuralODE(Decay(), rtol=1e-10, atol=1e-12, step_gradient=sg).double()
        y1 = node(y0)
        (g,) = torch.autograd.grad(y1.sum(), node.vector_field.a)
        torch.testing.assert_close(g, y0.sum() * torch.exp(node.vector_field.a.detach()), rtol=1e-7, atol=1e-9)
        outs.append(y1.detach())
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def test_bad_input():
    with pytest.raises(TypeError, match="vector_field"):
        NeuralODE(lambda t, y: -y)
    with pytest.raises(ValueError, match="t_span"):
        NeuralODE(Decay(), t_span=(0.0,))
    with pytest.raises(ValueError, match="t_span: expected t0 != t1"):
        NeuralODE(Decay(), t_span=(2.0, 2.0))
    with pytest.raises(ValueError, match="t_eval: expected times inside t_span"):
        NeuralODE(Decay(), t_eval=[0.0, 2.0])
    with pytest.raises(ValueError, match="t_eval: expected strictly monotone"):
        NeuralODE(Decay(), t_eval=[0.0, 0.5, 0.4])
    with pytest.raises(ValueError, match="gradient"):
        NeuralODE(Decay(), gradient="backprop")
    with pytest.raises(ValueError, match="dt"):
        NeuralODE(Decay(), method="rk4")
    with pytest.raises(TypeError, match="y0"):
        NeuralODE(Decay())([[1.0]])
    with pytest.raises(TypeError, match="step_gradient: expected a bool"):
        NeuralODE(Decay(), step_gradient=0)
