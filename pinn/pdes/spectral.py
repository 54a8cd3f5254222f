"""Fourier pseudo-spectral solver for periodic 1-D transport with a scipy integrator.

Solves ``u_t + a(u) u_x = nu u_xx + s(u)`` on a periodic interval with an integrating factor for
the diffusion (exact) and ``scipy.integrate.solve_ivp`` (DOP853) for the rest, 2/3-rule
dealiasing, and trigonometric interpolation of the fine solution onto the requested points.
Viscous Burgers (``a(u) = u``) uses Galilean invariance: the mean ``m`` of ``u0`` is removed,
the zero-mean problem solved, and ``u(x, t) = m + v(x - m t, t)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

from .exact import _synth, _xt, check_nu

__all__ = ["periodic_transport", "burgers_periodic"]

ArrayFn = Callable[[np.ndarray], np.ndarray]


def periodic_transport(
    x,
    t,
    u0: ArrayFn,
    speed: ArrayFn,
    nu: float,
    *,
    source: ArrayFn | None = None,
    period: float = 2 * math.pi,
    low: float = 0.0,
    n: int = 1024,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    shift: float = 0.0,
) -> np.ndarray:
    """Pseudo-spectral solution of ``u_t + a(u) u_x = nu u_xx + s(u)``, periodic, shape ``(T, X)``.

    Args:
        x, t: 1-D evaluation points (any ``x``; ``t`` sorted, ``t >= 0``, starting anywhere).
        u0: initial condition (numpy callable), ``speed``: ``a(u)``, ``source``: ``s(u)`` or None.
        nu: viscosity >= 0.
        period, low: the domain ``[low, low + period)``.
        n: number of grid points of the internal solve (even).
        shift: evaluate at ``x - shift * t`` (a moving frame; used for Galilean shifts).
    """
    nu = check_nu(nu)
    x, t = _xt(x, t)
    if np.any(np.diff(t) < 0) or t[0] < 0:
        raise ValueError(f"t: expected sorted times >= 0, got {t[:5]}...")
    if not isinstance(n, int) or n < 8 or n % 2:
        raise ValueError(f"n: expected an even int >= 8, got {n!r}")
    xs = low + period * np.arange(n) / n
    k = 2 * math.pi / period * np.fft.rfftfreq(n, d=1.0 / n)
    keep = np.arange(k.size) < (n // 3)  # 2/3 dealiasing
    lin = -nu * k**2

    def nonlinear(c: np.ndarray) -> np.ndarray:
        c = c * keep
        u = np.fft.irfft(c, n)
        ux = np.fft.irfft(1j * k * c, n)
        r = -speed(u) * ux
        if source is not None:
            r = r + source(u)
        return np.fft.rfft(r) * keep

    c = np.fft.rfft(np.asarray(u0(xs), dtype=np.float64)) * keep
    # the largest interval over which exp(lin * dt) stays well scaled
    dt_max = 20.0 / max(1e-300, float(nu * k[keep].max() ** 2)) if nu > 0 else np.inf
    out = np.empty((t.size, k.size), dtype=complex)
    tc = 0.0
    for i, ti in enumerate(t):
        while tc < ti:
            tb = min(ti, tc + dt_max)
            ta = tc

            def rhs(s, w, ta=ta):
                e = np.exp(lin * (s - ta))
                return nonlinear(w * e) / e

            sol = solve_ivp(rhs, (ta, tb), c, method="DOP853", rtol=rtol, atol=atol)
            if not sol.success:  # pragma: no cover
                raise RuntimeError(f"periodic_transport: integrator failed at t={ta}: {sol.message}")
            c = sol.y[:, -1] * np.exp(lin * (tb - ta))
            tc = tb
        out[i] = c / n
    res = np.empty((t.size, x.size))
    for i, ti in enumerate(t):  # one synthesis per output time, each vectorised over x
        res[i] = _synth(out[i : i + 1], k, x - shift * ti, low, n)[0]
    return res


def burgers_periodic(
    x,
    t,
    nu: float,
    u0: ArrayFn | None = None,
    *,
    C: float = 0.0,
    period: float = 2 * math.pi,
    low: float = 0.0,
    n: int = 1024,
    rtol: float = 1e-9,
) -> np.ndarray:
    """Periodic viscous Burgers ``u_t + u u_x = nu u_xx`` with ``u0(x) = sin x + C`` by default.

    The mean of ``u0`` is removed (Galilean invariance) so the solve does not resolve fast
    translation. Returns ``(T, X)``.
    """
    check_nu(nu)
    base = np.sin if u0 is None else u0
    xs = low + period * np.arange(n) / n
    m = float(np.mean(base(xs))) + C

    def v0(z):
        return base(z) + C - m

    v = periodic_transport(x, t, v0, lambda u: u, nu, period=period, low=low, n=n, shift=m, rtol=rtol)
    return v + m
