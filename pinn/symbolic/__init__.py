"""Symbolic equations extracted from trained networks (or any callable).

``extract(model, {"x": (0, 5), "y": (0, 5)}, backend="sindy")`` samples the callable, runs a
symbolic-regression backend (sparse regression with pysindy, genetic programming with pyoperon, or
PySR when installed), post-processes the result with sympy and returns per output a sympy
expression, its held-out error and its complexity, exportable to LaTeX and to a ``torch.nn.Module``
with trainable constants.
"""

from __future__ import annotations

from .backends import (
    BACKENDS,
    MissingBackendError,
    OperonRegressor,
    PySRRegressor,
    SindyRegressor,
    SymbolicBackend,
    make_backend,
)
from .core import (
    Equation,
    Extraction,
    extract,
    load_for_extraction,
    parse_ranges,
    save_for_extraction,
)
from .export import SymbolicModule, to_latex
from .postprocess import (
    complexity,
    drop_small_terms,
    refit_constants,
    simplify_expression,
    snap_constants,
)

__all__ = [
    "extract",
    "Equation",
    "Extraction",
    "parse_ranges",
    "save_for_extraction",
    "load_for_extraction",
    "SymbolicBackend",
    "SindyRegressor",
    "OperonRegressor",
    "PySRRegressor",
    "MissingBackendError",
    "make_backend",
    "BACKENDS",
    "SymbolicModule",
    "to_latex",
    "complexity",
    "simplify_expression",
    "snap_constants",
    "drop_small_terms",
    "refit_constants",
]
