"""neurode: batched neural differential equations with differentiable error and stiffness estimates.

The public API is re-exported here by name.
"""

from __future__ import annotations

from . import autodiff, regularizers
from .layers import NeuralODE
from .regularizers import (
    RNODE,
    STEER,
    ConstantWeight,
    ExponentialAnnealing,
    GlobalError,
    GlobalStiffness,
    LocalError,
    LocalStiffness,
    Regularizer,
)
from .solvers import (
    ADAPTIVE_METHODS,
    FIXED_METHODS,
    TABLEAUS,
    ButcherTableau,
    IController,
    PIController,
    Solution,
    SolveError,
    Status,
    StepEstimate,
    StepRecord,
    get_tableau,
    solve_ode,
    step_estimates,
)

__version__ = "0.1.0"

__all__ = [
    "__version__", "solve_ode", "step_estimates", "StepEstimate", "Solution", "SolveError", "Status",
    "StepRecord", "IController", "PIController", "ButcherTableau", "TABLEAUS", "ADAPTIVE_METHODS",
    "FIXED_METHODS", "get_tableau", "autodiff", "regularizers", "NeuralODE", "Regularizer",
    "GlobalError", "GlobalStiffness", "LocalError", "LocalStiffness", "STEER", "RNODE",
    "ConstantWeight", "ExponentialAnnealing",
]
