import math

import pytest
import torch

from pinn.lagrangian import PINN, LagrangianPINN, periodic_interp
from pinn.problems import Transport1D, relative_l2
from pinn.sampling import Interval, SpaceTime, grid, grid_axes
from pinn.training import fit

DT = torch.float64


class _KnownMapping(LagrangianPINN):
    """x_L = x0 + 0.3 t sin(x0) (monotone), u = sin(x_L) + t: u_x = cos x_L, u_xx = -sin x_L."""

    def forward(self, x0t):
        x0, t = x0t[:, 0], x0t[:, 1]
        xl = x0 + 0.3 * t * torch.sin(x0)
        return torch.sin(xl) + t, xl


def test_chain_rule_uxx_on_known_mapping():
    p = Transport1D.burgers(nu=0.05)
    m = _KnownMapping(p, width=4, depth=1)
    pts = grid(p.domain, (17, 5), dtype=DT)
    d = m.eulerian_derivatives(pts)
    xl = pts[:, 0] + 0.3 * pts[:, 1] * torch.sin(pts[:, 0])
    torch.testing.assert_close(d["J"], 1 + 0.3 * pts[:, 1] * torch.cos(pts[:, 0]))
    torch.testing.assert_close(d["u_x"], torch.cos(xl))
    torch.testing.assert_close(d["u_xx"], -torch.sin(xl))
    r_x, r_u = m.residuals(pts)
    u_t = torch.cos(xl) * 0.3 * torch.sin(pts[:, 0]) + 1
    torch.testing.assert_close(r_u, u_t + 0.05 * torch.sin(xl))
    torch.testing.assert_close(r_x, 0.3 * torch.sin(pts[:, 0]) - (torch.sin(xl) + pts[:, 1]))


def test_periodic_interp():
    g = torch.Generator().manual_seed(0)
    xp = torch.rand(3, 400, generator=g, dtype=DT) * 2 * math.pi + 5.0  # unsorted, wound past 2 pi
    xq = torch.linspace(0, 2 * math.pi, 50, dtype=DT)
    f = periodic_interp(xq, xp, torch.sin(xp), 2 * math.pi)
    assert f.shape == (3, 50)
    torch.testing.assert_close(f, torch.sin(xq).expand(3, 50), atol=5e-3, rtol=0)


def test_quick_convection_lpinn_reaches_target():
    torch.manual_seed(0)
    p = Transport1D.convection(beta=30.0)
    m = LagrangianPINN(p, width=32, depth=3, ic="hard")
    pts = grid(p.domain, (48, 32))
    h = fit(m, lambda: m.loss_terms(pts), weights=m.default_weights, adam_steps=300, lbfgs_steps=200,
            lr=2e-3, seed=0, progress=False)
    x, t = grid_axes(p.domain, (256, 100))
    err = relative_l2(m.predict(x, t), p.reference(x.double().numpy(), t.double().numpy()))
    assert err <= 1e-2, (err, h.last())


def test_quick_reaction_lpinn():
    from pinn.recipes import run_case

    res = run_case("reaction", "lpinn", {"c": 1.0, "nu": 0.01}, quick=True, progress=False)
    assert res.record["rel_l2"] <= 1e-2 and res.u_pred.shape == (100, 256)


def test_soft_lpinn_and_shared_trunk_terms():
    p = Transport1D.convection_diffusion(30.0, 0.01)
    m = LagrangianPINN(p, width=8, depth=2, shared_trunk=True)
    terms = m.loss_terms(grid(p.domain, (8, 4)))
    assert set(terms) == {"r_x", "r_u", "ic_x", "ic_u"} == set(m.default_weights)
    assert m.default_weights["ic_u"] == 1000.0 and m.default_weights["r_x"] == 10.0
    u, xl = m.characteristics(torch.linspace(0, 6, 5), torch.linspace(0, 1, 3))
    assert u.shape == xl.shape == (3, 5)


def test_vanilla_pinn_hard_constraints():
    p = Transport1D.burgers_standard()
    m = PINN(p, width=8, depth=2, ic="hard", bc="hard").double()
    x = torch.linspace(-1, 1, 11, dtype=DT)
    u = m.predict(x, torch.tensor([0.0, 0.5, 1.0], dtype=DT))
    torch.testing.assert_close(u[0], -torch.sin(math.pi * x))
    torch.testing.assert_close(u[:, [0, -1]], torch.zeros(3, 2, dtype=DT), atol=1e-12, rtol=0)
    assert set(m.loss_terms(grid(p.domain, (5, 5), dtype=DT))) == {"residual"}
    q = Transport1D.convection(5.0)
    soft = PINN(q, width=8, depth=2)
    terms = soft.loss_terms(grid(q.domain, (5, 5)), torch.rand(7), torch.rand(6))
    assert set(terms) == {"residual", "ic", "bc"} == set(soft.default_weights)
    hard = PINN(q, width=8, depth=2, bc="hard")
    xs = torch.tensor([[0.0, 0.3], [2 * math.pi, 0.3]])
    torch.testing.assert_close(hard(xs)[0], hard(xs)[1])


def test_bad_input():
    p = Transport1D.convection(10.0)
    m = LagrangianPINN(p, width=4, depth=1)
    with pytest.raises(ValueError, match=r"x0t: expected shape \(N, 2\), got \(5, 3\)"):
        m.loss_terms(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="x0t: expected finite values, got NaN"):
        m.loss_terms(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(TypeError, match="x0t: expected a torch.Tensor"):
        m.residuals([[0.0, 1.0]])
    with pytest.raises(ValueError, match="problem: expected a periodic problem"):
        LagrangianPINN(Transport1D.burgers_standard())
    with pytest.raises(ValueError, match="bc: expected a periodic spatial interval"):
        Transport1D(SpaceTime(Interval(0.0, 1.0), (0.0, 1.0)), torch.sin, lambda u: u)
    with pytest.raises(ValueError, match="u0: expected finite initial values"):
        bad = Transport1D(p.domain, lambda x: x * float("nan"), lambda u: u)
        LagrangianPINN(bad, width=4, depth=1, x_scale=1.0).loss_terms(grid(p.domain, (4, 2)))
    with pytest.raises(ValueError, match="ic: expected 'soft' or 'hard'"):
        PINN(p, ic="exact")
    with pytest.raises(ValueError, match="x_ic: expected initial positions"):
        PINN(p, width=4, depth=1).loss_terms(grid(p.domain, (4, 2)))
