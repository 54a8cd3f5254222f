"""Tests of pinn.discovery (UPINN hidden-term models) and the discovery data generators."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
import torch

from pinn.discovery import HiddenODE, HiddenPDE
from pinn.pdes.discovery_data import burgers, fisher_kpp, lotka_volterra
from pinn.symbolic import SymbolicModule
from pinn.training import fit

ROOT = Path(__file__).resolve().parents[2]
DT = torch.float64


def test_lv_data_matches_setting():
    d = lotka_volterra(0.0)
    assert d.t_obs.shape == (30,) and d.u_obs.shape == (30, 2)
    np.testing.assert_allclose(d.u_obs[0], [0.4425, 4.628])
    noisy = lotka_volterra(0.05, seed=1)
    rel = np.abs(noisy.u_obs - noisy.u_clean).mean(0) / np.abs(noisy.u_clean).mean(0)
    assert np.all(rel > 0.01) and np.all(rel < 0.1)


@pytest.mark.parametrize("make", [burgers, fisher_kpp])
def test_pde_data_solves_equation(make):
    d = make(0.0, n_obs=200, nx=128, nt=201)
    assert d.tx_obs.shape == (200, 2) and d.u_obs.shape == (200,)
    U, t, x = d.u_grid, d.t_grid, d.x_grid
    k = 2 * np.pi * np.fft.fftfreq(len(x), d=x[1] - x[0])
    ux = np.real(np.fft.ifft(1j * k * np.fft.fft(U, axis=1), axis=1))
    uxx = np.real(np.fft.ifft(-(k**2) * np.fft.fft(U, axis=1), axis=1))
    ut = np.gradient(U, t, axis=0, edge_order=2)
    p = d.params
    if make is burgers:
        res = ut - p["nu"] * uxx + U * ux
    else:
        res = ut - p["D"] * uxx - p["r"] * U * (1 - U)
    assert np.abs(res[2:-2]).max() < 1e-2 * np.abs(ut).max()


def test_hidden_ode_residual_matches_finite_differences():
    known = lambda t, u: torch.stack([-u[:, 0], torch.zeros_like(u[:, 0])], 1)  # noqa: E731
    model = HiddenODE(2, known, hidden_inputs=["a"], hidden_outputs=[1], state_names=["a", "b"],
                      t_range=(0, 1), u_center=[0.5, 0.5], u_scale=[2.0, 3.0])
    model.replace_hidden(SymbolicModule([0.7 * sympy.Symbol("a")], ["a"]))
    t = torch.linspace(0.05, 0.95, 40, dtype=DT)
    with torch.no_grad():
        u = model(t)
        eps = 1e-6
        du_fd = (model(t + eps) - model(t - eps)) / (2 * eps)
        rhs = torch.stack([-u[:, 0], 0.7 * u[:, 0]], 1)
    torch.testing.assert_close(model.residual(t).detach(), du_fd - rhs, rtol=1e-6, atol=1e-7)
    terms = model.loss_terms(t, u, t, u0=[1.0, 0.0])
    assert list(terms) == ["data", "ic", "residual"] and float(terms["data"]) < 1e-20
    fit(model, lambda: model.loss_terms(t, u, t), adam_steps=3, progress=False)  # trains through the one loop
    assert model.hidden.constants.grad is not None


def test_hidden_models_validate_arguments():
    with pytest.raises(ValueError, match="hidden_inputs"):
        HiddenODE(2, None, hidden_inputs=["z"], state_names=["x", "y"])
    with pytest.raises(ValueError, match="t_range"):
        HiddenODE(1, None, hidden_inputs=["t"], t_range=(1, 0))
    with pytest.raises(ValueError, match="u_scale"):
        HiddenODE(2, None, hidden_inputs=["u0"], u_scale=[1.0, -1.0])
    with pytest.raises(ValueError, match="hidden_inputs"):
        HiddenPDE(None, hidden_inputs=["u_t"])
    m = HiddenPDE(lambda u_xx, **_: 0.1 * u_xx, hidden_inputs=["u", "u_x"])
    with pytest.raises(ValueError, match="tx_obs"):
        m.loss_terms(torch.zeros(5, 3, dtype=DT), torch.zeros(5, dtype=DT), torch.zeros(5, 2, dtype=DT))
    with pytest.raises(ValueError, match="u_obs"):
        HiddenODE(2, None, hidden_inputs=["u0"]).loss_terms(torch.zeros(4, dtype=DT), torch.zeros(4, 3, dtype=DT),
                                                             torch.zeros(4, dtype=DT))


def test_hidden_pde_fields_and_losses():
    m = HiddenPDE(lambda u_xx, **_: 0.1 * u_xx, hidden_inputs=["u", "u_x"])
    tx = torch.rand(64, 2, dtype=DT) * torch.tensor([1.0, 2.0], dtype=DT) - torch.tensor([0.0, 1.0], dtype=DT)
    f = m.fields(tx)
    eps = 1e-6
    dx = torch.tensor([0.0, eps], dtype=DT)
    with torch.no_grad():
        fd = (m(tx + dx) - m(tx - dx)) / (2 * eps)
    torch.testing.assert_close(f["u_x"].detach(), fd, rtol=1e-5, atol=1e-7)
    terms = m.loss_terms(tx, torch.zeros(64, dtype=DT), tx, ic=lambda x: -torch.sin(torch.pi * x),
                         x_ic=torch.linspace(-1, 1, 16, dtype=DT), bc="periodic",
                         t_bc=torch.linspace(0, 1, 8, dtype=DT))
    assert list(terms) == ["data", "ic", "bc", "residual"]
    z, F = m.hidden_samples(tx)
    assert z.shape == (64, 2) and F.shape == (64,)


@pytest.mark.slow
def test_quick_lotka_volterra_recovers_structure_at_zero_noise():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from _discovery_common import run_lotka_volterra
    finally:
        sys.path.pop(0)
    torch.set_num_threads(1)
    out = run_lotka_volterra(0.0, 0, quick=True, backends=("sindy",))
    rec = out["records"][0]
    assert rec["structure_ok"], rec["expression"]
    assert rec["max_coef_rel_error"] < 0.01, rec
