"""``extract``: closed-form equations from a trained network or any callable."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy
import torch
from torch import nn

from .backends import (
    MissingBackendError,
    OperonRegressor,
    SindyRegressor,
    SymbolicBackend,
    _nrmse,
    make_backend,
)
from .export import SymbolicModule, to_latex
from .postprocess import (
    complexity,
    drop_small_terms,
    evaluate,
    refit_constants,
    simplify_expression,
    snap_constants,
)

__all__ = [
    "Equation",
    "Extraction",
    "extract",
    "parse_ranges",
    "save_for_extraction",
    "load_for_extraction",
]

Ranges = Mapping[str, Sequence[float]]
Inputs = "torch.Tensor | np.ndarray | Ranges"


@dataclass
class Equation:
    """One discovered closed form.

    Attributes:
        name: the output's name (``output_names`` or ``f0``, ``f1``, ...).
        expression: the sympy expression in the feature symbols.
        error: normalised RMSE on held-out samples: RMSE / RMS(target) (0 is perfect).
        rmse: RMSE on held-out samples.
        complexity: number of nodes of the expression tree.
        backend: the backend that produced it.
        feature_names: the input names, in column order.
    """

    name: str
    expression: sympy.Expr
    error: float
    rmse: float
    complexity: int
    backend: str
    feature_names: list[str]
    info: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(n) for n in self.feature_names]

    def latex(self, digits: int = 4) -> str:
        """``name = expression`` in LaTeX, floats rounded to ``digits`` significant digits."""
        return to_latex(self.expression, digits=digits, lhs=sympy.latex(sympy.Symbol(self.name)))

    def to_torch(self, *, trainable: bool = True, dtype: torch.dtype = torch.float64) -> SymbolicModule:
        """A module mapping (B, d) -> (B,) with the expression's constants as parameters."""
        return SymbolicModule(self.expression, self.feature_names, trainable=trainable, dtype=dtype)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Evaluate with numpy on X (N, d) -> (N,)."""
        return evaluate(self.expression, self.symbols, X)

    def __str__(self) -> str:
        e = self.expression
        return f"{self.name} = {e.xreplace({f: sympy.Float(float(f), 6) for f in e.atoms(sympy.Float)})}"


@dataclass
class Extraction:
    """The equations of all outputs, in output order; iterable and indexable by position or name."""

    equations: list[Equation]
    feature_names: list[str]
    time_s: float = 0.0

    def __iter__(self) -> Iterator[Equation]:
        return iter(self.equations)

    def __len__(self) -> int:
        return len(self.equations)

    def __getitem__(self, key: int | str) -> Equation:
        if isinstance(key, str):
            for eq in self.equations:
                if eq.name == key:
                    return eq
            raise KeyError(f"key: expected one of {[e.name for e in self.equations]}, got {key!r}")
        return self.equations[key]

    def to_sympy(self) -> list[sympy.Expr]:
        return [e.expression for e in self.equations]

    def to_latex(self, digits: int = 4) -> list[str]:
        return [e.latex(digits) for e in self.equations]

    def to_torch(self, *, trainable: bool = True, dtype: torch.dtype = torch.float64) -> SymbolicModule:
        """One module mapping (B, d) -> (B, k) for the k outputs."""
        return SymbolicModule(self.to_sympy(), self.feature_names, trainable=trainable, dtype=dtype)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "feature_names": self.feature_names,
            "time_s": self.time_s,
            "equations": [
                {
                    "name": e.name,
                    "expression": str(e.expression),
                    "latex": e.latex(),
                    "error": e.error,
                    "rmse": e.rmse,
                    "complexity": e.complexity,
                    "backend": e.backend,
                }
                for e in self.equations
            ],
        }

    def __str__(self) -> str:
        return "\n".join(
            f"{e}    (held-out error {e.error:.2e}, complexity {e.complexity}, {e.backend})"
            for e in self.equations
        )


def parse_ranges(text: str) -> dict[str, tuple[float, float]]:
    """Parse ``"x=0:5,y=-1:1"`` into ``{"x": (0.0, 5.0), "y": (-1.0, 1.0)}``.

    Example:
        >>> parse_ranges("x=0:5, y=-1:1.5")
        {'x': (0.0, 5.0), 'y': (-1.0, 1.5)}
    """
    out: dict[str, tuple[float, float]] = {}
    for part in [p.strip() for p in str(text).split(",") if p.strip()]:
        if "=" not in part or ":" not in part.split("=", 1)[1]:
            raise ValueError(f"inputs: expected entries like 'x=0:5' separated by commas, got {part!r}")
        name, rng = (s.strip() for s in part.split("=", 1))
        lo_s, hi_s = rng.split(":", 1)
        try:
            lo, hi = float(lo_s), float(hi_s)
        except ValueError:
            raise ValueError(f"inputs: expected numbers in {part!r}, got {rng!r}") from None
        if not name.isidentifier():
            raise ValueError(f"inputs: expected a name like 'x' or 'u_x' before '=', got {name!r}")
        if name in out:
            raise ValueError(f"inputs: name {name!r} appears twice in {text!r}")
        out[name] = (lo, hi)
    if not out:
        raise ValueError(f"inputs: expected at least one range like 'x=0:5', got {text!r}")
    return out


def _model_dtype_device(model: Any) -> tuple[torch.dtype, torch.device]:
    if isinstance(model, nn.Module):
        for p in list(model.parameters()) + list(model.buffers()):
            if p.is_floating_point():
                return p.dtype, p.device
    return torch.float64, torch.device("cpu")


def _samples(
    inputs: Inputs,
    feature_names: Sequence[str] | None,
    n_samples: int,
    generator: torch.Generator,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, list[str]]:
    if isinstance(inputs, Mapping):
        if not inputs:
            raise ValueError("inputs: expected at least one range, got an empty dict")
        names = [str(k) for k in inputs]
        if feature_names is not None and list(map(str, feature_names)) != names:
            raise ValueError(
                f"feature_names: expected the names of the ranges in inputs, in order, {names}, "
                f"got {list(feature_names)}"
            )
        lows, highs = [], []
        for k, v in inputs.items():
            try:
                lo, hi = (float(a) for a in v)
            except (TypeError, ValueError):
                raise ValueError(f"inputs[{k!r}]: expected a (lo, hi) pair of numbers, got {v!r}") from None
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
                raise ValueError(f"inputs[{k!r}]: expected finite lo < hi, got ({lo}, {hi})")
            lows.append(lo)
            highs.append(hi)
        if not isinstance(n_samples, int) or n_samples < 10:
            raise ValueError(f"n_samples: expected an int >= 10, got {n_samples!r}")
        u = torch.rand(n_samples, len(names), generator=generator, dtype=torch.float64)
        lo_t = torch.tensor(lows, dtype=torch.float64)
        hi_t = torch.tensor(highs, dtype=torch.float64)
        return (lo_t + (hi_t - lo_t) * u).to(dtype=dtype, device=device), names
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(inputs)
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(
            f"inputs: expected a tensor of points (N, d) or a dict of ranges, got {type(inputs).__name__}"
        )
    X = inputs.detach()
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] < 10:
        raise ValueError(f"inputs: expected a tensor of shape (N, d) with N >= 10, got {tuple(inputs.shape)}")
    if not torch.isfinite(X).all():
        raise ValueError("inputs: expected finite values, got NaN or inf")
    d = X.shape[1]
    if feature_names is None:
        names = [f"x{i}" for i in range(d)]
    else:
        names = [str(n) for n in feature_names]
        if len(names) != d or len(set(names)) != d:
            raise ValueError(
                f"feature_names: expected {d} distinct names (one per column of inputs), got {names}"
            )
    return X.to(dtype=dtype, device=device), names


def _evaluate_model(model: Callable, X: torch.Tensor, batch_size: int) -> np.ndarray:
    outs = []
    for i in range(0, X.shape[0], batch_size):
        xb = X[i : i + batch_size]
        out = model(xb)
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(np.asarray(out))
        out = out.detach()
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2 or out.shape[0] != xb.shape[0]:
            raise ValueError(
                f"model_or_callable: expected an output of shape (B,) or (B, k) for input (B, d) = "
                f"{tuple(xb.shape)}, got {tuple(out.shape)}"
            )
        outs.append(out.to(dtype=torch.float64, device="cpu"))
    Y = torch.cat(outs).numpy()
    bad = ~np.isfinite(Y)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"model_or_callable: expected finite outputs, got NaN or inf at {len(rows)} of {len(Y)} "
            f"sampled points (first input: {X[rows[0]].tolist()})"
        )
    return Y


def _postprocess(
    expr: sympy.Expr,
    symbols: list[sympy.Symbol],
    X: np.ndarray,
    y: np.ndarray,
    *,
    coef_tol: float,
    refit: bool,
    simplify: bool,
) -> sympy.Expr:
    if simplify:
        expr = simplify_expression(expr)
    expr = snap_constants(expr)
    if coef_tol > 0:
        expr = drop_small_terms(expr, symbols, X, tol=coef_tol, y=y)
    if refit:
        expr = refit_constants(expr, symbols, X, y)
        expr = snap_constants(expr)
    if simplify:
        expr = simplify_expression(expr)
    return expr


def _fit_one(
    backend: SymbolicBackend,
    name: str,
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    X_te: np.ndarray,
    y_te: np.ndarray,
    names: list[str],
    *,
    coef_tol: float,
    refit: bool,
    simplify: bool,
) -> Equation:
    backend.fit(X_tr, y_tr, feature_names=names)
    symbols = [sympy.Symbol(n) for n in names]
    expr = _postprocess(
        backend.expression_, symbols, X_tr, y_tr, coef_tol=coef_tol, refit=refit, simplify=simplify
    )
    pred = evaluate(expr, symbols, X_te)
    rmse = float(np.sqrt(np.mean((pred - y_te) ** 2)))
    return Equation(
        name=name,
        expression=expr,
        error=_nrmse(pred, y_te),
        rmse=rmse if np.isfinite(rmse) else float("inf"),
        complexity=complexity(expr),
        backend=type(backend).__name__.replace("Regressor", "").lower(),
        feature_names=list(names),
        info=getattr(backend, "info_", {}),
    )


def extract(
    model_or_callable: Callable[[torch.Tensor], torch.Tensor],
    inputs: Inputs,
    *,
    backend: str | SymbolicBackend = "auto",
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    n_samples: int = 2000,
    holdout: float = 0.2,
    coef_tol: float = 1e-2,
    refit: bool = True,
    simplify: bool = True,
    auto_tol: float = 1e-3,
    seed: int = 0,
    batch_size: int = 8192,
) -> Extraction:
    """Closed-form expressions of a trained network (or any callable) by symbolic regression.

    The callable is evaluated on ``inputs`` (a tensor of points, or a dict of ranges sampled
    uniformly), a share ``holdout`` of the points is kept aside, a symbolic-regression backend fits
    each output on the rest, the result is post-processed (sympy simplification, floats within 1e-4
    of an integer snapped, additive terms whose RMS is below ``coef_tol`` x RMS(target) dropped,
    constants refit by least squares) and scored on the held-out points.

    Args:
        model_or_callable: maps x of shape (B, d) to (B,) or (B, k); an ``nn.Module`` is called
            in its own dtype and device (evaluated in eval mode, batches of ``batch_size``).
        inputs: a tensor (N, d) of points, or ``{"x": (lo, hi), ...}`` (sampled ``n_samples``
            times; ``parse_ranges`` turns "x=0:5,y=0:5" into this).
        backend: "sindy", "operon", "pysr", a configured backend instance (e.g.
            ``SindyRegressor(degree=2, n_frequencies=1)``), or "auto": sindy first; when its
            held-out error exceeds ``auto_tol``, operon too, and the better of the two (the simpler
            one unless the other's error is clearly lower) is kept.
        feature_names: names of the d inputs (default: the dict's keys, or x0, x1, ...).
        output_names: names of the k outputs (default f0, f1, ...).
        n_samples: number of samples drawn from ranges. Default 2000.
        holdout: share of samples held out for scoring. Default 0.2.
        coef_tol: relative size below which an additive term is dropped (0 keeps all).
        refit: refit constants by least squares. Default True.
        simplify: simplify with sympy. Default True.
        auto_tol: held-out error above which "auto" also tries operon. Default 1e-3.
        seed: seed for the sampling and the split (and backends created from a name).
        batch_size: evaluation batch size.

    Returns:
        An :class:`Extraction` with one :class:`Equation` per output (expression, held-out error,
        complexity), and ``to_sympy()``, ``to_latex()``, ``to_torch()``.

    Raises:
        ValueError: a range with lo >= hi, feature names that do not match the inputs, NaN or inf
            from the network, a malformed option.
        MissingBackendError: backend "pysr" without PySR or Julia.

    Example:
        >>> eqs = extract(lambda X: 0.9 * X[:, 0] * X[:, 1], {"x": (0, 5), "y": (0, 5)}, backend="sindy")
        >>> eqs[0].expression
        0.9*x*y
    """
    if not callable(model_or_callable):
        raise TypeError(
            f"model_or_callable: expected a torch module or a callable, got {type(model_or_callable).__name__}"
        )
    if not 0.0 < holdout < 0.9:
        raise ValueError(f"holdout: expected a float in (0, 0.9), got {holdout!r}")
    if coef_tol < 0:
        raise ValueError(f"coef_tol: expected a non-negative float, got {coef_tol!r}")
    if not (backend == "auto" or isinstance(backend, SymbolicBackend)):
        make_backend(backend)  # validates the name early
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(int(seed))
    dtype, device = _model_dtype_device(model_or_callable)
    X, names = _samples(inputs, feature_names, n_samples, gen, dtype, device)
    was_training = getattr(model_or_callable, "training", None)
    if isinstance(model_or_callable, nn.Module):
        model_or_callable.eval()
    try:
        Y = _evaluate_model(model_or_callable, X, batch_size)
    finally:
        if was_training:
            model_or_callable.train()
    k = Y.shape[1]
    if output_names is None:
        outs = [f"f{i}" for i in range(k)]
    else:
        outs = [str(n) for n in output_names]
        if len(outs) != k:
            raise ValueError(f"output_names: expected {k} names (one per model output), got {outs}")
    Xn = X.detach().to(dtype=torch.float64, device="cpu").numpy()
    perm = np.random.default_rng(seed).permutation(len(Xn))
    n_te = max(1, int(round(holdout * len(Xn))))
    te, tr = perm[:n_te], perm[n_te:]

    opts = dict(coef_tol=coef_tol, refit=refit, simplify=simplify)
    equations = []
    for j in range(k):
        args = (Xn[tr], Y[tr, j], Xn[te], Y[te, j], names)
        if backend == "auto":
            eq = _fit_one(SindyRegressor(n_frequencies=1, random_state=seed), outs[j], *args, **opts)
            if eq.error > auto_tol:
                try:
                    eq2 = _fit_one(OperonRegressor(random_state=seed), outs[j], *args, **opts)
                except MissingBackendError:
                    eq2 = None
                if eq2 is not None and eq2.error < 0.8 * eq.error - 1e-3:
                    eq = eq2
        else:
            eq = _fit_one(make_backend(backend, random_state=seed), outs[j], *args, **opts)
        equations.append(eq)
    return Extraction(equations=equations, feature_names=names, time_s=time.perf_counter() - t0)


def save_for_extraction(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    feature_names: Sequence[str],
    output_names: Sequence[str] | None = None,
    inputs: Ranges | None = None,
) -> Path:
    """Save a checkpoint that ``neurode extract`` reads.

    Format: ``torch.save`` of a dict ``{"format": "neurode.extract/1", "model": <the module object>,
    "feature_names": [...], "output_names": [...] | None, "inputs": {name: (lo, hi)} | None}``.
    The module is pickled whole, so its class must be importable where it is loaded, and only
    load checkpoints you trust (unpickling runs code). ``inputs`` gives default ranges.
    """
    names = [str(n) for n in feature_names]
    if inputs is not None:
        if list(map(str, inputs)) != names:
            raise ValueError(f"inputs: expected ranges for {names}, got {list(inputs)}")
        inputs = {str(k): (float(v[0]), float(v[1])) for k, v in inputs.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": "neurode.extract/1",
            "model": model,
            "feature_names": names,
            "output_names": None if output_names is None else [str(n) for n in output_names],
            "inputs": inputs,
        },
        path,
    )
    return path


def load_for_extraction(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint for extraction: a dict as written by :func:`save_for_extraction`, or a
    bare ``torch.save``d module (feature names then come from the command line).

    Returns ``{"model", "feature_names", "output_names", "inputs"}`` (missing ones None).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint: expected an existing file, got {str(path)!r}")
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, nn.Module):
        return {"model": obj, "feature_names": None, "output_names": None, "inputs": None}
    if isinstance(obj, dict) and isinstance(obj.get("model"), nn.Module):
        return {
            "model": obj["model"],
            "feature_names": obj.get("feature_names"),
            "output_names": obj.get("output_names"),
            "inputs": obj.get("inputs"),
        }
    raise ValueError(
        f"checkpoint: expected a torch.save'd nn.Module or a dict with a 'model' module "
        f"(see pinn.symbolic.save_for_extraction), got {type(obj).__name__}"
        + (f" with keys {sorted(obj)}" if isinstance(obj, dict) else "")
    )
