"""One-dimensional transport problems ``u_t + a(u) u_x = nu u_xx + s(u)`` and their references.

A :class:`Transport1D` holds the domain, the initial condition (a torch callable), the speed
``a(u)``, the viscosity, an optional reaction/source ``s(u)`` and the boundary condition. The
factories build the cases of the Lagrangian-PINN study (Mojgani et al. 2022) and the standard
Burgers benchmark; :meth:`Transport1D.reference` returns the reference solution on a grid.

Example:
    >>> p = Transport1D.convection(beta=30.0)
    >>> u = p.reference(np.linspace(0, 6.28, 8, endpoint=False), np.linspace(0, 1, 5))
    >>> u.shape
    (5, 8)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from . import pdes
from .sampling import Interval, SpaceTime

__all__ = ["Transport1D", "relative_l2"]

TorchFn = Callable[[Tensor], Tensor]
TWO_PI = 2 * math.pi


def _np(fn: TorchFn) -> Callable[[np.ndarray], np.ndarray]:
    def g(z: np.ndarray) -> np.ndarray:
        return fn(torch.as_tensor(np.asarray(z, dtype=np.float64))).numpy()

    return g


@dataclass(frozen=True)
class Transport1D:
    """``u_t + speed(u) u_x = nu u_xx + source(u)`` on ``domain`` with ``u(x, t0) = u0(x)``.

    Attributes:
        domain: a :class:`~pinn.sampling.SpaceTime` over an interval (periodic or not).
        u0: initial condition, torch callable ``(N,) -> (N,)``.
        speed: ``a(u)``, torch callable, elementwise.
        nu: viscosity, ``>= 0``.
        source: ``s(u)`` or None.
        bc: ``"periodic"`` or ``"dirichlet"`` (value ``bc_value`` at both ends).
        kind: the reference solver used by :meth:`reference` (``"convection"``,
            ``"convection_diffusion"``, ``"burgers"``, ``"burgers_standard"``, ``"transport"``).
        params: the parameters shown in reports, e.g. ``{"beta": 30.0}``.
    """

    domain: SpaceTime
    u0: TorchFn
    speed: TorchFn
    nu: float = 0.0
    source: TorchFn | None = None
    bc: Literal["periodic", "dirichlet"] = "periodic"
    bc_value: float = 0.0
    kind: str = "transport"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.domain, SpaceTime) or self.domain.space.dim != 1:
            raise TypeError(f"domain: expected a SpaceTime over an Interval, got {self.domain!r}")
        pdes.check_nu(self.nu)
        if self.bc not in ("periodic", "dirichlet"):
            raise ValueError(f"bc: expected 'periodic' or 'dirichlet', got {self.bc!r}")
        if self.bc == "periodic" and not self.domain.space.periodic[0]:
            raise ValueError(
                "bc: expected a periodic spatial interval for bc='periodic', got periodic=False "
                "(build the domain with Interval(a, b, periodic=True))"
            )
        for name in ("u0", "speed"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name}: expected a callable on tensors, got {getattr(self, name)!r}")

    # ---------------------------------------------------------------- factories
    @staticmethod
    def _periodic_domain(t1: float = 1.0) -> SpaceTime:
        return SpaceTime(Interval(0.0, TWO_PI, periodic=True), (0.0, t1))

    @classmethod
    def convection(cls, beta: float, u0: TorchFn = torch.sin) -> Transport1D:
        """``u_t + beta u_x = 0`` on ``[0, 2 pi)`` periodic, ``t in [0, 1]``, ``u0 = sin x``."""
        b = float(beta)
        return cls(cls._periodic_domain(), u0, lambda u: torch.full_like(u, b), 0.0,
                   kind="convection", params={"beta": b})

    @classmethod
    def convection_diffusion(cls, beta: float, nu: float, u0: TorchFn = torch.sin) -> Transport1D:
        """``u_t + beta u_x = nu u_xx`` on ``[0, 2 pi)`` periodic, ``u0 = sin x``."""
        b = float(beta)
        return cls(cls._periodic_domain(), u0, lambda u: torch.full_like(u, b), float(nu),
                   kind="convection_diffusion", params={"beta": b, "nu": float(nu)})

    @classmethod
    def burgers(cls, nu: float = 0.01, C: float = 0.0) -> Transport1D:
        """Viscous Burgers ``u_t + u u_x = nu u_xx`` on ``[0, 2 pi)`` periodic, ``u0 = sin x + C``."""
        c = float(C)
        return cls(cls._periodic_domain(), lambda x: torch.sin(x) + c, lambda u: u, float(nu),
                   kind="burgers", params={"C": c, "nu": float(nu)})

    @classmethod
    def reaction_transport(cls, c: float, nu: float = 0.0, u0: TorchFn | None = None) -> Transport1D:
        """``u_t + c u (1 - u) u_x = nu u_xx`` (the reaction-type speed ``a = c u (1 - u)``),
        periodic on ``[0, 2 pi)``, default ``u0 = exp(-(x - pi)^2 / (2 (pi/4)^2))``."""
        cc = float(c)
        init = u0 or (lambda x: torch.exp(-((x - math.pi) ** 2) / (2 * (math.pi / 4) ** 2)))
        return cls(cls._periodic_domain(), init, lambda u: cc * u * (1 - u), float(nu),
                   kind="transport", params={"c": cc, "nu": float(nu)})

    @classmethod
    def burgers_standard(cls, nu: float = pdes.NU_STANDARD) -> Transport1D:
        """``u_t + u u_x = nu u_xx``, ``x in [-1, 1]``, ``t in [0, 1]``, ``u0 = -sin(pi x)``,
        ``u(+-1, t) = 0``, ``nu = 0.01 / pi``."""
        return cls(SpaceTime(Interval(-1.0, 1.0), (0.0, 1.0)), lambda x: -torch.sin(math.pi * x),
                   lambda u: u, float(nu), bc="dirichlet", kind="burgers_standard",
                   params={"nu": float(nu)})

    # ---------------------------------------------------------------- reference
    def reference(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Reference solution at 1-D points ``x`` and times ``t``: float64 array ``(T, X)``."""
        sp = self.domain.space
        low, period = sp.lows[0], sp.lengths[0]
        t = np.asarray(t, dtype=np.float64) - self.domain.t_span[0]
        u0 = _np(self.u0)
        if self.kind == "convection":
            return pdes.convection(x, t, self.params["beta"], u0, period, low)
        if self.kind == "convection_diffusion":
            return pdes.convection_diffusion(x, t, self.params["beta"], self.nu, u0, period, low)
        if self.kind == "burgers":
            return pdes.burgers_periodic(x, t, self.nu, np.sin, C=self.params["C"], period=period, low=low)
        if self.kind == "burgers_standard":
            return pdes.burgers_standard(x, t, self.nu)
        if self.bc != "periodic":
            raise ValueError(f"kind: expected a periodic problem for the spectral reference, got bc={self.bc!r}")
        src = None if self.source is None else _np(self.source)
        return pdes.periodic_transport(x, t, u0, _np(self.speed), self.nu, source=src, period=period, low=low)


def relative_l2(pred: Tensor | np.ndarray, ref: Tensor | np.ndarray) -> float:
    """``||pred - ref||_2 / ||ref||_2`` over all entries (shapes must match)."""
    p = pred.detach().cpu().double().numpy() if isinstance(pred, Tensor) else np.asarray(pred, dtype=np.float64)
    r = ref.detach().cpu().double().numpy() if isinstance(ref, Tensor) else np.asarray(ref, dtype=np.float64)
    if p.shape != r.shape:
        raise ValueError(f"pred: expected the shape of ref {r.shape}, got {p.shape}")
    return float(np.linalg.norm(p - r) / np.linalg.norm(r))
