"""Export of symbolic expressions: LaTeX strings and ``torch.nn.Module`` with trainable constants."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy
import torch
from torch import nn

from .postprocess import _parametrize

__all__ = ["to_latex", "SymbolicModule"]


def to_latex(expr: sympy.Expr, *, digits: int = 4, lhs: str | None = None) -> str:
    """LaTeX of ``expr`` with floats rounded to ``digits`` significant digits.

    Example:
        >>> x, y = sympy.symbols("x y")
        >>> to_latex(0.912345 * x * y, lhs="F")
        'F = 0.9123 x y'
    """
    rounded = expr.xreplace({f: sympy.Float(float(f), digits) for f in expr.atoms(sympy.Float)})
    body = sympy.latex(rounded)
    return f"{lhs} = {body}" if lhs else body


_UNARY: dict[type, Callable[[torch.Tensor], torch.Tensor]] = {
    sympy.sin: torch.sin,
    sympy.cos: torch.cos,
    sympy.tan: torch.tan,
    sympy.exp: torch.exp,
    sympy.log: torch.log,
    sympy.tanh: torch.tanh,
    sympy.sinh: torch.sinh,
    sympy.cosh: torch.cosh,
    sympy.asin: torch.asin,
    sympy.acos: torch.acos,
    sympy.atan: torch.atan,
    sympy.Abs: torch.abs,
    sympy.sign: torch.sign,
}


def _compile(expr: sympy.Expr, env_index: dict[sympy.Symbol, int], params: dict[sympy.Symbol, int]):
    """Compile a sympy tree to a closure ``f(x, consts) -> tensor`` (x: (B, d), consts: (m,))."""
    if isinstance(expr, sympy.Symbol):
        if expr in params:
            j = params[expr]
            return lambda x, c: c[j]
        if expr in env_index:
            i = env_index[expr]
            return lambda x, c: x[:, i]
        raise ValueError(f"expression: symbol {expr} is neither a feature nor a constant")
    if expr.is_Number or expr in (sympy.pi, sympy.E) or expr.is_NumberSymbol:
        v = float(expr)
        return lambda x, c: torch.tensor(v, dtype=x.dtype, device=x.device)
    args = [_compile(a, env_index, params) for a in expr.args]
    if isinstance(expr, sympy.Add):
        def f_add(x, c):
            out = args[0](x, c)
            for g in args[1:]:
                out = out + g(x, c)
            return out
        return f_add
    if isinstance(expr, sympy.Mul):
        def f_mul(x, c):
            out = args[0](x, c)
            for g in args[1:]:
                out = out * g(x, c)
            return out
        return f_mul
    if isinstance(expr, sympy.Pow):
        base, ex = args
        e = expr.args[1]
        if e.is_Integer:
            k = int(e)
            return lambda x, c: torch.pow(base(x, c), k)
        if e == sympy.Rational(1, 2):
            return lambda x, c: torch.sqrt(base(x, c))
        return lambda x, c: torch.pow(base(x, c), ex(x, c))
    for fn_type, op in _UNARY.items():
        if isinstance(expr, fn_type):
            a0 = args[0]
            return lambda x, c, op=op: op(a0(x, c))
    raise ValueError(
        f"expression: cannot export {type(expr).__name__} ({expr}) to torch; "
        f"supported: +, *, **, {', '.join(t.__name__ for t in _UNARY)}"
    )


class SymbolicModule(nn.Module):
    """A ``torch.nn.Module`` evaluating sympy expressions with their floats as trainable constants.

    Args:
        expressions: one sympy expression (output (B,)) or a sequence of k (output (B, k)).
        feature_names: names of the d input columns, in order; every free symbol of the
            expressions must be one of them.
        trainable: whether the constants are ``nn.Parameter`` (default) or a fixed buffer.
        dtype: dtype of the constants (default float64).

    Shapes: ``forward(x)`` takes x of shape (B, d) and returns (B,) or (B, k).

    Example:
        >>> x, y = sympy.symbols("x y")
        >>> m = SymbolicModule(0.9 * x * y, ["x", "y"])
        >>> m(torch.tensor([[1.0, 2.0]], dtype=torch.float64))
        tensor([1.8000], dtype=torch.float64, grad_fn=<MulBackward0>)
        >>> m.to_sympy()
        0.9*x*y
    """

    def __init__(
        self,
        expressions: sympy.Expr | Sequence[sympy.Expr],
        feature_names: Sequence[str],
        *,
        trainable: bool = True,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.single = isinstance(expressions, sympy.Basic)
        exprs = [expressions] if self.single else list(expressions)
        if not exprs:
            raise ValueError("expressions: expected at least one sympy expression, got none")
        self.feature_names = [str(n) for n in feature_names]
        env_index = {sympy.Symbol(n): i for i, n in enumerate(self.feature_names)}
        pexprs, csyms, values = [], [], []
        for k, e in enumerate(exprs):
            e = sympy.sympify(e)
            extra = {s for s in e.free_symbols if s not in env_index}
            if extra:
                raise ValueError(
                    f"feature_names: expected names covering the symbols {sorted(map(str, e.free_symbols))}, "
                    f"got {self.feature_names} (missing {sorted(map(str, extra))})"
                )
            pe, cs, vs = _parametrize(e, prefix=f"_c{k}_")
            pexprs.append(pe)
            csyms += cs
            values += vs
        self._pexprs = pexprs
        self._csyms = csyms
        consts = torch.tensor(values, dtype=dtype)
        if trainable:
            self.constants = nn.Parameter(consts)
        else:
            self.register_buffer("constants", consts)
        self._build()

    def _build(self) -> None:
        env_index = {sympy.Symbol(n): i for i, n in enumerate(self.feature_names)}
        params = {s: j for j, s in enumerate(self._csyms)}
        self._fns = [_compile(pe, env_index, params) for pe in self._pexprs]

    def __getstate__(self):  # closures are rebuilt on unpickling, so torch.save works
        state = self.__dict__.copy()
        state.pop("_fns", None)
        return state

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(
                f"x: expected shape (B, {len(self.feature_names)}) for features {self.feature_names}, "
                f"got {tuple(x.shape)}"
            )
        c = self.constants.to(dtype=x.dtype)
        outs = [torch.broadcast_to(f(x, c), (x.shape[0],)) for f in self._fns]
        return outs[0] if self.single else torch.stack(outs, dim=1)

    def to_sympy(self) -> sympy.Expr | list[sympy.Expr]:
        """The expressions with the current (possibly fine-tuned) constant values."""
        vals = self.constants.detach().cpu().tolist()
        repl = {s: sympy.Float(v, 15) for s, v in zip(self._csyms, vals)}
        exprs = [pe.xreplace(repl) for pe in self._pexprs]
        return exprs[0] if self.single else exprs

    def extra_repr(self) -> str:
        return f"features={self.feature_names}, expressions={self.to_sympy()}"
