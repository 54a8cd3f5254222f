"""Symbolic-regression backends with a scikit-learn-like interface.

Each backend is configured only through its constructor and has
``fit(X, y, *, feature_names=None) -> self``, ``predict(X)`` and, after fitting, ``expression_``
(a sympy expression in the symbols named by ``feature_names``), ``complexity_`` and ``info_`` (a
dict of backend diagnostics). ``X`` has shape (N, d), ``y`` shape (N,).

- :class:`SindyRegressor`: sparse regression over a term library (pysindy feature libraries and its
  STLSQ optimizer), with a threshold sweep and model selection on a validation split.
- :class:`OperonRegressor`: genetic programming with pyoperon; the model is chosen on the Pareto
  front (accuracy vs. length) by the same parsimony rule.
- :class:`PySRRegressor`: PySR (optional extra; needs Julia), imported lazily.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy

from .postprocess import complexity, evaluate

__all__ = [
    "SymbolicBackend",
    "SindyRegressor",
    "OperonRegressor",
    "PySRRegressor",
    "MissingBackendError",
    "make_backend",
    "BACKENDS",
]


class MissingBackendError(ImportError):
    """An optional symbolic-regression backend (or what it needs, such as Julia) is not installed."""


def _check_xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array (N, d), got shape {X.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y: expected shape ({X.shape[0]},), got {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X, y: expected finite values, got NaN or inf")
    return X, y


def _names(feature_names: Sequence[str] | None, d: int) -> list[str]:
    if feature_names is None:
        return [f"x{i}" for i in range(d)]
    names = [str(n) for n in feature_names]
    if len(names) != d:
        raise ValueError(f"feature_names: expected {d} names (one per column of X), got {names}")
    if len(set(names)) != d:
        raise ValueError(f"feature_names: expected distinct names, got {names}")
    return names


def _nrmse(pred: np.ndarray, y: np.ndarray) -> float:
    """Root-mean-square error divided by the root-mean-square of y (0 is perfect)."""
    scale = float(np.sqrt(np.mean(y**2))) or 1.0
    err = float(np.sqrt(np.mean((pred - y) ** 2))) / scale
    return err if np.isfinite(err) else float("inf")


def _parsimonious(errors: Sequence[float], sizes: Sequence[int], rel: float, abs_: float) -> int:
    """Index of the smallest model whose error is within ``best*(1+rel) + abs_`` of the best."""
    best = min(errors)
    ok = [i for i, e in enumerate(errors) if e <= best * (1.0 + rel) + abs_]
    return min(ok, key=lambda i: (sizes[i], errors[i]))


class SymbolicBackend:
    """Base class: the fitted-attribute contract and ``predict``."""

    expression_: sympy.Expr
    symbols_: list[sympy.Symbol]

    def fit(self, X: Any, y: Any, *, feature_names: Sequence[str] | None = None) -> SymbolicBackend:
        raise TypeError(f"{type(self).__name__}: a symbolic backend must define fit(X, y, *, feature_names)")

    def predict(self, X: Any) -> np.ndarray:
        """Evaluate the fitted expression on X (N, d) -> (N,)."""
        if not hasattr(self, "expression_"):
            raise RuntimeError(f"{type(self).__name__}: call fit before predict")
        return evaluate(self.expression_, self.symbols_, np.asarray(X, dtype=np.float64))

    def clone(self) -> SymbolicBackend:
        """An unfitted copy with the same constructor configuration."""
        new = copy.copy(self)
        for k in [k for k in vars(new) if k.endswith("_") and not k.startswith("_")]:
            delattr(new, k)
        return new

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


class SindyRegressor(SymbolicBackend):
    """Sparse regression over a term library (pysindy), with a threshold sweep and model selection.

    The library is polynomials of the inputs up to ``degree`` (with products when
    ``include_interaction``), plus ``sin(k x_i), cos(k x_i)`` for k = 1..``n_frequencies`` and,
    when ``trig_products``, the products of the degree-1 monomials with those trigonometric terms.
    Columns and target are scaled to unit RMS so thresholds are relative contributions. For each
    threshold of a geometric sweep, pysindy's STLSQ gives a sparse model; its error on a validation
    split (``validation_fraction``) is recorded and the model is selected by ``selection``:
    ``"parsimony"`` (fewest terms whose validation error is within ``best*(1+rel_tol) + abs_tol``),
    ``"aic"`` or ``"bic"``. The chosen support is refit by least squares on all samples.

    Args:
        degree: polynomial degree (>= 1). Default 3.
        include_interaction: include products of different inputs. Default True.
        include_bias: include the constant term. Default True.
        n_frequencies: number of trigonometric frequencies (0 = none). Default 0.
        trig_products: include x_i * sin/cos(k x_j) terms. Default False.
        thresholds: the sweep (relative, after scaling); default 40 values from 1e-4 to 1.
        alpha: ridge penalty of STLSQ. Default 1e-6.
        selection: "parsimony", "aic" or "bic". Default "parsimony".
        rel_tol, abs_tol: the parsimony tolerance. Defaults 0.25 and 2e-3.
        validation_fraction: share of the samples for model selection. Default 0.25.
        max_subset_terms: besides the STLSQ sweep, the best (least-squares) subsets of up to this
            many library terms are candidates too (exhaustive search, done when the library has at
            most ``max_subset_library`` terms). This keeps sparse models reachable when library
            columns are nearly collinear, e.g. samples along one trajectory. Default 3 (0: off).
        max_subset_library: default 40.
        random_state: seed of the validation split. Default 0.

    Example:
        >>> X = np.random.default_rng(0).uniform(0, 2, (300, 2))
        >>> SindyRegressor(degree=2).fit(X, 0.9 * X[:, 0] * X[:, 1], feature_names=["x", "y"]).expression_
        0.9*x*y
    """

    def __init__(
        self,
        *,
        degree: int = 3,
        include_interaction: bool = True,
        include_bias: bool = True,
        n_frequencies: int = 0,
        trig_products: bool = False,
        thresholds: Sequence[float] | None = None,
        alpha: float = 1e-6,
        selection: str = "parsimony",
        rel_tol: float = 0.25,
        abs_tol: float = 2e-3,
        validation_fraction: float = 0.25,
        max_subset_terms: int = 3,
        max_subset_library: int = 40,
        random_state: int = 0,
    ) -> None:
        self.degree = degree
        self.include_interaction = include_interaction
        self.include_bias = include_bias
        self.n_frequencies = n_frequencies
        self.trig_products = trig_products
        self.thresholds = thresholds
        self.alpha = alpha
        self.selection = selection
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        self.validation_fraction = validation_fraction
        self.max_subset_terms = max_subset_terms
        self.max_subset_library = max_subset_library
        self.random_state = random_state

    def _validate(self) -> None:
        if not isinstance(self.degree, int) or self.degree < 1:
            raise ValueError(f"degree: expected an int >= 1, got {self.degree!r}")
        if not isinstance(self.n_frequencies, int) or self.n_frequencies < 0:
            raise ValueError(f"n_frequencies: expected an int >= 0, got {self.n_frequencies!r}")
        if self.selection not in ("parsimony", "aic", "bic"):
            raise ValueError(f"selection: expected 'parsimony', 'aic' or 'bic', got {self.selection!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction: expected a float in (0, 1), got {self.validation_fraction!r}"
            )

    def _library(self):
        import pysindy as ps

        libs = [
            ps.PolynomialLibrary(
                degree=self.degree,
                include_interaction=self.include_interaction,
                include_bias=self.include_bias,
            )
        ]
        if self.n_frequencies > 0:
            fourier = ps.FourierLibrary(n_frequencies=self.n_frequencies)
            libs.append(fourier)
            if self.trig_products:
                libs.append(
                    ps.TensoredLibrary(
                        [ps.PolynomialLibrary(degree=1, include_bias=False),
                         ps.FourierLibrary(n_frequencies=self.n_frequencies)]
                    )
                )
        return libs[0] if len(libs) == 1 else ps.ConcatLibrary(libs)

    def fit(self, X: Any, y: Any, *, feature_names: Sequence[str] | None = None) -> SindyRegressor:
        """Fit on X (N, d), y (N,); ``feature_names`` name the columns (default x0, x1, ...)."""
        import pysindy as ps

        self._validate()
        X, y = _check_xy(X, y)
        names = _names(feature_names, X.shape[1])
        self.symbols_ = [sympy.Symbol(n) for n in names]
        internal = [f"X{i}" for i in range(X.shape[1])]

        lib = self._library()
        lib.fit(X)
        theta = np.asarray(lib.transform(X), dtype=np.float64)
        term_names = lib.get_feature_names(internal)
        terms = self._term_expressions(term_names, internal, theta, X)

        col_scale = np.sqrt(np.mean(theta**2, axis=0))
        col_scale[col_scale == 0] = 1.0
        y_scale = float(np.sqrt(np.mean(y**2))) or 1.0
        A = theta / col_scale
        b = y / y_scale

        rng = np.random.default_rng(self.random_state)
        perm = rng.permutation(len(y))
        n_val = max(1, int(round(self.validation_fraction * len(y))))
        val, tr = perm[:n_val], perm[n_val:]

        thresholds = (
            np.geomspace(1e-4, 1.0, 40) if self.thresholds is None else np.asarray(self.thresholds, float)
        )
        supports: list[tuple[int, ...]] = []
        errors: list[float] = []
        for thr in thresholds:
            opt = ps.STLSQ(threshold=float(thr), alpha=self.alpha, max_iter=50, unbias=True)
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                opt.fit(A[tr], b[tr, None])
            coef = np.asarray(opt.coef_).reshape(-1)
            support = tuple(int(i) for i in np.flatnonzero(np.abs(coef) > 0))
            if support in supports:
                continue
            supports.append(support)
            errors.append(_nrmse(A[val] @ coef, b[val]) if support else _nrmse(np.zeros(n_val), b[val]))
        if 0 < theta.shape[1] <= self.max_subset_library:
            for support in self._best_subsets(A[tr], b[tr]):
                if support not in supports:
                    coef = np.zeros(A.shape[1])
                    coef[list(support)] = np.linalg.lstsq(A[tr][:, list(support)], b[tr], rcond=None)[0]
                    supports.append(support)
                    errors.append(_nrmse(A[val] @ coef, b[val]))
        sizes = [len(s) for s in supports]
        if self.selection == "parsimony":
            k = _parsimonious(errors, sizes, self.rel_tol, self.abs_tol)
        else:
            pen = 2.0 if self.selection == "aic" else np.log(n_val)
            scores = [n_val * np.log(max(e, 1e-300) ** 2) + pen * s for e, s in zip(errors, sizes)]
            k = int(np.argmin(scores))
        support = list(supports[k])
        coef = np.zeros(theta.shape[1])
        if support:
            coef[support] = np.linalg.lstsq(theta[:, support], y, rcond=None)[0]
        expr = sympy.Add(*[sympy.Float(float(coef[i]), 15) * terms[i] for i in support])
        sub = {sympy.Symbol(a): s for a, s in zip(internal, self.symbols_)}
        self.expression_ = sympy.sympify(expr).xreplace(sub)
        self.coef_ = coef
        self.terms_ = [t.xreplace(sub) for t in terms]
        self.complexity_ = complexity(self.expression_)
        self.info_ = {
            "sweep": [{"n_terms": s, "validation_nrmse": e} for s, e in zip(sizes, errors)],
            "selected": k,
            "library_size": len(terms),
        }
        return self

    def _best_subsets(self, A: np.ndarray, b: np.ndarray) -> list[tuple[int, ...]]:
        """For each size 1..max_subset_terms, the support with the least training residual."""
        from itertools import combinations

        out = []
        p = A.shape[1]
        for size in range(1, min(self.max_subset_terms, p) + 1):
            best, best_res = None, np.inf
            for support in combinations(range(p), size):
                cols = A[:, support]
                coef, *_ = np.linalg.lstsq(cols, b, rcond=None)
                res = float(np.sum((cols @ coef - b) ** 2))
                if res < best_res:
                    best, best_res = support, res
            if best is not None:
                out.append(tuple(int(i) for i in best))
        return out

    @staticmethod
    def _term_expressions(term_names, internal, theta, X) -> list[sympy.Expr]:
        from sympy.parsing.sympy_parser import (
            implicit_multiplication_application,
            parse_expr,
            standard_transformations,
        )

        local = {n: sympy.Symbol(n) for n in internal}
        local.update({"sin": sympy.sin, "cos": sympy.cos})
        tr = standard_transformations + (implicit_multiplication_application,)
        exprs = []
        for name in term_names:
            s = name.replace("^", "**")
            exprs.append(sympy.sympify(1) if s.strip() == "1" else parse_expr(s, local_dict=local, transformations=tr))
        # The parse of pysindy's names is checked against the library's own numbers.
        syms = [local[n] for n in internal]
        for j, e in enumerate(exprs):
            v = evaluate(e, syms, X)
            if not np.allclose(v, theta[:, j], rtol=1e-8, atol=1e-10):
                raise RuntimeError(f"internal: could not parse pysindy term {term_names[j]!r}")
        return exprs


class OperonRegressor(SymbolicBackend):
    """Genetic-programming symbolic regression with pyoperon.

    A multi-objective run (R^2 and length) gives a Pareto front; each member is converted to sympy
    and the model is chosen by the parsimony rule on a validation split: the shortest member whose
    normalised validation RMSE is within ``best*(1+rel_tol) + abs_tol``.

    Args:
        allowed_symbols: operon primitives. Default "add,sub,mul,div,sin,cos,constant,variable".
        population_size: default 500.
        generations: default 100.
        max_length: maximum tree length. Default 25.
        optimizer_iterations: local (Levenberg-Marquardt) iterations per individual. Default 10.
        max_evaluations: default 500_000.
        max_time: wall-clock limit in seconds (None = none). Default 60.
        rel_tol, abs_tol: parsimony tolerance. Defaults 0.25 and 2e-3.
        validation_fraction: default 0.25.
        n_threads: default 1.
        random_state: default 0.

    Example:
        >>> X = np.random.default_rng(0).uniform(0, 2, (300, 2))
        >>> OperonRegressor().fit(X, 0.9 * X[:, 0] * X[:, 1], feature_names=["x", "y"]).expression_
        0.9*x*y
    """

    def __init__(
        self,
        *,
        allowed_symbols: str = "add,sub,mul,div,sin,cos,constant,variable",
        population_size: int = 500,
        generations: int = 100,
        max_length: int = 25,
        optimizer_iterations: int = 10,
        max_evaluations: int = 500_000,
        max_time: int | None = 60,
        rel_tol: float = 0.25,
        abs_tol: float = 2e-3,
        validation_fraction: float = 0.25,
        n_threads: int = 1,
        random_state: int = 0,
    ) -> None:
        self.allowed_symbols = allowed_symbols
        self.population_size = population_size
        self.generations = generations
        self.max_length = max_length
        self.optimizer_iterations = optimizer_iterations
        self.max_evaluations = max_evaluations
        self.max_time = max_time
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        self.validation_fraction = validation_fraction
        self.n_threads = n_threads
        self.random_state = random_state

    def fit(self, X: Any, y: Any, *, feature_names: Sequence[str] | None = None) -> OperonRegressor:
        """Fit on X (N, d), y (N,); ``feature_names`` name the columns (default x0, x1, ...)."""
        try:
            from pyoperon.sklearn import SymbolicRegressor
        except ImportError as exc:  # pragma: no cover - pyoperon is a test/examples dependency
            raise MissingBackendError(
                "backend 'operon' needs pyoperon: pip install pyoperon (or neurode[examples])"
            ) from exc
        X, y = _check_xy(X, y)
        names = _names(feature_names, X.shape[1])
        self.symbols_ = [sympy.Symbol(n) for n in names]
        internal = [f"X{i}" for i in range(X.shape[1])]
        rng = np.random.default_rng(self.random_state)
        perm = rng.permutation(len(y))
        n_val = max(1, int(round(self.validation_fraction * len(y))))
        val, tr = perm[:n_val], perm[n_val:]
        reg = SymbolicRegressor(
            allowed_symbols=self.allowed_symbols,
            objectives=["r2", "length"],
            population_size=self.population_size,
            generations=self.generations,
            max_length=self.max_length,
            optimizer_iterations=self.optimizer_iterations,
            max_evaluations=self.max_evaluations,
            max_time=self.max_time,
            n_threads=self.n_threads,
            random_state=self.random_state,
            uncertainty=[float(np.std(y)) * 1e-3 or 1e-3],
        )
        reg.fit(X[tr], y[tr])
        local = {n: sympy.Symbol(n) for n in internal}
        candidates, errors, sizes = [], [], []
        for member in reg.pareto_front_:
            text = reg.get_model_string(member["tree"], 15, names=internal)
            try:
                e = sympy.sympify(text, locals=local)
            except (sympy.SympifyError, TypeError, SyntaxError):
                continue
            syms = [local[n] for n in internal]
            err = _nrmse(evaluate(e, syms, X[val]), y[val])
            candidates.append(e)
            errors.append(err)
            sizes.append(complexity(e))
        if not candidates:
            raise RuntimeError("operon: no model on the Pareto front could be converted to sympy")
        k = _parsimonious(errors, sizes, self.rel_tol, self.abs_tol)
        sub = {sympy.Symbol(a): s for a, s in zip(internal, self.symbols_)}
        self.expression_ = candidates[k].xreplace(sub)
        self.complexity_ = complexity(self.expression_)
        self.info_ = {
            "front": [{"complexity": s, "validation_nrmse": e} for s, e in zip(sizes, errors)],
            "selected": k,
        }
        return self


_PYSR_HINT = (
    "backend 'pysr' needs the optional PySR package and a working Julia installation: "
    "run `pip install neurode[pysr]` (PySR downloads Julia on first import through juliacall; "
    "without network access install Julia >= 1.9 yourself and put it on PATH), or use "
    "backend='sindy' or 'operon', which need no Julia"
)


class PySRRegressor(SymbolicBackend):
    """PySR genetic programming (optional; needs ``pip install neurode[pysr]`` and Julia).

    PySR is imported only when ``fit`` runs; when PySR or Julia is missing, ``fit`` raises
    :class:`MissingBackendError` saying what to install. ``options`` are passed to
    ``pysr.PySRRegressor`` (defaults: 40 iterations, binary + - * /, unary sin cos,
    deterministic single-threaded search with ``random_state``).
    """

    def __init__(self, *, options: dict[str, Any] | None = None, random_state: int = 0) -> None:
        self.options = options
        self.random_state = random_state

    def fit(self, X: Any, y: Any, *, feature_names: Sequence[str] | None = None) -> PySRRegressor:
        """Fit on X (N, d), y (N,); ``feature_names`` name the columns (default x0, x1, ...)."""
        X, y = _check_xy(X, y)
        names = _names(feature_names, X.shape[1])
        try:
            import pysr  # noqa: F401  (lazy: starts Julia)
        except Exception as exc:  # ImportError, or juliacall failing to find/install Julia
            raise MissingBackendError(f"{_PYSR_HINT} (import failed: {exc})") from exc
        opts = dict(
            niterations=40,
            binary_operators=["+", "-", "*", "/"],
            unary_operators=["sin", "cos"],
            random_state=self.random_state,
            deterministic=True,
            parallelism="serial",
            progress=False,
            verbosity=0,
        )
        opts.update(self.options or {})
        internal = [f"X{i}" for i in range(X.shape[1])]
        reg = pysr.PySRRegressor(**opts)
        reg.fit(X, y, variable_names=internal)
        self.symbols_ = [sympy.Symbol(n) for n in names]
        sub = {sympy.Symbol(a): s for a, s in zip(internal, self.symbols_)}
        self.expression_ = sympy.sympify(reg.sympy()).xreplace(sub)
        self.complexity_ = complexity(self.expression_)
        self.info_ = {"equations": str(getattr(reg, "equations_", ""))}
        return self


BACKENDS = {"sindy": SindyRegressor, "operon": OperonRegressor, "pysr": PySRRegressor}


def make_backend(backend: str | SymbolicBackend, random_state: int = 0) -> SymbolicBackend:
    """A backend instance from a name ("sindy", "operon", "pysr") or an instance (cloned)."""
    if isinstance(backend, SymbolicBackend):
        return backend.clone()
    if isinstance(backend, str) and backend in BACKENDS:
        return BACKENDS[backend](random_state=random_state)
    raise ValueError(
        f"backend: expected 'auto', one of {sorted(BACKENDS)} or a SymbolicBackend instance, got {backend!r}"
    )
