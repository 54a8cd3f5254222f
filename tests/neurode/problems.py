"""Classic test problems shared by the solver tests and benchmarks (batched, with scipy references)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.integrate import solve_ivp


def vdp(t, y, mu):
    x, v = y[:, 0], y[:, 1]
    return torch.stack([v, mu * (1 - x**2) * v - x], dim=1)


def lotka(t, y):
    x, z = y[:, 0], y[:, 1]
    return torch.stack([1.5 * x - x * z, -3.0 * z + x * z], dim=1)


def kepler(t, y):
    q, p = y[:, :2], y[:, 2:]
    r3 = (q**2).sum(1, keepdim=True) ** 1.5
    return torch.cat([p, -q / r3], dim=1)


LIN_A = torch.tensor([[-0.1, 1.0], [-1.0, -0.1]], dtype=torch.float64)


def linear(t, y):
    return y @ LIN_A.to(y).T


def kepler_y0(e: float) -> list[float]:
    return [1 - e, 0.0, 0.0, float(np.sqrt((1 + e) / (1 - e)))]


def scipy_ref(fun_np, y0, t_eval):
    t_eval = np.asarray(t_eval, dtype=float)
    sol = solve_ivp(fun_np, (t_eval[0], t_eval[-1]), np.asarray(y0, dtype=float), method="DOP853",
                    t_eval=t_eval, rtol=1e-13, atol=1e-13)
    assert sol.success
    return sol.y.T  # (T, D)


def np_field(f, *args):
    def fun(t, y):
        yt = torch.as_tensor(y, dtype=torch.float64)[None]
        a = tuple(torch.as_tensor([x], dtype=torch.float64) for x in args)
        return f(torch.tensor([t], dtype=torch.float64), yt, *a)[0].numpy()

    return fun
