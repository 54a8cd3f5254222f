"""Eulerian PINNs and Lagrangian PINNs for 1-D transport ``u_t + a(u) u_x = nu u_xx + s(u)``.

* :class:`PINN`: the vanilla (Eulerian) physics-informed network ``u(x, t)`` (Raissi et al. 2019)
  with soft or hard initial and boundary conditions.
* :class:`LagrangianPINN`: Mojgani, Balajewicz, Hassanzadeh, "Lagrangian PINNs: A
  causality-conforming solution to failure modes of physics-informed neural networks" (2022).
  Two branches over ``(x0, t)``: the characteristic ``x_L(x0, t)`` and the state ``u(x0, t)``,
  with residuals ``r_x = d_t x_L - a(u)`` and ``r_u = d_t u - nu u_xx - s(u)``, where ``u_xx`` is
  taken with respect to the Eulerian ``x`` by the chain rule ``u_x = u_{x0} / x_{L,x0}``,
  ``u_xx = (u_x)_{x0} / x_{L,x0}``.

Both train with :func:`pinn.training.fit` on the dict returned by ``loss_terms``:

    >>> from pinn.problems import Transport1D
    >>> from pinn.sampling import grid
    >>> from pinn.training import fit
    >>> p = Transport1D.convection(beta=30.0)
    >>> model = LagrangianPINN(p, width=8, depth=2)
    >>> pts = grid(p.domain, (16, 8))
    >>> h = fit(model, lambda: model.loss_terms(pts), weights=model.default_weights,
    ...         adam_steps=2, progress=False)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from neurode.autodiff import partial

from .problems import Transport1D
from .sampling import PeriodicEmbedding, check_points

__all__ = ["MLP", "PINN", "LagrangianPINN", "periodic_interp"]


class MLP(nn.Module):
    """Fully connected network ``in_dim -> width x depth -> out_dim`` with Xavier-normal weights.

    Args:
        in_dim, out_dim: input and output features.
        width: hidden units per layer (default 50); depth: hidden layers (default 4).
        activation: module class applied after each hidden layer (default ``nn.Tanh``).
    """

    def __init__(
        self, in_dim: int, out_dim: int, width: int = 50, depth: int = 4,
        activation: Callable[[], nn.Module] = nn.Tanh,
    ) -> None:
        super().__init__()
        for name, v in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width), activation()]
            d = width
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_dim) -> (B, out_dim)``."""
        return self.net(x)


def _scale_t(t: Tensor, span: tuple[float, float]) -> Tensor:
    return 2 * (t - span[0]) / (span[1] - span[0]) - 1


def _check_u0(u0: Tensor) -> Tensor:
    if not bool(torch.isfinite(u0).all()):
        raise ValueError("u0: expected finite initial values, got NaN or inf")
    return u0


class PINN(nn.Module):
    """Vanilla (Eulerian) PINN ``u(x, t)`` for a :class:`~pinn.problems.Transport1D` problem.

    Args:
        problem: the PDE, domain, initial and boundary conditions.
        width, depth: of the tanh MLP (defaults 50 and 4).
        ic: ``"soft"`` (penalised) or ``"hard"``: ``u = u0(x) + (t - t0) N``.
        bc: ``"soft"`` (penalised) or ``"hard"``: periodic problems embed ``x`` as
            ``(cos, sin)`` harmonics; Dirichlet problems multiply by ``(x - a)(b - x)`` (with
            ``ic="hard"``, the initial condition must then satisfy the boundary values).
        harmonics: number of Fourier harmonics of the periodic embedding (default 1).

    Inputs are points ``xt`` of shape ``(B, 2)`` with columns ``(x, t)``; outputs ``(B,)``.
    """

    def __init__(
        self, problem: Transport1D, *, width: int = 50, depth: int = 4,
        ic: Literal["soft", "hard"] = "soft", bc: Literal["soft", "hard"] = "soft", harmonics: int = 1,
    ) -> None:
        super().__init__()
        if not isinstance(problem, Transport1D):
            raise TypeError(f"problem: expected a Transport1D, got {type(problem).__name__}")
        for name, v in (("ic", ic), ("bc", bc)):
            if v not in ("soft", "hard"):
                raise ValueError(f"{name}: expected 'soft' or 'hard', got {v!r}")
        self.problem, self.ic, self.bc, self.harmonics = problem, ic, bc, harmonics
        self.embed = bc == "hard" and problem.bc == "periodic"
        self.embedding = PeriodicEmbedding(problem.domain, dims=(0,), harmonics=harmonics) if self.embed else None
        in_dim = 2 * harmonics + 1 if self.embed else 2
        self.net = MLP(in_dim, 1, width, depth)
        w = {"residual": 1.0}
        if ic == "soft":
            w["ic"] = 100.0
        if bc == "soft":
            w["bc"] = 100.0
        self.default_weights: dict[str, float] = w

    def forward(self, xt: Tensor) -> Tensor:
        """``u`` at points ``xt`` ``(B, 2)``; returns ``(B,)``."""
        dom = self.problem.domain
        x, t = xt[:, 0], xt[:, 1]
        if self.embedding is not None:
            z = self.embedding(xt)
            z = torch.cat([z[:, :-1], _scale_t(z[:, -1:], dom.t_span)], 1)
        else:
            a, b = dom.space.lows[0], dom.space.highs[0]
            z = torch.stack([2 * (x - a) / (b - a) - 1, _scale_t(t, dom.t_span)], 1)
        n = self.net(z).squeeze(-1)
        if self.bc == "hard" and self.problem.bc == "dirichlet":
            a, b = dom.space.lows[0], dom.space.highs[0]
            n = n * (x - a) * (b - x) / ((b - a) / 2) ** 2
            if self.ic == "soft":
                n = n + self.problem.bc_value
        if self.ic == "hard":
            return self.problem.u0(x) + (t - dom.t_span[0]) * n
        return n

    def residual(self, xt: Tensor) -> Tensor:
        """``u_t + a(u) u_x - nu u_xx - s(u)`` at ``xt`` ``(B, 2)``; returns ``(B,)``."""
        xt = check_points(xt, 2, "xt")
        if not xt.requires_grad:
            xt = xt.detach().requires_grad_(True)
        p = self.problem
        u = self(xt)
        u_x = partial(u, xt, 0)
        r = partial(u, xt, 1) + p.speed(u) * u_x
        if p.nu > 0:
            r = r - p.nu * partial(u_x, xt, 0)
        if p.source is not None:
            r = r - p.source(u)
        return r

    def loss_terms(self, xt: Tensor, x_ic: Tensor | None = None, t_bc: Tensor | None = None) -> dict[str, Tensor]:
        """Mean-squared loss terms.

        Args:
            xt: collocation points ``(N, 2)``.
            x_ic: initial positions ``(M,)`` or ``(M, 1)`` (needed unless ``ic="hard"``).
            t_bc: boundary times ``(K,)`` or ``(K, 1)`` (needed unless ``bc="hard"``).

        Returns:
            ``{"residual", "ic"?, "bc"?}``.
        """
        dom = self.problem.domain
        out = {"residual": self.residual(xt).pow(2).mean()}
        if self.ic == "soft":
            if x_ic is None:
                raise ValueError("x_ic: expected initial positions (M,) for ic='soft', got None")
            x_ic = check_points(x_ic.reshape(-1, 1), 1, "x_ic")
            pts = torch.cat([x_ic, torch.full_like(x_ic, dom.t_span[0])], 1)
            out["ic"] = (self(pts) - _check_u0(self.problem.u0(x_ic[:, 0]))).pow(2).mean()
        if self.bc == "soft":
            if t_bc is None:
                raise ValueError("t_bc: expected boundary times (K,) for bc='soft', got None")
            t_bc = check_points(t_bc.reshape(-1, 1), 1, "t_bc")
            lo = torch.cat([torch.full_like(t_bc, dom.space.lows[0]), t_bc], 1)
            hi = torch.cat([torch.full_like(t_bc, dom.space.highs[0]), t_bc], 1)
            if self.problem.bc == "periodic":
                out["bc"] = (self(lo) - self(hi)).pow(2).mean()
            else:
                g = self.problem.bc_value
                out["bc"] = ((self(lo) - g).pow(2) + (self(hi) - g).pow(2)).mean()
        return out

    @torch.no_grad()
    def predict(self, x: Tensor, t: Tensor) -> Tensor:
        """``u`` on the tensor grid ``x (X,) x t (T,)``; returns ``(T, X)``."""
        T, X = t.numel(), x.numel()
        xt = torch.stack([x.reshape(1, X).expand(T, X), t.reshape(T, 1).expand(T, X)], -1).reshape(-1, 2)
        return self(xt).reshape(T, X)


def periodic_interp(xq: Tensor, xp: Tensor, fp: Tensor, period: float, low: float = 0.0) -> Tensor:
    """Batched periodic linear interpolation.

    Args:
        xq: query points ``(X,)`` or ``(T, X)``.
        xp: sample positions ``(T, N)`` (any order, any winding; wrapped into ``[low, low + period)``).
        fp: sample values ``(T, N)``.
        period, low: the periodic interval.

    Returns:
        ``(T, X)``: for each row, the periodic piecewise-linear interpolant of ``(xp, fp)`` at ``xq``.
    """
    if xp.shape != fp.shape or xp.ndim != 2:
        raise ValueError(f"xp, fp: expected equal shapes (T, N), got {tuple(xp.shape)} and {tuple(fp.shape)}")
    T = xp.shape[0]
    xw = low + torch.remainder(xp - low, period)
    xs, idx = torch.sort(xw, dim=1)
    fs = torch.gather(fp, 1, idx)
    xs = torch.cat([xs[:, -1:] - period, xs, xs[:, :1] + period], 1)
    fs = torch.cat([fs[:, -1:], fs, fs[:, :1]], 1)
    q = xq.reshape(1, -1).expand(T, -1) if xq.ndim == 1 else xq
    q = low + torch.remainder(q - low, period)
    j = torch.searchsorted(xs.contiguous(), q.contiguous()).clamp(1, xs.shape[1] - 1)
    x0, x1 = torch.gather(xs, 1, j - 1), torch.gather(xs, 1, j)
    f0, f1 = torch.gather(fs, 1, j - 1), torch.gather(fs, 1, j)
    w = ((q - x0) / (x1 - x0).clamp_min(torch.finfo(xs.dtype).tiny)).clamp(0, 1)
    return f0 + w * (f1 - f0)


class LagrangianPINN(nn.Module):
    """Lagrangian PINN (Mojgani, Balajewicz & Hassanzadeh 2022) for periodic 1-D transport.

    Two branches over ``(x0, t)`` (``x0`` embedded as ``cos``/``sin`` harmonics, ``t`` scaled to
    ``[-1, 1]``): the state ``u(x0, t)`` and the characteristic ``x_L(x0, t) = x0 + s N_x(x0, t)``
    written as a displacement so that it is periodic in ``x0`` as the embedding requires; ``s`` is
    ``x_scale`` (default: ``max |a(u0)| * T``, the displacement the initial data predict, or 1).

    Args:
        problem: a periodic :class:`~pinn.problems.Transport1D`.
        width, depth: of each tanh MLP (paper: width 50).
        shared_trunk: one MLP with two outputs instead of two separate networks (default False).
        ic: ``"soft"`` (paper; penalised with weight 1000) or ``"hard"``
            (``x_L = x0 + (t - t0) s N_x``, ``u = u0(x0) + (t - t0) N_u``).
        harmonics: Fourier harmonics of the periodic embedding (default 1).
        x_scale: displacement scale ``s`` (default automatic, see above).

    ``default_weights`` are the paper's: ``r_x`` 10, ``r_u`` 1, ``ic_x`` 1000, ``ic_u`` 1000.
    The output layers start at zero, so training starts from ``x_L = x0`` (no crossing
    characteristics, a Jacobian of 1).
    """

    def __init__(
        self, problem: Transport1D, *, width: int = 50, depth: int = 4, shared_trunk: bool = False,
        ic: Literal["soft", "hard"] = "soft", harmonics: int = 1, x_scale: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(problem, Transport1D):
            raise TypeError(f"problem: expected a Transport1D, got {type(problem).__name__}")
        if problem.bc != "periodic":
            raise ValueError(
                f"problem: expected a periodic problem (the Lagrangian PINN embeds x0 periodically), got bc={problem.bc!r}"
            )
        if ic not in ("soft", "hard"):
            raise ValueError(f"ic: expected 'soft' or 'hard', got {ic!r}")
        self.problem, self.ic, self.harmonics, self.shared_trunk = problem, ic, harmonics, shared_trunk
        dom = problem.domain
        if x_scale is None:
            xs = torch.linspace(dom.space.lows[0], dom.space.highs[0], 512, dtype=torch.float64)
            amax = float(problem.speed(problem.u0(xs)).abs().max())
            x_scale = amax * (dom.t_span[1] - dom.t_span[0]) if amax > 0 else 1.0
        if not (isinstance(x_scale, (int, float)) and x_scale > 0 and math.isfinite(x_scale)):
            raise ValueError(f"x_scale: expected a positive finite float, got {x_scale!r}")
        self.x_scale = float(x_scale)
        self.embedding = PeriodicEmbedding(dom, dims=(0,), harmonics=harmonics)
        in_dim = 2 * harmonics + 1
        if shared_trunk:
            self.trunk = MLP(in_dim, 2, width, depth)
            heads = [self.trunk.net[-1]]
        else:
            self.net_u = MLP(in_dim, 1, width, depth)
            self.net_x = MLP(in_dim, 1, width, depth)
            heads = [self.net_u.net[-1], self.net_x.net[-1]]
        # Zero output layers: training starts from x_L = x0 (Jacobian 1, no crossing
        # characteristics, whatever x_scale) and, with hard ICs, from u = u0.
        for head in heads:
            nn.init.zeros_(head.weight)
        w = {"r_x": 10.0, "r_u": 1.0}
        if ic == "soft":
            w |= {"ic_x": 1000.0, "ic_u": 1000.0}
        self.default_weights: dict[str, float] = w

    def forward(self, x0t: Tensor) -> tuple[Tensor, Tensor]:
        """``(u, x_L)`` at Lagrangian points ``x0t`` ``(B, 2)`` (columns ``x0, t``); each ``(B,)``."""
        dom = self.problem.domain
        z = self.embedding(x0t)
        z = torch.cat([z[:, :-1], _scale_t(z[:, -1:], dom.t_span)], 1)
        if self.shared_trunk:
            o = self.trunk(z)
            nu_, nx_ = o[:, 0], o[:, 1]
        else:
            nu_, nx_ = self.net_u(z).squeeze(-1), self.net_x(z).squeeze(-1)
        x0, t = x0t[:, 0], x0t[:, 1]
        if self.ic == "hard":
            tau = t - dom.t_span[0]
            return self.problem.u0(x0) + tau * nu_, x0 + tau * self.x_scale * nx_
        return nu_, x0 + self.x_scale * nx_

    def eulerian_derivatives(self, x0t: Tensor) -> dict[str, Tensor]:
        """``u``, ``x_L``, their time derivatives along characteristics, the Jacobian
        ``x_{L,x0}`` and the Eulerian ``u_x = u_{x0} / x_{L,x0}``, ``u_xx = (u_x)_{x0} / x_{L,x0}``.
        Each ``(B,)``; differentiable."""
        x0t = check_points(x0t, 2, "x0t")
        if not x0t.requires_grad:
            x0t = x0t.detach().requires_grad_(True)
        u, xl = self(x0t)
        J = partial(xl, x0t, 0)
        u_x = partial(u, x0t, 0) / J
        out = {"u": u, "x_L": xl, "u_t": partial(u, x0t, 1), "x_L_t": partial(xl, x0t, 1), "J": J, "u_x": u_x}
        if self.problem.nu > 0:
            out["u_xx"] = partial(u_x, x0t, 0) / J
        return out

    def residuals(self, x0t: Tensor) -> tuple[Tensor, Tensor]:
        """``(r_x, r_u)`` at ``x0t`` ``(B, 2)``: ``d_t x_L - a(u)`` and ``d_t u - nu u_xx - s(u)``.

        Space derivatives (and the Jacobian ``x_{L,x0}``) are only formed when ``nu > 0``.
        """
        p = self.problem
        x0t = check_points(x0t, 2, "x0t")
        if not x0t.requires_grad:
            x0t = x0t.detach().requires_grad_(True)
        u, xl = self(x0t)
        r_x = partial(xl, x0t, 1) - p.speed(u)
        r_u = partial(u, x0t, 1)
        if p.nu > 0:
            J = partial(xl, x0t, 0)
            u_x = partial(u, x0t, 0) / J
            r_u = r_u - p.nu * partial(u_x, x0t, 0) / J
        if p.source is not None:
            r_u = r_u - p.source(u)
        return r_x, r_u

    def loss_terms(self, x0t: Tensor, x0_ic: Tensor | None = None) -> dict[str, Tensor]:
        """Mean-squared terms ``{"r_x", "r_u", "ic_x", "ic_u"}`` (the last two only for soft ICs).

        Args:
            x0t: collocation points ``(N, 2)``.
            x0_ic: initial positions ``(M,)`` for soft ICs (default: the ``x0`` column of ``x0t``).
        """
        r_x, r_u = self.residuals(x0t)
        out = {"r_x": r_x.pow(2).mean(), "r_u": r_u.pow(2).mean()}
        if self.ic == "soft":
            dom = self.problem.domain
            x0 = x0t[:, 0].detach() if x0_ic is None else x0_ic.reshape(-1)
            x0 = check_points(x0.reshape(-1, 1), 1, "x0_ic")
            u, xl = self(torch.cat([x0, torch.full_like(x0, dom.t_span[0])], 1))
            out["ic_x"] = (xl - x0[:, 0]).pow(2).mean()
            out["ic_u"] = (u - _check_u0(self.problem.u0(x0[:, 0]))).pow(2).mean()
        return out

    @torch.no_grad()
    def characteristics(self, x0: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """``(u, x_L)`` on the Lagrangian grid ``x0 (N,) x t (T,)``; each ``(T, N)``."""
        T, N = t.numel(), x0.numel()
        pts = torch.stack([x0.reshape(1, N).expand(T, N), t.reshape(T, 1).expand(T, N)], -1).reshape(-1, 2)
        u, xl = self(pts)
        return u.reshape(T, N), xl.reshape(T, N)

    @torch.no_grad()
    def predict(self, x: Tensor, t: Tensor, n_x0: int | None = None) -> Tensor:
        """``u`` on the Eulerian grid ``x (X,) x t (T,)``: ``(T, X)``.

        The network is evaluated at ``n_x0`` uniformly spaced ``x0`` (default ``max(4 X, 1024)``);
        at each time the values are interpolated periodically from the moving points ``x_L`` onto ``x``.
        """
        sp = self.problem.domain.space
        n = n_x0 or max(4 * x.numel(), 1024)
        x0 = sp.lows[0] + sp.lengths[0] * torch.arange(n, dtype=x.dtype, device=x.device) / n
        u, xl = self.characteristics(x0, t)
        return periodic_interp(x, xl, u, sp.lengths[0], sp.lows[0])
