"""Post-processing of symbolic expressions: simplification, pruning and constant refitting.

Every function here is pure: it takes a sympy expression (and samples where needed) and returns a
new expression. ``X`` is always a float array of shape (N, d) whose columns are the values of
``symbols`` (a sequence of d sympy symbols) and ``y`` an array of shape (N,).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy

__all__ = [
    "complexity",
    "simplify_expression",
    "snap_constants",
    "drop_small_terms",
    "refit_constants",
    "evaluate",
]


def complexity(expr: sympy.Expr) -> int:
    """Number of nodes of the expression tree (symbols, numbers and operations).

    Example:
        >>> x, y = sympy.symbols("x y")
        >>> complexity(0.9 * x * y)
        4
    """
    return sum(1 for _ in sympy.preorder_traversal(expr))


def evaluate(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray) -> np.ndarray:
    """Evaluate ``expr`` on samples ``X`` (N, d) -> (N,) float64 with numpy."""
    X = np.asarray(X, dtype=np.float64)
    fn = sympy.lambdify(list(symbols), expr, modules="numpy")
    with np.errstate(all="ignore"):
        out = fn(*[X[:, i] for i in range(X.shape[1])])
    out = np.asarray(out, dtype=np.float64)
    return np.broadcast_to(out, (X.shape[0],)).copy()


def simplify_expression(expr: sympy.Expr, *, max_ops_for_simplify: int = 60) -> sympy.Expr:
    """A readable, short form of ``expr``: its expansion (a sum of terms, which keeps the structure
    of the equation visible) unless ``sympy.simplify`` is more than 25% shorter.

    ``sympy.simplify`` can be slow on large trees, so it only runs when ``expr`` has at most
    ``max_ops_for_simplify`` operations.

    Example:
        >>> x, y = sympy.symbols("x y")
        >>> simplify_expression(y * (0.3 - 1.8 * x))
        -1.8*x*y + 0.3*y
    """
    try:
        expanded = sympy.expand(expr)
    except Exception:  # pragma: no cover - sympy corner cases
        expanded = expr
    best = min([expr, expanded], key=complexity)
    if sympy.count_ops(expr) <= max_ops_for_simplify:
        try:
            simple = sympy.simplify(expr)
            if complexity(simple) < 0.75 * complexity(best):
                best = simple
        except Exception:  # pragma: no cover
            pass
    return best


def snap_constants(expr: sympy.Expr, *, rel_tol: float = 1e-4) -> sympy.Expr:
    """Replace floats within ``rel_tol`` (relative) of an integer by that integer; drop ~0 floats.

    Example:
        >>> x = sympy.Symbol("x")
        >>> snap_constants(sympy.sin(1.0000001 * x))
        sin(x)
    """
    repl = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        r = round(v)
        if abs(v) < 1e-12:
            repl[f] = sympy.Integer(0)
        elif r != 0 and abs(v - r) <= rel_tol * abs(r):
            repl[f] = sympy.Integer(r)
    return expr.xreplace(repl) if repl else expr


def _terms(expr: sympy.Expr) -> list[sympy.Expr]:
    expr = sympy.expand(expr)
    return list(expr.args) if isinstance(expr, sympy.Add) else [expr]


def drop_small_terms(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    X: np.ndarray,
    *,
    tol: float = 1e-2,
    y: np.ndarray | None = None,
) -> sympy.Expr:
    """Drop additive terms whose root-mean-square value on ``X`` is below ``tol`` times the RMS of
    ``y`` (or of ``expr`` when ``y`` is None). This removes coefficients that are small relative to
    what the term contributes, so units and input ranges do not matter.
    """
    if tol < 0:
        raise ValueError(f"tol: expected a non-negative float, got {tol!r}")
    terms = _terms(expr)
    if len(terms) <= 1:
        return expr
    ref = y if y is not None else evaluate(expr, symbols, X)
    scale = float(np.sqrt(np.mean(np.square(ref)))) or 1.0
    keep = []
    for t in terms:
        v = evaluate(t, symbols, X)
        if np.all(np.isfinite(v)) and float(np.sqrt(np.mean(v**2))) < tol * scale:
            continue
        keep.append(t)
    return sympy.Add(*keep) if keep else sympy.Integer(0)


def _parametrize(expr: sympy.Expr, prefix: str = "_c") -> tuple[sympy.Expr, list[sympy.Symbol], list[float]]:
    """Replace every Float occurrence by its own symbol; return (expr, symbols, values)."""
    syms: list[sympy.Symbol] = []
    vals: list[float] = []

    def rec(e):
        if isinstance(e, sympy.Float):
            s = sympy.Symbol(f"{prefix}{len(syms)}")
            syms.append(s)
            vals.append(float(e))
            return s
        if not e.args:
            return e
        new_args = [rec(a) for a in e.args]
        return e.func(*new_args)

    return rec(expr), syms, vals


def refit_constants(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    X: np.ndarray,
    y: np.ndarray,
    *,
    max_nfev: int = 200,
) -> sympy.Expr:
    """Refit all floating-point constants of ``expr`` by (nonlinear) least squares on (X, y).

    Integers and rationals (exponents, snapped constants) stay fixed. The refit is kept only when it
    does not increase the mean squared error.

    Example:
        >>> x = sympy.Symbol("x")
        >>> X = np.linspace(0, 1, 50)[:, None]
        >>> e = refit_constants(0.5 * x, [x], X, 0.9 * X[:, 0])
        >>> round(float(e.coeff(x)), 6)
        0.9
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    pexpr, csyms, c0 = _parametrize(expr)
    if not csyms:
        return expr
    from scipy.optimize import least_squares

    fn = sympy.lambdify(list(symbols) + csyms, pexpr, modules="numpy")
    cols = [X[:, i] for i in range(X.shape[1])]

    def resid(c):
        with np.errstate(all="ignore"):
            v = np.asarray(fn(*cols, *c), dtype=np.float64)
        r = np.broadcast_to(v, y.shape) - y
        return np.where(np.isfinite(r), r, 1e6)

    c0 = np.asarray(c0)
    base = float(np.mean(resid(c0) ** 2))
    try:
        sol = least_squares(resid, c0, method="lm" if len(y) >= len(c0) else "trf", max_nfev=max_nfev * (len(c0) + 1))
    except Exception:  # pragma: no cover - degenerate problems
        return expr
    if not np.all(np.isfinite(sol.x)) or float(np.mean(sol.fun**2)) > base:
        return expr
    return pexpr.xreplace({s: sympy.Float(float(v), 15) for s, v in zip(csyms, sol.x)})
