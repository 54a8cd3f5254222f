import torch

from neurode import solve_ode
from tests.neurode.problems import vdp


def test_solve_on_device_matches_cpu(device):
    """The same call runs on every available device; results agree with the CPU run."""
    mu = torch.tensor([0.5, 2.0, 4.0], dtype=torch.float64)
    y0 = torch.tensor([[2.0, 0.0]] * 3, dtype=torch.float64)
    t = torch.linspace(0, 3, 3, dtype=torch.float64)
    ref = solve_ode(vdp, y0, t, args=(mu,))
    for gradient in ("direct", "adjoint"):
        w = torch.ones(3, dtype=torch.float64, device=device, requires_grad=True)
        sol = solve_ode(vdp, y0.to(device) * w[:, None], t.to(device), args=(mu.to(device),), gradient=gradient)
        assert sol.ys.device.type == device.type and sol.status.device.type == device.type
        torch.testing.assert_close(sol.ys.cpu(), ref.ys, rtol=1e-9, atol=1e-9)
        sol.ys[:, -1].sum().backward()
        assert torch.isfinite(w.grad).all()
