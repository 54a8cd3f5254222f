"""Per-sample step-size controllers (configuration as small dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["IController", "PIController", "get_controller"]

# error ratios below this count as this (keeps E^(-1/k) and its gradient finite)
_E_MIN = 1e-12


def _check(safety: float, fmin: float, fmax: float) -> None:
    if not 0 < safety <= 1:
        raise ValueError(f"safety: expected a value in (0, 1], got {safety!r}")
    if not 0 < fmin < 1:
        raise ValueError(f"fmin: expected a value in (0, 1), got {fmin!r}")
    if not fmax > 1:
        raise ValueError(f"fmax: expected a value > 1, got {fmax!r}")


@dataclass(frozen=True)
class IController:
    """Integral controller ``dt_new = dt * clip(safety * E^(-1/k), fmin, fmax)``, k = error order + 1.

    After a rejected step the factor is capped at 1; after a non-finite step (E NaN or inf) it
    is ``fmin``.
    """

    safety: float = 0.9
    fmin: float = 0.2
    fmax: float = 10.0

    def __post_init__(self) -> None:
        _check(self.safety, self.fmin, self.fmax)

    def factor(self, E: Tensor, E_prev: Tensor, accept: Tensor, k: int) -> Tensor:
        """Step-size factors (A,) from error ratios ``E`` (A,) of this and the previous accepted step."""
        raw = E.clamp_min(_E_MIN).pow(-1.0 / k)
        return self._clip(raw, accept)

    def _clip(self, raw: Tensor, accept: Tensor) -> Tensor:
        fac = (raw * self.safety).clamp(self.fmin, self.fmax)
        fac = torch.where(accept, fac, fac.clamp_max(1.0))
        return fac.nan_to_num(nan=self.fmin)


@dataclass(frozen=True)
class PIController(IController):
    """Proportional-integral controller (Hairer & Wanner II, IV.2; Soderlind):
    ``dt_new = dt * clip(safety * E_n^(-beta1/k) * E_{n-1}^(beta2/k), fmin, fmax)`` on accepted
    steps, the I controller after a rejection."""

    beta1: float = 0.7
    beta2: float = 0.4

    def factor(self, E: Tensor, E_prev: Tensor, accept: Tensor, k: int) -> Tensor:
        Ec = E.clamp_min(_E_MIN)
        pi = Ec.pow(-self.beta1 / k) * E_prev.clamp_min(1e-4).pow(self.beta2 / k)
        raw = torch.where(accept, pi, Ec.pow(-1.0 / k))
        return self._clip(raw, accept)


def get_controller(controller: str | IController) -> IController:
    """``"i"``, ``"pi"`` or a controller instance."""
    if isinstance(controller, IController):
        return controller
    if controller == "i":
        return IController()
    if controller == "pi":
        return PIController()
    raise ValueError(f"controller: expected 'i', 'pi' or an IController instance, got {controller!r}")
