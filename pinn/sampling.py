"""Domains, collocation points and periodic embeddings.

Domains are small frozen dataclasses: :class:`Interval`, :class:`Rectangle` (any dimension) and
:class:`SpaceTime` (a spatial domain times a time interval; time is the last column). Points are
batch-first tensors of shape ``(N, D)``.

Example:
    >>> import torch
    >>> dom = SpaceTime(Interval(0.0, 6.283185307179586, periodic=True), (0.0, 1.0))
    >>> g = torch.Generator().manual_seed(0)
    >>> sample(dom, 128, "sobol", generator=g).shape
    torch.Size([128, 2])
    >>> periodic_embedding(grid(dom, (4, 3)), dom).shape        # (cos x, sin x, t)
    torch.Size([12, 3])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "Interval",
    "Rectangle",
    "SpaceTime",
    "Domain",
    "sample",
    "grid",
    "grid_axes",
    "sample_initial",
    "sample_boundary",
    "periodic_embedding",
    "PeriodicEmbedding",
    "check_points",
]

Method = Literal["uniform", "sobol", "lhs", "grid"]
_METHODS = ("uniform", "sobol", "lhs", "grid")


@dataclass(frozen=True)
class Rectangle:
    """Axis-aligned box ``prod_i [lows[i], highs[i]]``; ``periodic[i]`` marks periodic axes."""

    lows: tuple[float, ...]
    highs: tuple[float, ...]
    periodic: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        lows = tuple(float(v) for v in self.lows)
        highs = tuple(float(v) for v in self.highs)
        if len(lows) == 0 or len(lows) != len(highs):
            raise ValueError(
                f"lows, highs: expected non-empty sequences of equal length, got {len(lows)} and {len(highs)}"
            )
        for i, (a, b) in enumerate(zip(lows, highs)):
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise ValueError(f"lows[{i}], highs[{i}]: expected finite low < high, got {a} and {b}")
        periodic = tuple(bool(p) for p in self.periodic) or (False,) * len(lows)
        if len(periodic) != len(lows):
            raise ValueError(f"periodic: expected {len(lows)} flags, got {len(periodic)}")
        object.__setattr__(self, "lows", lows)
        object.__setattr__(self, "highs", highs)
        object.__setattr__(self, "periodic", periodic)

    @property
    def dim(self) -> int:
        return len(self.lows)

    @property
    def lengths(self) -> tuple[float, ...]:
        return tuple(b - a for a, b in zip(self.lows, self.highs))


def Interval(low: float, high: float, periodic: bool = False) -> Rectangle:  # noqa: N802
    """The interval ``[low, high]`` as a one-dimensional :class:`Rectangle`."""
    return Rectangle((low,), (high,), (periodic,))


@dataclass(frozen=True)
class SpaceTime:
    """``space x [t_span[0], t_span[1]]``; points are ``(x_1, ..., x_d, t)`` (time last)."""

    space: Rectangle
    t_span: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if not isinstance(self.space, Rectangle):
            raise TypeError(f"space: expected an Interval/Rectangle, got {type(self.space).__name__}")
        t0, t1 = (float(v) for v in self.t_span)
        if not (math.isfinite(t0) and math.isfinite(t1) and t0 < t1):
            raise ValueError(f"t_span: expected finite (t0, t1) with t0 < t1, got {self.t_span!r}")
        object.__setattr__(self, "t_span", (t0, t1))

    @property
    def box(self) -> Rectangle:
        return Rectangle(
            self.space.lows + (self.t_span[0],),
            self.space.highs + (self.t_span[1],),
            self.space.periodic + (False,),
        )

    @property
    def dim(self) -> int:
        return self.space.dim + 1

    @property
    def lows(self) -> tuple[float, ...]:
        return self.box.lows

    @property
    def highs(self) -> tuple[float, ...]:
        return self.box.highs

    @property
    def periodic(self) -> tuple[bool, ...]:
        return self.box.periodic


Domain = Rectangle | SpaceTime


def _box(domain: Domain) -> Rectangle:
    if isinstance(domain, SpaceTime):
        return domain.box
    if isinstance(domain, Rectangle):
        return domain
    raise TypeError(f"domain: expected an Interval, Rectangle or SpaceTime, got {type(domain).__name__}")


def _np_seed(generator: torch.Generator | None) -> int:
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())


def _unit(n: int, d: int, method: str, generator: torch.Generator | None) -> Tensor:
    """``n`` points in the unit cube ``[0, 1]^d`` as a float64 CPU tensor."""
    if method == "uniform":
        return torch.rand(n, d, generator=generator, dtype=torch.float64)
    from scipy.stats import qmc

    rng = np.random.default_rng(_np_seed(generator))
    if method == "sobol":
        engine = qmc.Sobol(d, scramble=True, seed=rng)
        m = max(0, math.ceil(math.log2(max(n, 1))))
        pts = engine.random_base2(m)[:n]  # balanced power-of-two draw, truncated to n
    else:  # lhs
        pts = qmc.LatinHypercube(d, seed=rng).random(n)
    return torch.from_numpy(np.ascontiguousarray(pts))


def grid_axes(
    domain: Domain, shape: Sequence[int], *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> list[Tensor]:
    """1-D coordinate axes of a tensor grid: ``shape[i]`` points per axis, including both ends
    except the upper end of periodic axes (which duplicates the lower one)."""
    box = _box(domain)
    shape = tuple(shape)
    if len(shape) != box.dim or any(not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"shape: expected {box.dim} positive ints (one per axis), got {shape!r}")
    axes = []
    for a, b, p, s in zip(box.lows, box.highs, box.periodic, shape):
        if p:
            ax = a + (b - a) * torch.arange(s, dtype=torch.float64) / s
        else:
            ax = torch.linspace(a, b, s, dtype=torch.float64)
        axes.append(ax.to(dtype=dtype, device=device))
    return axes


def grid(
    domain: Domain, shape: Sequence[int], *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> Tensor:
    """Tensor-product grid flattened to ``(prod(shape), D)``; the first axis varies slowest
    (``ij`` indexing), so ``grid(...).reshape(*shape, D)`` recovers the mesh."""
    axes = grid_axes(domain, shape, dtype=dtype, device=device)
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=1)


def sample(
    domain: Domain,
    n: int,
    method: Method = "uniform",
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """``n`` collocation points in ``domain``, shape ``(n, D)``.

    Args:
        domain: an :func:`Interval`, :class:`Rectangle` or :class:`SpaceTime`.
        n: number of points (for ``"grid"``, the nearest tensor grid with about ``n`` points is
            used, equal points per axis, so the count may differ).
        method: ``"uniform"`` (i.i.d.), ``"sobol"`` (scrambled Sobol, scipy.stats.qmc),
            ``"lhs"`` (Latin hypercube) or ``"grid"``.
        generator: CPU ``torch.Generator`` that drives every method (explicit randomness); the
            scipy engines are seeded from it.
        dtype, device: of the returned tensor.
    """
    box = _box(domain)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    if method == "grid":
        per_axis = max(1, round(n ** (1.0 / box.dim)))
        return grid(domain, (per_axis,) * box.dim, dtype=dtype, device=device)
    u = _unit(n, box.dim, method, generator)
    lows = torch.tensor(box.lows, dtype=torch.float64)
    lengths = torch.tensor(box.lengths, dtype=torch.float64)
    return (lows + u * lengths).to(dtype=dtype, device=device)


def sample_initial(
    domain: SpaceTime,
    n: int,
    method: Method = "uniform",
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """``n`` points on the initial slice ``t = t_span[0]`` of a :class:`SpaceTime`, shape ``(n, d + 1)``."""
    if not isinstance(domain, SpaceTime):
        raise TypeError(f"domain: expected a SpaceTime, got {type(domain).__name__}")
    x = sample(domain.space, n, method, generator=generator, dtype=dtype, device=device)
    t = torch.full((x.shape[0], 1), domain.t_span[0], dtype=dtype, device=device)
    return torch.cat([x, t], dim=1)


def sample_boundary(
    domain: SpaceTime,
    n: int,
    method: Method = "uniform",
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Paired points on the lower and upper spatial faces of a 1-D-in-space :class:`SpaceTime`.

    Returns:
        ``(low, high)``, each ``(n, 2)``: ``(x_low, t)`` and ``(x_high, t)`` at the same times, so
        periodic conditions compare rows and Dirichlet conditions use either.
    """
    if not isinstance(domain, SpaceTime) or domain.space.dim != 1:
        raise TypeError(f"domain: expected a SpaceTime over an Interval, got {domain!r}")
    t = sample(Interval(*domain.t_span), n, method, generator=generator, dtype=dtype, device=device)
    lo = torch.full_like(t, domain.space.lows[0])
    hi = torch.full_like(t, domain.space.highs[0])
    return torch.cat([lo, t], 1), torch.cat([hi, t], 1)


def check_points(x: object, dim: int, name: str = "x") -> Tensor:
    """Validate collocation points: a floating tensor of shape ``(N, dim)`` without NaN/inf."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (N, {dim}), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name}: expected shape (N, {dim}), got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(1).sum())
        raise ValueError(f"{name}: expected finite values, got NaN or inf in {bad} of {x.shape[0]} rows")
    return x


def _embedding_dims(domain: Domain, dims: Sequence[int] | None) -> tuple[Rectangle, tuple[int, ...]]:
    box = _box(domain)
    if dims is None:
        dims = tuple(i for i, p in enumerate(box.periodic) if p)
        if not dims:
            raise ValueError(f"domain: expected at least one periodic axis for a periodic embedding, got periodic={box.periodic}")
    dims = tuple(dims)
    for d in dims:
        if not isinstance(d, int) or not 0 <= d < box.dim:
            raise ValueError(f"dims: expected axis indices in [0, {box.dim}), got {dims!r}")
        if not box.periodic[d]:
            raise ValueError(
                f"dims: expected periodic axes only, got axis {d} which is not periodic "
                f"(domain periodic flags {box.periodic})"
            )
    return box, dims


def periodic_embedding(
    x: Tensor, domain: Domain, dims: Sequence[int] | None = None, harmonics: int = 1
) -> Tensor:
    """Replace each periodic coordinate by ``cos(k w x), sin(k w x)`` for ``k = 1..harmonics``.

    ``w = 2 pi / L`` with ``L`` the period. Non-periodic columns pass through unchanged.

    Args:
        x: points ``(N, D)``.
        domain: the domain of ``x``; the embedded axes must be periodic.
        dims: axes to embed (default: every periodic axis).
        harmonics: number of Fourier harmonics per axis (default 1).

    Returns:
        ``(N, D + (2 * harmonics - 1) * len(dims))``: embedded axes first (in ``dims`` order),
        then the remaining columns in order.
    """
    box, dims = _embedding_dims(domain, dims)
    check_points(x, box.dim)
    if not isinstance(harmonics, int) or harmonics < 1:
        raise ValueError(f"harmonics: expected a positive int, got {harmonics!r}")
    return _embed(x, box, dims, harmonics)


def _embed(x: Tensor, box: Rectangle, dims: tuple[int, ...], harmonics: int) -> Tensor:
    """:func:`periodic_embedding` without validation (no host synchronisation)."""
    k = torch.arange(1, harmonics + 1, dtype=x.dtype, device=x.device)
    feats = []
    for d in dims:
        w = 2 * math.pi / box.lengths[d]
        arg = w * (x[:, d : d + 1] - box.lows[d]) * k
        feats += [torch.cos(arg), torch.sin(arg)]
    rest = [i for i in range(box.dim) if i not in dims]
    if rest:
        feats.append(x[:, rest])
    return torch.cat(feats, dim=1)


class PeriodicEmbedding(nn.Module):
    """Module form of :func:`periodic_embedding` (no parameters), for use in ``nn.Sequential``."""

    def __init__(self, domain: Domain, dims: Sequence[int] | None = None, harmonics: int = 1) -> None:
        super().__init__()
        box, dims = _embedding_dims(domain, dims)
        if not isinstance(harmonics, int) or harmonics < 1:
            raise ValueError(f"harmonics: expected a positive int, got {harmonics!r}")
        self.box = box
        self.domain = domain
        self.dims = dims
        self.harmonics = harmonics
        self.out_dim = box.dim + (2 * harmonics - 1) * len(dims)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, D) -> (N, out_dim)``; no validation (use inside training loops)."""
        return _embed(x, self.box, self.dims, self.harmonics)
