"""pinn: physics-informed learning built on neurode."""

from __future__ import annotations

from . import pdes
from .lagrangian import MLP, PINN, LagrangianPINN, periodic_interp
from .problems import Transport1D, relative_l2
from .sampling import (
    Interval,
    PeriodicEmbedding,
    Rectangle,
    SpaceTime,
    check_points,
    grid,
    grid_axes,
    periodic_embedding,
    sample,
    sample_boundary,
    sample_initial,
)
from .training import History, fit, load_checkpoint, save_checkpoint

__all__: list[str] = [
    "pdes",
    "MLP",
    "PINN",
    "LagrangianPINN",
    "periodic_interp",
    "Transport1D",
    "relative_l2",
    "Interval",
    "Rectangle",
    "SpaceTime",
    "PeriodicEmbedding",
    "check_points",
    "grid",
    "grid_axes",
    "periodic_embedding",
    "sample",
    "sample_boundary",
    "sample_initial",
    "History",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]

# --- symbolic equations and hidden-term discovery ---
from .discovery import HiddenODE, HiddenPDE  # noqa: E402
from .symbolic import extract  # noqa: E402

__all__ += ["extract", "HiddenODE", "HiddenPDE"]
