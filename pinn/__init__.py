"""pinn: physics-informed learning built on neurode."""

from __future__ import annotations

__all__: list[str] = []

# --- symbolic equations and hidden-term discovery (issue 5) ---
from pinn.discovery import HiddenODE, HiddenPDE  # noqa: E402
from pinn.symbolic import extract  # noqa: E402

__all__ += ["extract", "HiddenODE", "HiddenPDE"]
