"""pinn: physics-informed learning built on neurode."""

from __future__ import annotations

__all__: list[str] = []
