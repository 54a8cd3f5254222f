import math

import pytest
import torch

from neurode.autodiff import (
    derivative,
    divergence,
    gradient,
    hessian,
    hutchinson_divergence,
    hutchinson_laplacian,
    jacobian,
    laplacian,
    partial,
    rademacher,
)

DT = torch.float64


def f_scalar(x):  # (B, 2) -> (B,): sin(x) * t^2 + x^3 t
    return torch.sin(x[:, 0]) * x[:, 1] ** 2 + x[:, 0] ** 3 * x[:, 1]


def _x(device, n=7):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 2, generator=g, dtype=DT).to(device)


def test_partial_first_second_mixed(device):
    x = _x(device).requires_grad_(True)
    u = f_scalar(x)
    X, T = x[:, 0].detach(), x[:, 1].detach()
    torch.testing.assert_close(partial(u, x, 0), torch.cos(X) * T**2 + 3 * X**2 * T)
    torch.testing.assert_close(partial(u, x, 1), 2 * torch.sin(X) * T + X**3)
    torch.testing.assert_close(partial(u, x, 0, 0), -torch.sin(X) * T**2 + 6 * X * T)
    torch.testing.assert_close(partial(u, x, 0, 1), 2 * torch.cos(X) * T + 3 * X**2)
    torch.testing.assert_close(partial(u, x, 1, 0), 2 * torch.cos(X) * T + 3 * X**2)
    torch.testing.assert_close(partial(u, x, 0, 0, 0), -torch.cos(X) * T**2 + 6 * T)
    assert partial(u, x, 0, 0).shape == (7,)
    # result is differentiable (usable inside a loss)
    assert partial(u, x, 0, 0).requires_grad


def test_gradient_shapes_and_unused(device):
    x = _x(device).requires_grad_(True)
    g = gradient(f_scalar(x).unsqueeze(1), x)
    assert g.shape == (7, 2)
    z = gradient(torch.zeros(7, dtype=DT, device=device, requires_grad=True), x)
    assert torch.all(z == 0)


def test_functional_derivatives(device):
    x = _x(device)
    X, T = x[:, 0], x[:, 1]
    torch.testing.assert_close(derivative(f_scalar, x, (0, 1)), 2 * torch.cos(X) * T + 3 * X**2)
    torch.testing.assert_close(derivative(f_scalar, x, (1, 1)), 2 * torch.sin(X))
    H = hessian(f_scalar, x)
    assert H.shape == (7, 2, 2)
    torch.testing.assert_close(H[:, 0, 1], H[:, 1, 0])
    torch.testing.assert_close(H[:, 0, 0], -torch.sin(X) * T**2 + 6 * X * T)
    J = jacobian(lambda z: torch.stack([z[:, 0] * z[:, 1], z[:, 0] ** 2], 1), x)
    assert J.shape == (7, 2, 2)
    torch.testing.assert_close(J[:, 0, 0], T)
    torch.testing.assert_close(J[:, 1, 0], 2 * X)
    torch.testing.assert_close(J[:, 1, 1], torch.zeros_like(X))


def test_network_derivatives_match_autograd(device):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).to(device, DT)
    x = _x(device, 11).requires_grad_(True)
    u = net(x)
    a = partial(u, x, 0, 1)
    b = derivative(net, x.detach(), (0, 1))
    torch.testing.assert_close(a, b)
    lap = laplacian(net, x.detach())
    torch.testing.assert_close(lap.squeeze(-1), partial(u, x, 0, 0) + partial(u, x, 1, 1))


def test_divergence_and_laplacian(device):
    x = _x(device, 5)
    A = torch.tensor([[1.0, 2.0], [3.0, -4.0]], dtype=DT, device=device)
    torch.testing.assert_close(divergence(lambda z: z @ A.T, x), torch.full((5,), -3.0, dtype=DT, device=device))
    # nonlinear: f = (x0^2 t, sin t) -> div = 2 x0 t + cos t
    div = divergence(lambda z: torch.stack([z[:, 0] ** 2 * z[:, 1], torch.sin(z[:, 1])], 1), x)
    torch.testing.assert_close(div, 2 * x[:, 0] * x[:, 1] + torch.cos(x[:, 1]))
    lap = laplacian(f_scalar, x)
    X, T = x[:, 0], x[:, 1]
    torch.testing.assert_close(lap, -torch.sin(X) * T**2 + 6 * X * T + 2 * torch.sin(X))
    # image-shaped state (B, 2, 3)
    y = torch.randn(4, 2, 3, dtype=DT, device=device)
    torch.testing.assert_close(divergence(lambda z: 2 * z, y), torch.full((4,), 12.0, dtype=DT, device=device))


def test_hutchinson_unbiased_and_reproducible(device):
    x = _x(device, 3)
    A = torch.randn(2, 2, dtype=DT, generator=torch.Generator().manual_seed(1)).to(device)
    f = lambda z: torch.tanh(z) @ A.T  # noqa: E731
    exact = divergence(f, x)
    g = torch.Generator(device=device).manual_seed(0)
    est = hutchinson_divergence(f, x, n_probes=4000, generator=g)
    torch.testing.assert_close(est, exact, atol=0.1, rtol=0)
    g1 = torch.Generator(device=device).manual_seed(5)
    g2 = torch.Generator(device=device).manual_seed(5)
    assert torch.equal(
        hutchinson_divergence(f, x, generator=g1), hutchinson_divergence(f, x, generator=g2)
    )
    # diagonal Jacobian: exact with one probe
    g = torch.Generator(device=device).manual_seed(0)
    torch.testing.assert_close(
        hutchinson_laplacian(lambda z: (z**2).sum(1), x, generator=g), torch.full((3,), 4.0, dtype=DT, device=device)
    )
    v = rademacher((1000,), generator=torch.Generator(device=device).manual_seed(0), device=device)
    assert set(v.unique().tolist()) == {-1.0, 1.0} and abs(v.mean().item()) < 0.1


def test_bad_input():
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        derivative(f_scalar, [[1.0, 2.0]], (0,))
    with pytest.raises(ValueError, match=r"x: expected .*got shape \(3,\)"):
        jacobian(f_scalar, torch.ones(3))
    with pytest.raises(ValueError, match="dims: expected"):
        derivative(f_scalar, torch.ones(3, 2), (2,))
    x = torch.ones(3, 2, requires_grad=True)
    with pytest.raises(ValueError, match="dims: expected"):
        partial(f_scalar(x), x, 5)
    with pytest.raises(ValueError, match="x: expected a tensor with requires_grad=True"):
        gradient(f_scalar(x), torch.ones(3, 2))
    with pytest.raises(ValueError, match=r"y: expected shape \(3,\)"):
        gradient(torch.ones(3, 2), x)
    with pytest.raises(ValueError, match="n_probes"):
        hutchinson_divergence(lambda z: z, torch.ones(3, 2), n_probes=0)
    assert math.isfinite(1.0)
