"""Continuous adjoint (Chen et al. 2018; Pontryagin) solved backward with the same per-sample
solver, memory independent of the number of steps.

The adjoint state per sample is ``z = [y, a]`` with ``dy/dt = f`` and ``da/dt = -a^T df/dy``.
The parameter gradient ``int a^T df/dtheta dt`` never enters the dynamics, so it is accumulated
as the Runge-Kutta quadrature ``dt * sum_j b_j a_j^T df/dtheta(t_j, y_j)`` over each *accepted*
step's stages (one batched vector-Jacobian product per step), and it is left out of the error
norm: the "seminorm" adjoint of Kidger, Chen & Lyons (2021), which takes fewer steps than an
adjoint whose error control also watches the parameter integral.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .controllers import IController
from .loop import LoopResult, integrate
from .solution import Status
from .tableaus import ButcherTableau


def adjoint_solve(
    f: Callable[..., Tensor],
    y0: Tensor,
    t_eval: Tensor,
    tab: ButcherTableau,
    params: tuple[Tensor, ...],
    *,
    rtol: Tensor,
    atol: Tensor,
    controller: IController,
    dt0: Tensor | None,
    max_steps: int,
    args: Sequence[Tensor],
    record_steps: bool = False,
) -> tuple[Tensor, LoopResult]:
    """Forward solve without a graph; the backward pass solves the adjoint ODE. Returns
    ``(ys (B, T, N), LoopResult)``; ``ys`` carries gradients to ``y0`` and ``params``."""
    holder: dict = {}
    opts = dict(rtol=rtol, atol=atol, controller=controller, dt0=dt0, max_steps=max_steps, args=tuple(args))
    ys = _AdjointFn.apply(f, tab, opts, record_steps, holder, y0, t_eval, *params)
    return ys, holder["result"]


class _AdjointFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, f, tab, opts, record_steps, holder, y0, t_eval, *params):  # noqa: D401
        with torch.no_grad():
            res = integrate(f, y0, t_eval, tab, record_steps=record_steps, **opts)
        holder["result"] = res
        ctx.f, ctx.tab, ctx.opts = f, tab, opts
        ctx.n_params = len(params)
        ctx.save_for_backward(res.ys, t_eval, *params)
        ctx.failed = bool((res.status != 0).any())
        return res.ys

    @staticmethod
    def backward(ctx, grad_ys):
        ys, t_eval, *params = ctx.saved_tensors
        if ctx.failed:
            raise RuntimeError("adjoint: the forward solve failed for some samples; no gradient")
        f, tab, opts = ctx.f, ctx.tab, ctx.opts
        B, T, N = ys.shape
        args = opts["args"]
        rtol, atol = opts["rtol"], opts["atol"]
        rtol2 = torch.cat([rtol, rtol], 1) if rtol.dim() > 0 else rtol
        atol2 = torch.cat([atol, atol], 1) if atol.dim() > 0 else atol
        grad_ys = grad_ys.nan_to_num(0.0)
        pgrads = [torch.zeros_like(p) for p in params]
        b = tab.tensors(ys.dtype, ys.device)["b"]
        c = tab.tensors(ys.dtype, ys.device)["c"]
        stages = [j for j, bj in enumerate(b) if bj != 0.0]

        def aug(t: Tensor, z: Tensor, *a: Tensor) -> Tensor:
            y, adj = z[:, :N], z[:, N:]
            with torch.enable_grad():
                yv = y.detach().requires_grad_(True)
                fy = f(t, yv, *a)
                (vjp,) = torch.autograd.grad(fy, yv, adj, allow_unused=True)
            if vjp is None:
                vjp = torch.zeros_like(y)
            return torch.cat([fy.detach(), -vjp], dim=1)

        def hook(t: Tensor, dt: Tensor, gs: list, accept: Tensor, a: Sequence[Tensor]) -> None:
            if not params:
                return
            tt = torch.cat([t + c[j] * dt for j in stages])
            Z = torch.cat([gs[j] for j in stages])
            w = torch.cat([-(b[j] * dt) * accept for j in stages])
            rep = tuple(x.repeat(len(stages), *([1] * (x.dim() - 1))) for x in a)
            with torch.enable_grad():
                fy = f(tt, Z[:, :N].detach(), *rep)
                gr = torch.autograd.grad(fy, params, w[:, None] * Z[:, N:], allow_unused=True)
            for acc, g in zip(pgrads, gr):
                if g is not None:
                    acc.add_(g)

        a = grad_ys[:, -1]
        for i in range(T - 1, 0, -1):
            z0 = torch.cat([ys[:, i], a], dim=1)
            te = torch.stack([t_eval[:, i], t_eval[:, i - 1]], dim=1)
            res = integrate(
                aug, z0, te, tab, rtol=rtol2, atol=atol2, controller=opts["controller"], dt0=None,
                max_steps=opts["max_steps"], args=args, step_hook=hook,
            )
            if bool((res.status != 0).any()):
                bad = torch.nonzero(res.status != 0).flatten().tolist()
                raise RuntimeError(
                    f"adjoint: the backward solve failed for samples {bad[:10]} on interval {i}: "
                    f"{Status.describe(int(res.status[bad[0]]))}"
                )
            a = res.ys[:, -1, N:] + grad_ys[:, i - 1]
        return (None, None, None, None, None, a, None, *pgrads)
