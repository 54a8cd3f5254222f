"""Batched per-sample Runge-Kutta solvers with differentiable error and stiffness estimates."""

from .api import StepEstimate, solve_ode, step_estimates
from .controllers import IController, PIController
from .rk import initial_step
from .solution import Solution, SolveError, Status, StepRecord
from .tableaus import ADAPTIVE_METHODS, FIXED_METHODS, TABLEAUS, ButcherTableau, get_tableau

__all__ = [
    "solve_ode", "step_estimates", "StepEstimate", "Solution", "SolveError", "Status", "StepRecord",
    "IController", "PIController", "ButcherTableau", "TABLEAUS", "ADAPTIVE_METHODS", "FIXED_METHODS",
    "get_tableau", "initial_step",
]
