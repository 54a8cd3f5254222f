"""The standard viscous Burgers benchmark (Raissi et al. 2019; PINNacle "Burgers1d-C").

``u_t + u u_x = nu u_xx`` on ``x in [-1, 1]``, ``t in [0, 1]``, ``u(x, 0) = -sin(pi x)``,
``u(+-1, t) = 0``, ``nu = 0.01 / pi``. Solved exactly by the Cole-Hopf transform:

    u(x, t) = - int sin(pi (x - e)) f(x - e) G(e) de / int f(x - e) G(e) de,
    f(y) = exp(-cos(pi y) / (2 pi nu)),  G(e) = exp(-e^2 / (4 nu t)).

With ``e = sqrt(4 nu t) s`` both integrals become ``int g(s) exp(-s^2) ds`` (the Gauss-Hermite
weight); they are evaluated by the trapezoidal rule on a fine uniform ``s`` grid in log space
(spectrally accurate for these analytic, rapidly decaying integrands; Gauss-Hermite nodes are too
sparse where ``f`` varies by ``exp(100)``).
"""

from __future__ import annotations

import math

import numpy as np

from .exact import _xt, check_nu

__all__ = ["burgers_standard", "NU_STANDARD"]

NU_STANDARD = 0.01 / math.pi


def burgers_standard(x, t, nu: float = NU_STANDARD, *, s_max: float = 16.0, ds: float = 0.01) -> np.ndarray:
    """Cole-Hopf solution of the standard Burgers problem at points ``x`` (in [-1, 1]) and times
    ``t``; returns ``(T, X)`` float64."""
    nu = check_nu(nu)
    if nu == 0:
        raise ValueError("nu: expected nu > 0 for the Cole-Hopf solution, got 0")
    x, t = _xt(x, t)
    s = np.arange(-s_max, s_max + ds / 2, ds)
    out = np.empty((t.size, x.size))
    for i, ti in enumerate(t):  # loop over time slices; each is vectorised over (x, s)
        if ti <= 0:
            out[i] = -np.sin(math.pi * x)
            continue
        y = x[:, None] - math.sqrt(4 * nu * ti) * s[None, :]
        logw = -np.cos(math.pi * y) / (2 * math.pi * nu) - s[None, :] ** 2
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        out[i] = -(np.sin(math.pi * y) * w).sum(1) / w.sum(1)
    return out
