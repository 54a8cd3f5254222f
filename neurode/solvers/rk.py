"""One generic embedded Runge-Kutta step, its error and stiffness estimates, dense output and the
initial-step heuristic. Internally the state is flattened to (A, N) for A active samples.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .tableaus import ButcherTableau

FlatF = Callable[[Tensor, Tensor], Tensor]  # (A,), (A, N) -> (A, N)


def _safe_sqrt(x: Tensor) -> Tensor:
    """sqrt with a finite gradient at 0 (clamped at the dtype's smallest normal number)."""
    return torch.sqrt(x.clamp_min(torch.finfo(x.dtype).tiny))


def rk_step(
    f: FlatF, tab: ButcherTableau, t: Tensor, y: Tensor, dt: Tensor, k1: Tensor
) -> tuple[Tensor, Tensor | None, list[Tensor], list[Tensor], Tensor | None]:
    """Take one step of ``tab`` from (t, y) with step ``dt``.

    Args:
        f: flattened vector field, (A,), (A, N) -> (A, N).
        t, dt: (A,) times and signed step sizes.
        y, k1: (A, N) state and ``f(t, y)``.

    Returns:
        ``(y1, err, ks, gs)``: (A, N) new state, (A, N) embedded difference ``y1 - y1_low`` (or
        ``None``), the stage derivatives ``ks`` and stage inputs ``gs`` (lists of s tensors (A, N))
        and ``K``, the stages stacked to (A, N, s) when built (else ``None``).
        For an FSAL tableau the last stage is ``f(t + dt, y1)``.
    """
    co = tab.tensors(y.dtype, y.device)
    a, c = co["a"], co["c"]
    dtc = dt[:, None]
    ks = [k1]
    gs = [y]
    for i in range(1, tab.stages):
        g = torch.addcmul(y, dtc, _combine(ks, a[i][:i]))
        gs.append(g)
        ks.append(f(torch.add(t, dt, alpha=c[i]), g))
    y1 = gs[-1] if tab.fsal else torch.addcmul(y, dtc, _combine(ks, co["b"]))
    err = None
    if co["b_err"] is not None:
        err = dtc * _combine(ks, co["b_err"])
    K = None
    return y1, err, ks, gs, K


def _combine(ks: list[Tensor], w: list[float]) -> Tensor:
    """sum_j w_j ks[j] skipping zero weights, one dispatcher call per term (in-place
    accumulation into a fresh tensor; autograd-safe because nothing saves it in between)."""
    acc = None
    for k, wj in zip(ks, w):
        if wj == 0.0:
            continue
        if acc is None:
            acc = k * wj
        else:
            acc.add_(k, alpha=wj)
    return acc if acc is not None else torch.zeros_like(ks[0])


def error_ratio(err: Tensor, y0: Tensor, y1: Tensor, rtol: Tensor, atol: Tensor) -> Tensor:
    """E = rms over the state of ``err / (atol + rtol * max(|y0|, |y1|))``; (A, N) -> (A,)."""
    scale = torch.addcmul(atol, rtol, torch.maximum(y0.abs(), y1.abs()))
    return torch.linalg.vector_norm(err / scale, dim=1) * (err.shape[1] ** -0.5)


def stiffness_lambda(tab: ButcherTableau, ks: list[Tensor], gs: list[Tensor], y1: Tensor) -> Tensor:
    """Shampine's estimate ``||k_i - k_j|| / ||g_i - g_j||`` for the tableau's stage pair; (A,)."""
    i, j = tab.stiffness_pair
    gi = y1 if (tab.fsal and i == tab.stages - 1) else gs[i]
    gj = y1 if (tab.fsal and j == tab.stages - 1) else gs[j]
    num = torch.linalg.vector_norm(ks[i] - ks[j], dim=1)
    den = torch.linalg.vector_norm(gi - gj, dim=1)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)


def _dense_weights(theta: Tensor, dense: Tensor) -> Tensor:
    """Stage weights of a tableau's dense-output polynomials at fractions ``theta`` (P,): (P, s)."""
    return torch.linalg.vander(theta, N=dense.shape[1] + 1)[:, 1:] @ dense.T


def _hermite(th: Tensor, d: Tensor, y0: Tensor, k0: Tensor, y1: Tensor, k1: Tensor) -> Tensor:
    """Cubic Hermite interpolant through (y0, k0) and (y1, k1) at fraction ``th`` of a step ``d``;
    all arguments broadcast against each other."""
    th2 = th * th
    th3 = th2 * th
    return ((2 * th3 - 3 * th2 + 1) * y0 + (th3 - 2 * th2 + th) * d * k0
            + (-2 * th3 + 3 * th2) * y1 + (th3 - th2) * d * k1)


def interpolate(
    tab: ButcherTableau,
    theta: Tensor,
    dt: Tensor,
    y0: Tensor,
    y1: Tensor,
    ks: list[Tensor],
    k_end: Tensor,
    K: Tensor | None = None,
) -> Tensor:
    """Dense output at fraction ``theta`` (A,) of the step: the tableau's own interpolant when it
    has one, else the cubic Hermite interpolant through (y0, k1) and (y1, k_end). Returns (A, N).
    The one-output case of :func:`interpolate_many`, kept separate because the solver loop calls
    it on nearly every step (fewer view operations)."""
    dense = tab.tensors(y0.dtype, y0.device)["dense"]
    if dense is not None:
        w = _dense_weights(theta, dense)  # (A, s)
        K = torch.stack(ks, dim=2) if K is None else K  # (A, N, s)
        return torch.addcmul(y0, dt[:, None], torch.bmm(K, w[:, :, None])[..., 0])
    return _hermite(theta[:, None], dt[:, None], y0, ks[0], y1, k_end)


def interpolate_many(
    tab: ButcherTableau,
    theta: Tensor,
    dt: Tensor,
    y0: Tensor,
    y1: Tensor,
    ks: list[Tensor],
    k_end: Tensor,
    K: Tensor | None = None,
) -> Tensor:
    """Dense output at M fractions per row at once: ``theta`` (A, M) -> (A, M, N). The same
    interpolant as :func:`interpolate`, in a fixed number of batched operations whatever M is."""
    A, M = theta.shape
    dense = tab.tensors(y0.dtype, y0.device)["dense"]
    if dense is not None:
        w = _dense_weights(theta.reshape(-1), dense)  # (A M, s)
        K = torch.stack(ks, dim=2) if K is None else K  # (A, N, s)
        inc = torch.bmm(w.view(A, M, -1), K.transpose(1, 2))  # (A, M, N)
        return torch.addcmul(y0[:, None, :], dt[:, None, None], inc)
    return _hermite(theta[:, :, None], dt[:, None, None], y0[:, None], ks[0][:, None], y1[:, None], k_end[:, None])


def initial_step(
    f: FlatF,
    t0: Tensor,
    y0: Tensor,
    k0: Tensor,
    direction: Tensor,
    order: int,
    rtol: Tensor,
    atol: Tensor,
) -> Tensor:
    """Hairer-Norsett-Wanner starting step (Solving ODEs I, II.4), per sample; one f evaluation.

    Returns the signed initial step (A,).
    """
    scale = atol + rtol * y0.abs()
    d0 = _safe_sqrt(((y0 / scale) ** 2).mean(dim=1))
    d1 = _safe_sqrt(((k0 / scale) ** 2).mean(dim=1))
    small = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = torch.where(small, torch.full_like(d0, 1e-6), 0.01 * d0 / torch.where(small, torch.ones_like(d1), d1))
    y1 = torch.addcmul(y0, (direction * h0)[:, None], k0)
    k1 = f(t0 + direction * h0, y1)
    d2 = _safe_sqrt((((k1 - k0) / scale) ** 2).mean(dim=1)) / h0
    dmax = torch.maximum(d1, d2)
    tiny = dmax <= 1e-15
    h1 = torch.where(
        tiny,
        torch.clamp(h0 * 1e-3, min=1e-6),
        (0.01 / torch.where(tiny, torch.ones_like(dmax), dmax)) ** (1.0 / (order + 1)),
    )
    return direction * torch.minimum(100 * h0, h1)
