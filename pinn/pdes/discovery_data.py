"""Reference solutions and sparse noisy observations for the hidden-term discovery problems.

* Lotka-Volterra (scipy ``solve_ivp``, DOP853 at rtol 1e-11), the setting of Podina et al. (2023):
  (alpha, beta, gamma, delta) = (1.3, 0.9, 0.8, 1.8), (x0, y0) = (0.4425, 4.628), t in [0, 3].
* Viscous Burgers ``u_t = nu u_xx - u u_x`` and Fisher-KPP ``u_t = D u_xx + r u (1 - u)`` on a
  periodic interval, solved by a Fourier pseudo-spectral method (2/3-rule dealiasing) in space and
  DOP853 in time at tight tolerances. Burgers with ``u0 = -sin(pi x)`` on [-1, 1) is odd, so the
  periodic solution is also the one with Dirichlet u(+-1) = 0.

Noise is ``noise * mean(|u|) * N(0, 1)`` per component (METHODS.md section 6), from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

__all__ = [
    "LV_PARAMS",
    "ODEData",
    "PDEData",
    "lotka_volterra",
    "spectral_solve",
    "burgers",
    "fisher_kpp",
]

LV_PARAMS = {"alpha": 1.3, "beta": 0.9, "gamma": 0.8, "delta": 1.8, "x0": 0.4425, "y0": 4.628}


@dataclass
class ODEData:
    """Observations of an ODE system: t_obs (N,), u_obs (N, n) noisy, plus a dense reference."""

    t_obs: np.ndarray
    u_obs: np.ndarray
    u_clean: np.ndarray
    t_ref: np.ndarray
    u_ref: np.ndarray
    params: dict = field(default_factory=dict)


@dataclass
class PDEData:
    """Observations of u(t, x): tx_obs (N, 2), u_obs (N,) noisy, and the reference on a grid."""

    tx_obs: np.ndarray
    u_obs: np.ndarray
    u_clean: np.ndarray
    t_grid: np.ndarray
    x_grid: np.ndarray
    u_grid: np.ndarray  # (len(t_grid), len(x_grid))
    params: dict = field(default_factory=dict)


def _noise(u: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    if not noise >= 0:
        raise ValueError(f"noise: expected a non-negative fraction, got {noise!r}")
    scale = np.mean(np.abs(u), axis=0)
    return u + noise * scale * rng.standard_normal(u.shape)


def lotka_volterra(
    noise: float = 0.0,
    seed: int = 0,
    *,
    t_end: float = 3.0,
    dt_obs: float = 0.1,
    n_ref: int = 301,
    params: dict | None = None,
) -> ODEData:
    """Lotka-Volterra ``x' = alpha x - beta x y``, ``y' = -gamma y + delta x y``.

    Observations at t = 0, dt_obs, ... < t_end (30 points by default) with relative noise ``noise``.
    """
    p = dict(LV_PARAMS, **(params or {}))

    def f(_t, z):
        x, y = z
        return [p["alpha"] * x - p["beta"] * x * y, -p["gamma"] * y + p["delta"] * x * y]

    n_obs = int(round(t_end / dt_obs))
    t_obs = dt_obs * np.arange(n_obs)
    t_ref = np.linspace(0.0, t_end, n_ref)
    t_all = np.union1d(t_obs, t_ref)
    sol = solve_ivp(f, (0.0, t_end), [p["x0"], p["y0"]], t_eval=t_all, method="DOP853", rtol=1e-11, atol=1e-12)
    if not sol.success:  # pragma: no cover
        raise RuntimeError(f"lotka_volterra: solve_ivp failed: {sol.message}")
    u_all = sol.y.T
    clean = u_all[np.searchsorted(t_all, t_obs)]
    ref = u_all[np.searchsorted(t_all, t_ref)]
    rng = np.random.default_rng(seed)
    return ODEData(t_obs, _noise(clean, noise, rng), clean, t_ref, ref, p)


def spectral_solve(
    reaction,
    u0: np.ndarray,
    *,
    length: float,
    diffusion: float,
    t_eval: np.ndarray,
    advection: bool = False,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> np.ndarray:
    """Solve ``u_t = diffusion u_xx - [u u_x if advection] + reaction(u)`` on a periodic interval.

    Args:
        reaction: ``reaction(u) -> array`` (pointwise), or None.
        u0: initial values on the uniform grid of n points (n even) covering one period ``length``.
        t_eval: output times (T,), starting at 0.

    Returns:
        (T, n) solution. Fourier pseudo-spectral in space with 2/3-rule dealiasing of the nonlinear
        terms, DOP853 in time.
    """
    n = u0.shape[0]
    k = 2 * np.pi * np.fft.rfftfreq(n, d=length / n)
    keep = np.abs(k) < (2.0 / 3.0) * np.max(np.abs(k))

    def rhs(_t, uh_flat):
        uh = uh_flat[: len(k)] + 1j * uh_flat[len(k):]
        uh = uh * keep
        u = np.fft.irfft(uh, n)
        out = -diffusion * k**2 * uh
        if advection:
            out = out - 0.5j * k * np.fft.rfft(u * u) * keep
        if reaction is not None:
            out = out + np.fft.rfft(reaction(u)) * keep
        return np.concatenate([out.real, out.imag])

    uh0 = np.fft.rfft(u0)
    sol = solve_ivp(rhs, (float(t_eval[0]), float(t_eval[-1])), np.concatenate([uh0.real, uh0.imag]),
                    t_eval=t_eval, method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover
        raise RuntimeError(f"spectral_solve: solve_ivp failed: {sol.message}")
    m = len(k)
    return np.stack([np.fft.irfft(sol.y[:m, i] + 1j * sol.y[m:, i], n) for i in range(len(t_eval))])


def _observe(t, x, U, n_obs, noise, seed, params) -> PDEData:
    rng = np.random.default_rng(seed)
    if not 1 <= n_obs <= U.size:
        raise ValueError(f"n_obs: expected an int in [1, {U.size}], got {n_obs!r}")
    idx = rng.choice(U.size, size=n_obs, replace=False)
    it, ix = np.unravel_index(idx, U.shape)
    clean = U[it, ix]
    tx = np.stack([t[it], x[ix]], axis=1)
    noisy = clean + noise * np.mean(np.abs(U)) * rng.standard_normal(clean.shape)
    return PDEData(tx, noisy, clean, t, x, U, params)


def burgers(
    noise: float = 0.0,
    seed: int = 0,
    *,
    n_obs: int = 500,
    nu: float = 0.05,
    t_end: float = 1.0,
    nx: int = 256,
    nt: int = 101,
) -> PDEData:
    """Viscous Burgers ``u_t = nu u_xx - u u_x`` on [-1, 1) (periodic), ``u0 = -sin(pi x)``;
    ``n_obs`` observations drawn at random from the (nt, nx) space-time grid."""
    x = -1.0 + 2.0 * np.arange(nx) / nx
    t = np.linspace(0.0, t_end, nt)
    U = spectral_solve(None, -np.sin(np.pi * x), length=2.0, diffusion=nu, t_eval=t, advection=True)
    return _observe(t, x, U, n_obs, noise, seed, {"nu": nu, "t_end": t_end, "x_range": (-1.0, 1.0)})


def fisher_kpp(
    noise: float = 0.0,
    seed: int = 0,
    *,
    n_obs: int = 500,
    D: float = 0.01,
    r: float = 2.0,
    t_end: float = 2.0,
    nx: int = 256,
    nt: int = 101,
) -> PDEData:
    """Fisher-KPP ``u_t = D u_xx + r u (1 - u)`` on [-1, 1) (periodic) from
    ``u0 = 0.05 + 0.9 exp(-(x / 0.2)^2)``; ``n_obs`` observations from the (nt, nx) grid."""
    x = -1.0 + 2.0 * np.arange(nx) / nx
    t = np.linspace(0.0, t_end, nt)
    u0 = 0.05 + 0.9 * np.exp(-((x / 0.2) ** 2))
    U = spectral_solve(lambda u: r * u * (1.0 - u), u0, length=2.0, diffusion=D, t_eval=t)
    return _observe(t, x, U, n_obs, noise, seed, {"D": D, "r": r, "t_end": t_end, "x_range": (-1.0, 1.0)})
