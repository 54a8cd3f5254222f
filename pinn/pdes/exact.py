"""Closed-form and exact spectral solutions of 1-D transport problems on periodic domains.

All functions take 1-D arrays ``x`` (any points, length ``X``) and ``t`` (length ``T``) and return
a float64 ``numpy`` array of shape ``(T, X)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = [
    "convection",
    "convection_diffusion",
    "reaction",
    "burgers_cole_hopf_periodic",
    "check_nu",
]

ArrayFn = Callable[[np.ndarray], np.ndarray]


def check_nu(nu: float) -> float:
    """Validate a viscosity: a finite float >= 0 (ValueError names ``nu``)."""
    if isinstance(nu, bool) or not isinstance(nu, (int, float)) or not math.isfinite(nu) or nu < 0:
        raise ValueError(f"nu: expected a finite float >= 0, got {nu!r}")
    return float(nu)


def _xt(x, t) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if x.ndim != 1 or t.ndim != 1:
        raise ValueError(f"x, t: expected 1-D arrays, got shapes {x.shape} and {t.shape}")
    if not (np.isfinite(x).all() and np.isfinite(t).all()):
        raise ValueError("x, t: expected finite values, got NaN or inf")
    return x, t


def convection(x, t, beta: float, u0: ArrayFn = np.sin, period: float = 2 * math.pi, low: float = 0.0) -> np.ndarray:
    """Exact solution of ``u_t + beta u_x = 0`` with periodic ``u0``: ``u0(x - beta t)`` (wrapped)."""
    x, t = _xt(x, t)
    xi = low + np.mod(x[None, :] - beta * t[:, None] - low, period)
    return np.asarray(u0(xi), dtype=np.float64)


def _modes(u0: ArrayFn, period: float, low: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    xs = low + period * np.arange(n) / n
    c = np.fft.rfft(u0(xs)) / n
    k = 2 * math.pi / period * np.arange(c.size)
    return c, k


def _synth(c: np.ndarray, k: np.ndarray, x: np.ndarray, low: float, n: int) -> np.ndarray:
    """Evaluate the real trigonometric series with rfft coefficients ``c`` (T, K) at ``x``."""
    w = np.ones(k.size)
    w[1:] = 2.0
    if n % 2 == 0:
        w[-1] = 1.0
    E = np.exp(1j * np.outer(k, x - low))  # (K, X)
    return np.real((c * w) @ E)


def convection_diffusion(
    x,
    t,
    beta: float,
    nu: float,
    u0: ArrayFn = np.sin,
    period: float = 2 * math.pi,
    low: float = 0.0,
    n_modes: int = 512,
) -> np.ndarray:
    """Exact spectral solution of ``u_t + beta u_x = nu u_xx`` with periodic ``u0``.

    ``u0`` is expanded in ``n_modes`` Fourier modes (exact for band-limited data such as sin x);
    mode ``k`` evolves as ``exp(-(i k beta + nu k^2) t)``; the series is evaluated at ``x``.
    """
    nu = check_nu(nu)
    x, t = _xt(x, t)
    c, k = _modes(u0, period, low, n_modes)
    ct = c[None, :] * np.exp(-(1j * k[None, :] * beta + nu * k[None, :] ** 2) * t[:, None])
    return _synth(ct, k, x, low, n_modes)


def reaction(x, t, rho: float, u0: ArrayFn) -> np.ndarray:
    """Exact solution of the logistic reaction ``u_t = rho u (1 - u)``:
    ``u0 e^{rho t} / (u0 e^{rho t} + 1 - u0)``."""
    x, t = _xt(x, t)
    a = np.asarray(u0(x), dtype=np.float64)[None, :]
    e = np.exp(rho * t)[:, None]
    return a * e / (a * e + 1 - a)


def burgers_cole_hopf_periodic(x, t, nu: float, a: float = 0.5, k: float = 1.0) -> np.ndarray:
    """Exact periodic solution of viscous Burgers ``u_t + u u_x = nu u_xx`` by Cole-Hopf with
    ``phi = 1 + a exp(-nu k^2 t) cos(k x)`` (``|a| < 1``):
    ``u = 2 nu a k e^{-nu k^2 t} sin(k x) / (1 + a e^{-nu k^2 t} cos(k x))``. Used to test solvers."""
    nu = check_nu(nu)
    x, t = _xt(x, t)
    e = a * np.exp(-nu * k**2 * t)[:, None]
    return 2 * nu * k * e * np.sin(k * x)[None, :] / (1 + e * np.cos(k * x)[None, :])
