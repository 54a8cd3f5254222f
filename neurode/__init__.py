"""neurode: batched neural differential equations with differentiable error and stiffness estimates.

The public API is re-exported here by name.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
