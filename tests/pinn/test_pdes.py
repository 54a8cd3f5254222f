import math

import numpy as np
import pytest

from pinn import pdes
from pinn.problems import Transport1D

X = 2 * math.pi * np.arange(64) / 64
T = np.linspace(0, 1, 6)


def test_convection_exact():
    u = pdes.convection(X, T, 30.0)
    np.testing.assert_allclose(u, np.sin(X[None] - 30 * T[:, None]), atol=1e-12)


def test_convection_diffusion_spectral():
    u = pdes.convection_diffusion(X, T, 30.0, 0.01, n_modes=64)
    ex = np.exp(-0.01 * T)[:, None] * np.sin(X[None] - 30 * T[:, None])
    np.testing.assert_allclose(u, ex, atol=1e-12)
    # a non band-limited initial condition: each mode decays at its own rate
    u0 = lambda z: np.exp(np.sin(z))  # noqa: E731
    u = pdes.convection_diffusion(X, T, 0.0, 0.0, u0=u0)
    np.testing.assert_allclose(u[0], u0(X), atol=1e-12)


def test_reaction_exact():
    u0 = lambda z: 0.5 + 0.25 * np.sin(z)  # noqa: E731
    u = pdes.reaction(X, T, 2.0, u0)
    dt = 1e-6
    du = (pdes.reaction(X, T + dt, 2.0, u0) - pdes.reaction(X, T - dt, 2.0, u0)) / (2 * dt)
    np.testing.assert_allclose(du, 2.0 * u * (1 - u), atol=1e-6)


def test_burgers_periodic_vs_cole_hopf():
    nu = 0.1
    u0 = lambda z: pdes.burgers_cole_hopf_periodic(z, [0.0], nu)[0]  # noqa: E731
    u = pdes.burgers_periodic(X, T, nu, u0, n=128)
    np.testing.assert_allclose(u, pdes.burgers_cole_hopf_periodic(X, T, nu), atol=1e-8)
    # Galilean shift: u0 + C -> C + v(x - C t, t)
    u = pdes.burgers_periodic(X, T, nu, u0, C=2.0, n=128)
    ex = 2.0 + np.stack([pdes.burgers_cole_hopf_periodic(X - 2.0 * t, [t], nu)[0] for t in T])
    np.testing.assert_allclose(u, ex, atol=1e-8)


def test_burgers_standard_cole_hopf_vs_spectral():
    x = np.linspace(-1, 1, 33)
    t = np.array([0.0, 0.25, 0.5])
    nu = 0.1 / math.pi
    ch = pdes.burgers_standard(x, t, nu)
    sp = pdes.periodic_transport(x, t, lambda z: -np.sin(math.pi * z), lambda u: u, nu, period=2.0, low=-1.0, n=128)
    np.testing.assert_allclose(ch, sp, atol=1e-7)
    u = pdes.burgers_standard(x, np.array([0.5, 1.0]))  # nu = 0.01/pi: odd in x, zero at the ends
    np.testing.assert_allclose(u, -u[:, ::-1], atol=1e-12)
    np.testing.assert_allclose(u[:, [0, -1]], 0.0, atol=1e-12)
    assert np.abs(u).max() <= 1.0


def test_periodic_transport_special_cases():
    # constant speed: exact translation; speed 0 with a logistic source: the exact reaction solution
    u0 = lambda z: 0.5 + 0.25 * np.sin(z)  # noqa: E731
    u = pdes.periodic_transport(X, T, u0, lambda v: 0 * v + 3.0, 0.0, n=64)
    np.testing.assert_allclose(u, pdes.convection(X, T, 3.0, u0), atol=1e-8)
    u = pdes.periodic_transport(X, T, u0, lambda v: 0 * v, 0.0, source=lambda v: 2.0 * v * (1 - v), n=64)
    np.testing.assert_allclose(u, pdes.reaction(X, T, 2.0, u0), atol=1e-8)


def test_problem_references_shapes():
    for p in (Transport1D.convection(10.0), Transport1D.convection_diffusion(30.0, 0.01)):
        assert p.reference(X, T).shape == (6, 64)


def test_bad_input():
    with pytest.raises(ValueError, match="nu: expected a finite float >= 0, got -0.1"):
        pdes.convection_diffusion(X, T, 1.0, -0.1)
    with pytest.raises(ValueError, match="nu: expected a finite float >= 0, got -1"):
        Transport1D.burgers(nu=-1.0)
    with pytest.raises(ValueError, match="x, t: expected finite values"):
        pdes.convection(np.array([0.0, np.nan]), T, 1.0)
    with pytest.raises(ValueError, match="x, t: expected 1-D arrays"):
        pdes.convection(np.zeros((2, 2)), T, 1.0)
