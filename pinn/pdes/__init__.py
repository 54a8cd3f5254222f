"""Reference solutions used by examples, tests and benchmarks (numpy, float64, shape (T, X))."""

from __future__ import annotations

from .burgers import NU_STANDARD, burgers_standard
from .exact import burgers_cole_hopf_periodic, check_nu, convection, convection_diffusion, reaction
from .spectral import burgers_periodic, periodic_transport

__all__ = [
    "convection",
    "convection_diffusion",
    "reaction",
    "burgers_cole_hopf_periodic",
    "burgers_periodic",
    "periodic_transport",
    "burgers_standard",
    "NU_STANDARD",
    "check_nu",
]
