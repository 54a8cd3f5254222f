"""Batched derivatives of functions and networks with respect to their inputs.

Two families, both batch-first and loop-free over points:

* **Functional** (``torch.func``): pass a callable ``f`` that maps a batch ``x`` of shape
  ``(B, *S)`` to outputs of shape ``(B, *O)`` and whose samples do not interact (an MLP, any
  pointwise network). :func:`jacobian`, :func:`hessian`, :func:`derivative`, :func:`divergence`,
  :func:`laplacian`, :func:`hutchinson_divergence` and :func:`hutchinson_laplacian` vectorise a
  per-sample computation with ``torch.func.vmap``.
* **Tape-based** (``torch.autograd``): when the outputs ``y`` (shape ``(B,)`` or ``(B, 1)``) were
  already computed from ``x`` (shape ``(B, D)``, ``requires_grad=True``), :func:`gradient` and
  :func:`partial` differentiate them in place. Because samples are independent, the gradient of
  ``y.sum()`` is the per-sample gradient; ``create_graph=True`` keeps the result differentiable so
  that it can enter a loss (physics-informed training) or be differentiated again.

Example:
    >>> import torch
    >>> f = lambda x: (x[:, 0] ** 2 * x[:, 1])        # (B, 2) -> (B,)
    >>> x = torch.randn(5, 2, dtype=torch.float64)
    >>> derivative(f, x, (0, 1)).shape                 # d2 f / dx0 dx1 = 2 x0
    torch.Size([5])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = [
    "gradient",
    "partial",
    "jacobian",
    "hessian",
    "derivative",
    "divergence",
    "laplacian",
    "rademacher",
    "hutchinson_divergence",
    "hutchinson_laplacian",
]

Fn = Callable[[Tensor], Tensor]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _check_x(x: object, name: str = "x", min_dim: int = 2) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim < min_dim:
        raise ValueError(
            f"{name}: expected a batch-first tensor with at least {min_dim} dimensions "
            f"(B, D), got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def _single(f: Fn) -> Fn:
    """Per-sample view of a batched function: (*S) -> (*O)."""

    def g(xi: Tensor) -> Tensor:
        return f(xi.unsqueeze(0)).squeeze(0)

    return g


def _check_out(y: Tensor, x: Tensor, fname: str = "f") -> None:
    if not isinstance(y, Tensor):
        raise TypeError(f"{fname}: expected to return a torch.Tensor, got {type(y).__name__}")
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{fname}: expected an output with the batch dimension {x.shape[0]} first, "
            f"got shape {tuple(y.shape)}"
        )


# --------------------------------------------------------------------------------------------
# tape-based (torch.autograd) derivatives of already computed outputs
# --------------------------------------------------------------------------------------------
def gradient(y: Tensor, x: Tensor, *, create_graph: bool = True) -> Tensor:
    """Per-sample gradient of pointwise outputs ``y`` with respect to inputs ``x``.

    Args:
        y: outputs of shape ``(B,)`` or ``(B, 1)``, computed from ``x`` sample by sample.
        x: inputs of shape ``(B, D)`` with ``requires_grad=True``.
        create_graph: keep the graph so the result can be differentiated again (default True).

    Returns:
        ``(B, D)``: ``dy_b / dx_b``. If ``y`` does not depend on ``x`` the result is zeros.

    Example:
        >>> x = torch.randn(4, 2, requires_grad=True)
        >>> gradient((x ** 2).sum(1), x).shape
        torch.Size([4, 2])
    """
    _check_x(x)
    if not isinstance(y, Tensor):
        raise TypeError(f"y: expected a torch.Tensor, got {type(y).__name__}")
    if y.shape[0] != x.shape[0] or y.numel() != x.shape[0]:
        raise ValueError(
            f"y: expected shape ({x.shape[0]},) or ({x.shape[0]}, 1) (one scalar per sample of x), "
            f"got {tuple(y.shape)}"
        )
    if not x.requires_grad:
        raise ValueError("x: expected a tensor with requires_grad=True, got requires_grad=False")
    (g,) = torch.autograd.grad(
        y.sum(), x, create_graph=create_graph, retain_graph=True, allow_unused=True
    )
    if g is None:
        g = torch.zeros_like(x)
    return g


def partial(y: Tensor, x: Tensor, *dims: int, create_graph: bool = True) -> Tensor:
    """Mixed partial derivative ``d^k y / dx_{dims[0]} ... dx_{dims[k-1]}`` per sample.

    Args:
        y: outputs of shape ``(B,)`` or ``(B, 1)`` computed pointwise from ``x``.
        x: inputs of shape ``(B, D)`` with ``requires_grad=True``.
        *dims: input coordinates to differentiate along, in order; ``partial(u, xt, 0, 0)`` is
            ``u_xx`` when column 0 of ``xt`` is x.
        create_graph: keep the result differentiable (default True; needed inside losses).

    Returns:
        ``(B,)``.

    Example:
        >>> xt = torch.rand(8, 2, requires_grad=True)
        >>> u = torch.sin(xt[:, 0]) * xt[:, 1]
        >>> partial(u, xt, 0, 1).shape                  # u_xt = cos(x)
        torch.Size([8])
    """
    _check_x(x)
    if len(dims) == 0:
        raise ValueError("dims: expected at least one input coordinate, got none")
    for d in dims:
        if not isinstance(d, int) or not -x.shape[1] <= d < x.shape[1]:
            raise ValueError(
                f"dims: expected integers in [0, {x.shape[1]}) (columns of x), got {dims!r}"
            )
    out = y.reshape(-1) if isinstance(y, Tensor) else y
    for i, d in enumerate(dims):
        keep = create_graph or i < len(dims) - 1
        out = gradient(out, x, create_graph=keep)[:, d]
    return out


# --------------------------------------------------------------------------------------------
# functional (torch.func) derivatives of callables
# --------------------------------------------------------------------------------------------
def jacobian(f: Fn, x: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Per-sample Jacobian of a batched function.

    Args:
        f: maps ``(B, *S)`` to ``(B, *O)``; samples must not interact.
        x: inputs ``(B, *S)``.
        chunk_size: passed to ``torch.func.vmap`` to bound memory (default: all at once).

    Returns:
        ``(B, *O, *S)``: ``J[b, o, s] = d f(x)[b, o] / d x[b, s]``.

    Example:
        >>> jacobian(lambda x: x ** 2, torch.ones(3, 2)).shape
        torch.Size([3, 2, 2])
    """
    _check_x(x)
    _check_out(f(x[:1]), x[:1])
    return torch.func.vmap(torch.func.jacrev(_single(f)), chunk_size=chunk_size)(x)


def hessian(f: Fn, x: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Per-sample Hessian (forward-over-reverse) of a batched function.

    Args:
        f: maps ``(B, *S)`` to ``(B, *O)`` (``(B,)`` for a scalar field).
        x: inputs ``(B, *S)``.

    Returns:
        ``(B, *O, *S, *S)``.

    Example:
        >>> hessian(lambda x: (x ** 2).sum(1), torch.ones(3, 2)).shape
        torch.Size([3, 2, 2])
    """
    _check_x(x)
    _check_out(f(x[:1]), x[:1])
    h = torch.func.jacfwd(torch.func.jacrev(_single(f)))
    return torch.func.vmap(h, chunk_size=chunk_size)(x)


def derivative(f: Fn, x: Tensor, dims: Sequence[int], *, chunk_size: int | None = None) -> Tensor:
    """Mixed partial derivative of a scalar field: ``d^k f / dx_{dims[0]} ... dx_{dims[k-1]}``.

    Computed by nesting ``torch.func.grad`` ``k`` times on a per-sample function and vectorising
    with ``vmap``; no loop over points.

    Args:
        f: maps ``(B, D)`` to ``(B,)`` or ``(B, 1)``.
        x: inputs ``(B, D)``.
        dims: coordinates to differentiate along, e.g. ``(0, 0)`` for ``f_xx``, ``(0, 1)`` for ``f_xt``.

    Returns:
        ``(B,)``.

    Example:
        >>> x = torch.rand(6, 2, dtype=torch.float64)
        >>> d = derivative(lambda z: torch.sin(z[:, 0]) * z[:, 1] ** 2, x, (1, 1))   # 2 sin(x0)
        >>> torch.allclose(d, 2 * torch.sin(x[:, 0]))
        True
    """
    _check_x(x)
    if x.ndim != 2:
        raise ValueError(f"x: expected shape (B, D), got {tuple(x.shape)}")
    dims = tuple(dims)
    if len(dims) == 0 or any(not isinstance(d, int) or not 0 <= d < x.shape[1] for d in dims):
        raise ValueError(f"dims: expected a non-empty sequence of ints in [0, {x.shape[1]}), got {dims!r}")
    y0 = f(x[:1])
    _check_out(y0, x[:1])
    if y0.numel() != 1:
        raise ValueError(f"f: expected a scalar per sample, (B,) or (B, 1), got shape {tuple(y0.shape)}")

    def scalar(xi: Tensor) -> Tensor:
        return f(xi.unsqueeze(0)).reshape(())

    g: Callable[[Tensor], Tensor] = scalar
    for d in dims:
        g = _component_of_grad(g, d)
    return torch.func.vmap(g, chunk_size=chunk_size)(x)


def _component_of_grad(h: Callable[[Tensor], Tensor], d: int) -> Callable[[Tensor], Tensor]:
    grad_h = torch.func.grad(h)

    def g(xi: Tensor) -> Tensor:
        return grad_h(xi)[d]

    return g


def divergence(f: Fn, x: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Exact divergence ``sum_i d f_i / d x_i`` of a vector field, per sample.

    Args:
        f: maps ``(B, *S)`` to ``(B, *S)`` (same shape as its input).
        x: inputs ``(B, *S)``.

    Returns:
        ``(B,)``: the trace of the per-sample Jacobian (cost: D backward passes, vectorised).

    Example:
        >>> divergence(lambda x: 3 * x, torch.ones(4, 5))
        tensor([15., 15., 15., 15.])
    """
    _check_x(x)
    y0 = f(x[:1])
    _check_out(y0, x[:1])
    if y0.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"f: expected an output of the input's shape (B, {', '.join(map(str, x.shape[1:]))}), "
            f"got {tuple(y0.shape)}"
        )
    B = x.shape[0]
    D = x[0].numel()

    def flat(z: Tensor) -> Tensor:
        return f(z.reshape(z.shape[0], *x.shape[1:])).reshape(z.shape[0], -1)

    J = torch.func.vmap(torch.func.jacrev(_single(flat)), chunk_size=chunk_size)(x.reshape(B, D))
    return torch.diagonal(J, dim1=-2, dim2=-1).sum(-1)


def laplacian(f: Fn, x: Tensor, *, chunk_size: int | None = None) -> Tensor:
    """Exact Laplacian ``sum_i d^2 f / dx_i^2`` per sample.

    Args:
        f: maps ``(B, D)`` to ``(B,)`` (scalar field) or ``(B, M)`` (one Laplacian per component).
        x: inputs ``(B, D)``.

    Returns:
        ``(B,)`` for a scalar field, ``(B, M)`` for a vector field.

    Example:
        >>> laplacian(lambda x: (x ** 2).sum(1), torch.ones(3, 4))
        tensor([8., 8., 8.])
    """
    _check_x(x)
    if x.ndim != 2:
        raise ValueError(f"x: expected shape (B, D), got {tuple(x.shape)}")
    H = hessian(f, x, chunk_size=chunk_size)
    return torch.diagonal(H, dim1=-2, dim2=-1).sum(-1)


# --------------------------------------------------------------------------------------------
# stochastic trace estimators
# --------------------------------------------------------------------------------------------
def rademacher(
    shape: Sequence[int],
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Rademacher probes: entries +1 or -1 with equal probability.

    ``generator`` must live on ``device`` (as for every ``torch`` sampler).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> rademacher((2, 3), generator=g).abs().unique()
        tensor([1.])
    """
    bits = torch.randint(0, 2, tuple(shape), generator=generator, device=device)
    return (2 * bits - 1).to(dtype)


def hutchinson_divergence(
    f: Fn,
    x: Tensor,
    *,
    n_probes: int = 1,
    generator: torch.Generator | None = None,
    probes: Tensor | None = None,
) -> Tensor:
    """Hutchinson estimate ``E_v[v^T (df/dx) v]`` of the divergence, per sample.

    Unbiased; with Rademacher probes its variance is ``2 sum_{i != j} J_ij^2 / n_probes``.
    One vector-Jacobian product per probe; differentiable (usable inside a loss).

    Args:
        f: maps ``(B, *S)`` to ``(B, *S)``; samples must not interact.
        x: inputs ``(B, *S)``.
        n_probes: number of probes averaged (default 1).
        generator: source of randomness for the probes (explicit; default: torch's global one).
        probes: optional fixed probes of shape ``(n_probes, B, *S)``; overrides ``generator``.

    Returns:
        ``(B,)``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> hutchinson_divergence(lambda x: 2 * x, torch.randn(3, 4), generator=g)
        tensor([8., 8., 8.])
    """
    _check_x(x)
    if probes is None:
        if not isinstance(n_probes, int) or n_probes < 1:
            raise ValueError(f"n_probes: expected a positive int, got {n_probes!r}")
        probes = rademacher((n_probes, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
    elif probes.shape[1:] != x.shape:
        raise ValueError(
            f"probes: expected shape (n_probes, {', '.join(map(str, x.shape))}), got {tuple(probes.shape)}"
        )
    y, vjp_fn = torch.func.vjp(f, x)
    _check_out(y, x)
    if y.shape != x.shape:
        raise ValueError(f"f: expected an output of shape {tuple(x.shape)}, got {tuple(y.shape)}")
    vJ = torch.func.vmap(lambda v: vjp_fn(v)[0])(probes)  # (n, B, *S)
    return (vJ * probes).reshape(probes.shape[0], x.shape[0], -1).sum(-1).mean(0)


def hutchinson_laplacian(
    f: Fn,
    x: Tensor,
    *,
    n_probes: int = 1,
    generator: torch.Generator | None = None,
    probes: Tensor | None = None,
) -> Tensor:
    """Hutchinson estimate of the Laplacian of a scalar field: the divergence of its gradient.

    Args:
        f: maps ``(B, D)`` to ``(B,)`` or ``(B, 1)``.
        x: inputs ``(B, D)``.
        n_probes, generator, probes: as in :func:`hutchinson_divergence`.

    Returns:
        ``(B,)``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> hutchinson_laplacian(lambda x: (x ** 2).sum(1), torch.randn(3, 4), generator=g)
        tensor([8., 8., 8.])
    """
    _check_x(x)

    def scalar(xi: Tensor) -> Tensor:
        return f(xi.unsqueeze(0)).reshape(())

    grad_f = torch.func.vmap(torch.func.grad(scalar))
    return hutchinson_divergence(grad_f, x, n_probes=n_probes, generator=generator, probes=probes)
