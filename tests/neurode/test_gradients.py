import pytest
import torch
from torch import nn

from neurode import solve_ode

F64 = torch.float64


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).double()


@pytest.mark.parametrize(
    "method, gradient",
    [("dopri5", "direct"), ("tsit5", "direct"), ("bosh3", "direct"), ("dopri5", "adjoint"), ("tsit5", "adjoint")],
)
def test_gradcheck(gradient, method):
    w = (0.5 * torch.randn(2, 2, dtype=F64, generator=torch.Generator().manual_seed(1))).requires_grad_()
    y0 = torch.tensor([[1.0, 0.5], [-0.3, 0.8], [0.2, -1.0]], dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 0.4, 1.0], dtype=F64)

    def fn(y0, w):
        f = lambda t, y: torch.tanh(y @ w) - 0.1 * y  # noqa: E731
        # direct: the exact derivative of the computation at any tolerance; adjoint: the
        # continuous gradient, which matches finite differences when the solve is tight
        tol = 1e-10 if gradient == "adjoint" else 1e-6
        sol = solve_ode(f, y0, t, method=method, rtol=tol, atol=tol * 1e-2, gradient=gradient,
                        adjoint_params=(w,))
        return sol.ys

    assert torch.autograd.gradcheck(fn, (y0, w), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_adjoint_matches_direct_on_module_per_sample_times():
    f = _mlp()
    y0 = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    t = torch.stack([torch.linspace(0, 1 + 0.2 * b, 4, dtype=F64) for b in range(5)])
    grads = {}
    for mode in ("direct", "adjoint"):
        f.zero_grad()
        y = y0.clone().requires_grad_()
        sol = solve_ode(lambda t, y: f(y), y, t, gradient=mode, rtol=1e-10, atol=1e-12,
                        adjoint_params=tuple(f.parameters()))
        (sol.ys**2).sum().backward()
        grads[mode] = [y.grad.clone()] + [p.grad.clone() for p in f.parameters()]
    for a, b in zip(grads["direct"], grads["adjoint"]):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)


def test_adjoint_finds_module_parameters():
    f = _mlp()

    class Field(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = f

        def forward(self, t, y):
            return self.net(y)

    field = Field()
    y0 = torch.randn(3, 2, dtype=F64)
    sol = solve_ode(field, y0, [0.0, 1.0], gradient="adjoint")
    sol.ys[:, -1].sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in field.parameters())


@pytest.mark.parametrize("method", ["dopri5", "tsit5"])
def test_error_estimate_gradient_matches_finite_differences(method):
    theta = torch.tensor([0.7, -1.3], dtype=F64, requires_grad=True)
    y0 = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=F64)

    def field(th):
        return lambda t, y: torch.stack([th[0] * y[:, 1], th[1] * y[:, 0] - 0.2 * y[:, 1] ** 3], 1)

    def estimates(th):
        sol = solve_ode(field(th), y0, [0.0, 3.0], method=method, rtol=1e-4, atol=1e-6)
        return sol.error_estimate.sum(), sol.stiffness_estimate.sum()

    RE, RS = estimates(theta)
    gE, = torch.autograd.grad(RE, theta, retain_graph=True)
    gS, = torch.autograd.grad(RS, theta)
    h = 1e-5  # the stiffness estimate has cancellation: smaller h is dominated by round-off
    for i in range(2):
        e = torch.zeros(2, dtype=F64)
        e[i] = h
        with torch.no_grad():
            p, q = estimates(theta + e), estimates(theta - e)
        torch.testing.assert_close(gE[i], (p[0] - q[0]) / (2 * h), rtol=1e-3, atol=1e-6)
        torch.testing.assert_close(gS[i], (p[1] - q[1]) / (2 * h), rtol=1e-3, atol=1e-6)


def test_adjoint_estimates_are_returned_detached():
    f = _mlp()
    sol = solve_ode(lambda t, y: f(y), torch.randn(2, 2, dtype=F64), [0.0, 1.0], gradient="adjoint",
                    adjoint_params=tuple(f.parameters()))
    assert sol.error_estimate is not None and not sol.error_estimate.requires_grad


def test_step_gradient_false_holds_step_sizes_constant():
    """step_gradient=False: the recorded step sizes carry no gradient, the solution's gradient still
    matches the closed form (y' = a y, d y(1) / d a = y0 e^a) to solver accuracy, and the error
    estimate's gradient is the sum over steps of dE_j/da |dt_j| with dt_j fixed."""
    y0 = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    for step_gradient in (True, False):
        a = torch.tensor(-0.7, dtype=torch.float64, requires_grad=True)
        sol = solve_ode(lambda tt, y, a=a: a * y, y0, t, rtol=1e-10, atol=1e-12, record_steps=True,
                        step_gradient=step_gradient)
        assert sol.steps.dt.requires_grad == step_gradient
        (g,) = torch.autograd.grad(sol.ys[:, -1].sum(), a)
        torch.testing.assert_close(g, (y0.sum() * torch.exp(a)).detach(), rtol=1e-7, atol=0.0)
    # with the step sizes frozen at the solve's, R_E's gradient is that of a fixed-grid computation:
    # compare with central differences of the same solve run on the recorded grid (dt0 + no control)
    a = torch.tensor(-0.7, dtype=torch.float64, requires_grad=True)
    sol = solve_ode(lambda tt, y: a * y, y0[:1], t, rtol=1e-4, atol=1e-6, record_steps=True, step_gradient=False)
    (g,) = torch.autograd.grad(sol.error_estimate.sum(), a)
    dts = sol.steps.dt[0][sol.steps.mask[0]].detach()

    def fixed_grid_RE(av: float) -> float:
        total, y, tt = 0.0, y0[:1], torch.zeros(1, dtype=torch.float64)
        for h in dts:
            s = solve_ode(lambda _t, yy: av * yy, y, torch.stack([tt, tt + h], dim=1), rtol=1e-4, atol=1e-6,
                          dt0=h.view(1), max_steps=1, raise_on_failure=False)
            total += float(s.error_estimate[0])
            y, tt = s.ys[:, -1], tt + h
        return total

    eps = 1e-6
    fd = (fixed_grid_RE(-0.7 + eps) - fixed_grid_RE(-0.7 - eps)) / (2 * eps)
    torch.testing.assert_close(g.item(), fd, rtol=1e-5, atol=1e-12)


def test_step_gradient_bad_input():
    with pytest.raises(TypeError, match="step_gradient: expected a bool"):
        solve_ode(lambda t, y: -y, torch.ones(2, 1), torch.tensor([0.0, 1.0]), step_gradient="no")
