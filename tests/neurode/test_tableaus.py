import dataclasses
import math

import numpy as np
import pytest
import torch

from neurode import TABLEAUS, solve_ode


def order_conditions(a, b, c, p):
    """Residuals of the rooted-tree order conditions up to order p (p <= 5)."""
    ac = a @ c
    ac2 = a @ c**2
    aac = a @ ac
    conds = [(b.sum(), 1.0)]
    if p >= 2:
        conds += [(b @ c, 1 / 2)]
    if p >= 3:
        conds += [(b @ c**2, 1 / 3), (b @ ac, 1 / 6)]
    if p >= 4:
        conds += [(b @ c**3, 1 / 4), (b @ (c * ac), 1 / 8), (b @ ac2, 1 / 12), (b @ aac, 1 / 24)]
    if p >= 5:
        conds += [
            (b @ c**4, 1 / 5), (b @ (c**2 * ac), 1 / 10), (b @ ac**2, 1 / 20), (b @ (c * ac2), 1 / 15),
            (b @ (c * aac), 1 / 30), (b @ (a @ c**3), 1 / 20), (b @ (a @ (c * ac)), 1 / 40),
            (b @ (a @ ac2), 1 / 60), (b @ (a @ aac), 1 / 120),
        ]
    return np.array([x - y for x, y in conds])


@pytest.mark.parametrize("name", list(TABLEAUS))
def test_order_conditions(name):
    tab = TABLEAUS[name]
    np.testing.assert_allclose(tab.a.sum(1), tab.c, atol=1e-14)
    assert np.allclose(np.triu(tab.a), 0)
    assert np.abs(order_conditions(tab.a, tab.b, tab.c, tab.order)).max() < 1e-13
    if tab.order < 5:  # the order is not higher than claimed
        assert np.abs(order_conditions(tab.a, tab.b, tab.c, tab.order + 1)).max() > 1e-6
    if tab.adaptive:
        bhat = tab.b - tab.b_err
        assert np.abs(order_conditions(tab.a, bhat, tab.c, tab.error_order)).max() < 1e-13
    if tab.fsal:
        np.testing.assert_allclose(tab.a[-1], tab.b, atol=1e-15)
        assert tab.c[-1] == 1.0
    if tab.dense is not None:  # the interpolant ends at y1 and starts with slope k1
        np.testing.assert_allclose(tab.dense.sum(1), tab.b, atol=1e-13)
        np.testing.assert_allclose(tab.dense[:, 0], np.eye(tab.stages)[0], atol=1e-13)
    if tab.stiffness_pair is not None:
        i, j = tab.stiffness_pair
        assert tab.c[i] == tab.c[j]


@pytest.mark.parametrize("name", list(TABLEAUS))
def test_fixed_step_convergence_order(name):
    """Every method run with fixed steps on y' = -y + cos t shows its nominal order within 0.3."""
    tab = dataclasses.replace(TABLEAUS[name], b_err=None, error_order=None)

    def f(t, y):
        return -y + torch.cos(t)[:, None]

    def exact(t):  # y(0) = 1
        return 0.5 * (math.cos(t) + math.sin(t)) + 0.5 * math.exp(-t)

    y0 = torch.ones(1, 1, dtype=torch.float64)
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    base = {1: 0.05, 2: 0.1, 3: 0.2, 4: 0.25, 5: 0.4}[tab.order]
    errs = []
    hs = [base, base / 2, base / 4]
    for h in hs:
        sol = solve_ode(f, y0, t, method=tab, dt=h)
        errs.append(abs(sol.ys[0, -1, 0].item() - exact(2.0)))
    rates = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    assert abs(rates[-1] - tab.order) < 0.3, (name, errs, rates)


@pytest.mark.parametrize("name", ["dopri5", "tsit5"])
def test_dense_output_order(name):
    """Dense output error shrinks like a 4th-order interpolant (error ~ h^5 locally)."""
    tab = dataclasses.replace(TABLEAUS[name], b_err=None, error_order=None)
    f = lambda t, y: torch.cos(t)[:, None] * y  # noqa: E731  y = exp(sin t)
    y0 = torch.ones(1, 1, dtype=torch.float64)
    t_eval = torch.linspace(0, 3, 61, dtype=torch.float64)
    errs = []
    for h in (0.3, 0.15):
        sol = solve_ode(f, y0, t_eval, method=tab, dt=h)
        errs.append((sol.ys[0, :, 0] - torch.exp(torch.sin(t_eval))).abs().max().item())
    assert math.log2(errs[0] / errs[1]) > 3.7
