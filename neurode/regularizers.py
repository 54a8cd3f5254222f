"""Solver-heuristic regularizers for neural ODEs, and the STEER and RNODE baselines.

Sources:
- Pal, Ma, Shah, Rackauckas, "Opening the Blackbox: Accelerating Neural Differential Equations by
  Regularizing Internal Solver Heuristics" (ICML 2021): *global* error and stiffness regularization,
  ``R_E = sum_j E_j |dt_j|`` and ``R_S = sum_j S_j |dt_j|`` over the accepted steps of the training
  solve, differentiated through the solver (``gradient="direct"``).
- Pal, Edelman, Rackauckas, "Locally Regularized Neural Differential Equations: Some Black Boxes Were
  Meant to Remain Closed!" (ICML 2023): *local* regularization, one fresh solver step from a
  detached state ``u(t_r)`` at a sampled time, so it works with any gradient method (including a
  black-box adjoint such as ``torchdiffeq.odeint_adjoint``).
- Ghosh, Behl, Dupont, Torr, Namboodiri, "STEER: Simple Temporal Regularization For Neural ODEs"
  (NeurIPS 2020): random end time ``T' ~ U(T - b, T + b)`` during training.
- Finlay, Jacobsen, Nurbekyan, Oberman, "How to train your neural ODE" (ICML 2020), RNODE: kinetic
  energy ``int ||f||^2 dt`` plus the Jacobian Frobenius norm ``int ||eps^T df/dy||^2 dt`` (Hutchinson,
  Rademacher probe ``eps``), integrated alongside the state.

Every regularizer is usable on its own with :func:`neurode.solve_ode` (the functions
:func:`global_error`, :func:`global_stiffness`, :func:`local_error`, :func:`local_stiffness`,
:func:`rnode_augment`, the samplers) and as a configuration object passed to
:class:`neurode.layers.NeuralODE` (``regularizers=(GlobalError(...), LocalError(...), ...)``), which
computes ``node.regularization = sum_i w_i(step) * R_i`` after each training forward pass.

Example (local regularization around a plain solve)::

    reg = LocalError(weight=1.0)
    t_r = sample_uniform_times(0.0, 1.0, B, generator=g)             # (B,)
    t_ev = torch.stack([torch.zeros(B), t_r, torch.ones(B)], dim=1)   # (B, 3) per-sample times
    sol = solve_ode(f, y0, t_ev, gradient="adjoint")
    loss = task(sol.ys[:, -1]) + reg(f, t_r, sol.ys[:, 1], method="tsit5", rtol=1e-6, atol=1e-8)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .solvers import ButcherTableau, Solution, StepRecord, get_tableau, initial_step, step_estimates

__all__ = [
    "ConstantWeight", "ExponentialAnnealing", "as_schedule",
    "Regularizer", "GlobalError", "GlobalStiffness", "LocalError", "LocalStiffness", "STEER", "RNODE",
    "global_error", "global_stiffness", "local_error", "local_stiffness",
    "sample_uniform_times", "sample_step_times", "rnode_augment", "StateRecorder", "heuristic_step",
]

VectorField = Callable[..., Tensor]
AGGREGATES = ("sum", "mean", "max")
SAMPLINGS = ("unbiased", "biased")


# ------------------------------------------------------------------------------ weight schedules
def _check_weight(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a non-negative float, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite non-negative weight, got {value!r}")
    return value


@dataclass(frozen=True)
class ConstantWeight:
    """The same weight at every training step: ``w(step) = value``.

    Example:
        >>> ConstantWeight(0.5)(10)
        0.5
    """

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _check_weight("weight", self.value))

    def __call__(self, step: int) -> float:
        return self.value


@dataclass(frozen=True)
class ExponentialAnnealing:
    """Exponential (geometric) annealing from ``w0`` at step 0 to ``w1`` at step ``n_steps``, then
    constant: ``w(step) = w0 * (w1 / w0) ** (min(step, n_steps) / n_steps)``.

    Pal et al. (2021) annealed the MNIST error weight from 100 to 10, (2023) from 2.5 to 1.0.

    Example:
        >>> s = ExponentialAnnealing(100.0, 10.0, n_steps=10)
        >>> round(s(0), 6), round(s(5), 6), round(s(10), 6), round(s(99), 6)
        (100.0, 31.622777, 10.0, 10.0)
    """

    w0: float
    w1: float
    n_steps: int

    def __post_init__(self) -> None:
        for name in ("w0", "w1"):
            v = _check_weight(name, getattr(self, name))
            if v == 0:
                raise ValueError(f"{name}: expected a positive weight for geometric annealing, got 0.0")
            object.__setattr__(self, name, v)
        if isinstance(self.n_steps, bool) or not isinstance(self.n_steps, int) or self.n_steps < 1:
            raise ValueError(f"n_steps: expected a positive int, got {self.n_steps!r}")

    def __call__(self, step: int) -> float:
        frac = min(max(int(step), 0), self.n_steps) / self.n_steps
        return self.w0 * (self.w1 / self.w0) ** frac


Schedule = Callable[[int], float]


def as_schedule(weight: float | Schedule) -> Schedule:
    """A float becomes :class:`ConstantWeight`; a schedule (callable ``step -> weight``) passes."""
    if isinstance(weight, (ConstantWeight, ExponentialAnnealing)):
        return weight
    if isinstance(weight, (int, float)) and not isinstance(weight, bool):
        return ConstantWeight(weight)
    if callable(weight):
        return weight
    raise TypeError(
        f"weight: expected a non-negative float or a schedule (ConstantWeight, ExponentialAnnealing, "
        f"or a callable step -> weight), got {type(weight).__name__}"
    )


def _weight_at(schedule: Schedule, step: int) -> float:
    w = schedule(step)
    if not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
        raise ValueError(f"weight: the schedule returned {w!r} at step {step}; expected a finite non-negative float")
    return float(w)


# ------------------------------------------------------------------------------ functional forms
def _masked_aggregate(q: Tensor, mask: Tensor, aggregate: str) -> Tensor:
    q = torch.where(mask, q, torch.zeros_like(q))
    if aggregate == "sum":
        return q.sum(dim=1)
    if aggregate == "mean":
        return q.sum(dim=1) / mask.sum(dim=1).clamp_min(1).to(q.dtype)
    return q.amax(dim=1)  # q >= 0, masked entries are 0


def _check_aggregate(aggregate: str) -> str:
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate: expected one of {AGGREGATES}, got {aggregate!r}")
    return aggregate


def _need_steps(solution: Solution, aggregate: str, what: str) -> StepRecord:
    if solution.steps is None:
        raise ValueError(
            f"solution: aggregate={aggregate!r} for the {what} needs the per-step record; "
            f"solve with record_steps=True (got a solution without steps)"
        )
    return solution.steps


def global_error(solution: Solution, aggregate: str = "sum") -> Tensor:
    """Global error regularizer (Pal et al. 2021) per sample, from a solve.

    Args:
        solution: a :class:`~neurode.Solution` from an adaptive method with ``gradient="direct"``
            (the estimates are differentiable only then).
        aggregate: ``"sum"`` (the paper: ``sum_j E_j |dt_j|``), ``"mean"`` (the authors' code:
            ``mean_j E_j |dt_j|`` over accepted steps) or ``"max"`` (``max_j E_j |dt_j|``); mean
            and max need ``record_steps=True``.

    Returns:
        (B,) regularization values.
    """
    _check_aggregate(aggregate)
    if solution.error_estimate is None:
        raise ValueError(f"solution: the error regularizer needs an adaptive method, got method {solution.method!r}")
    if aggregate == "sum":
        return solution.error_estimate
    st = _need_steps(solution, aggregate, "error regularizer")
    return _masked_aggregate(st.error_ratio * st.dt.abs(), st.mask, aggregate)


def global_stiffness(solution: Solution, aggregate: str = "sum") -> Tensor:
    """Global stiffness regularizer (Pal et al. 2021) per sample, from a solve.

    Args:
        solution: a :class:`~neurode.Solution` from a method with a stage pair for Shampine's
            estimate (dopri5, tsit5), ``gradient="direct"``.
        aggregate: ``"sum"`` (the paper: ``R_S = sum_j S_j |dt_j|``), ``"mean"``
            (``mean_j S_j |dt_j|``) or ``"max"`` (the authors' code: ``max_j S_j``, the stiffness
            indicator of the stiffest accepted step); mean and max need ``record_steps=True``.

    Returns:
        (B,) regularization values.
    """
    _check_aggregate(aggregate)
    if solution.stiffness_estimate is None:
        raise ValueError(
            f"solution: the stiffness regularizer needs a method with a stage pair for the stiffness "
            f"estimate (dopri5, tsit5), got method {solution.method!r}"
        )
    if aggregate == "sum":
        return solution.stiffness_estimate
    st = _need_steps(solution, aggregate, "stiffness regularizer")
    q = st.stiffness if aggregate == "max" else st.stiffness * st.dt.abs()
    return _masked_aggregate(q, st.mask, aggregate)


def heuristic_step(
    f: VectorField,
    t: Tensor,
    y: Tensor,
    *,
    method: str | ButcherTableau = "tsit5",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    direction: float = 1.0,
    args: Sequence[Tensor] = (),
) -> Tensor:
    """The Hairer-Norsett-Wanner initial step from (t (B,), y (B, *S)), without gradient: (B,)
    signed step sizes (two evaluations of f)."""
    tab = get_tableau(method)
    B = y.shape[0]
    with torch.no_grad():
        yf = y.detach().reshape(B, -1)
        S = tuple(y.shape[1:])

        def ff(tt: Tensor, yy: Tensor) -> Tensor:
            return f(tt, yy.view(yy.shape[0], *S), *args).reshape(yy.shape[0], -1)

        t = torch.as_tensor(t, dtype=y.dtype, device=y.device).expand(B)
        dirn = torch.full((B,), float(direction), dtype=y.dtype, device=y.device)
        rt = torch.as_tensor(rtol, dtype=y.dtype, device=y.device)
        at = torch.as_tensor(atol, dtype=y.dtype, device=y.device)
        return initial_step(ff, t, yf, ff(t, yf), dirn, tab.order, rt, at)


def _local_step(f, t, y, method, rtol, atol, direction, args, dt):
    y = y.detach()
    if dt is None:
        dt = heuristic_step(f, t, y, method=method, rtol=rtol, atol=atol, direction=direction, args=args)
    return step_estimates(f, t, y, method=method, rtol=rtol, atol=atol, dt=dt.detach(), direction=direction, args=args)


def local_error(
    f: VectorField,
    t: Tensor,
    y: Tensor,
    *,
    method: str | ButcherTableau = "tsit5",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    direction: float = 1.0,
    args: Sequence[Tensor] = (),
    dt: Tensor | None = None,
) -> Tensor:
    """Local error regularizer (Pal et al. 2023): ``E * |dt|`` of ONE fresh step from ``y`` at ``t``.

    ``y`` is detached here, so the gradient reaches only the parameters of ``f`` (never the solve
    that produced ``y``). The step size is the Hairer initial-step heuristic's, held constant for
    the gradient (:func:`heuristic_step`): differentiating through it would let the optimiser shrink
    ``E |dt|`` by shrinking ``dt`` (larger ``||f||``), which makes the dynamics harder to solve, the
    opposite of the aim. It does not matter which solver (or gradient method) produced ``y``.
    Cost: 2 evaluations without gradient plus ``stages - 1`` with (9 in all for tsit5).

    Args:
        f: ``f(t (B,), y (B, *S), *args) -> (B, *S)``.
        t: (B,) sampled times ``t_r``.
        y: (B, *S) states ``u(t_r)``.
        method, rtol, atol: adaptive method and tolerances of the step (those of the main solve).
        direction: +1 for a forward solve, -1 backward.
        args: per-sample tensors passed to f.
        dt: (B,) step sizes to use instead of the heuristic's (treated as constants).

    Returns:
        (B,) values ``E_r |dt_r|``.
    """
    est = _local_step(f, t, y, method, rtol, atol, direction, args, dt)
    return est.error_ratio * est.dt.abs()


def local_stiffness(
    f: VectorField,
    t: Tensor,
    y: Tensor,
    *,
    method: str | ButcherTableau = "tsit5",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    direction: float = 1.0,
    args: Sequence[Tensor] = (),
    dt: Tensor | None = None,
) -> Tensor:
    """Local stiffness regularizer (Pal et al. 2023): the stiffness indicator ``S = |dt| lambda /
    stability_size`` of ONE fresh step from detached ``y`` at ``t`` (see :func:`local_error`).

    Returns:
        (B,) values ``S_r``.
    """
    tab = get_tableau(method)
    if tab.stiffness_pair is None:
        raise ValueError(
            f"method: the stiffness estimate needs a method with two stages at the same node "
            f"(dopri5, tsit5), got {tab.name!r}"
        )
    return _local_step(f, t, y, method, rtol, atol, direction, args, dt).stiffness


def _generator_device(generator: torch.Generator | None) -> torch.device:
    return torch.device("cpu") if generator is None else generator.device


def sample_uniform_times(
    t0: float | Tensor,
    t1: float | Tensor,
    batch: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Unbiased sampling (Pal et al. 2023): ``t_r ~ U(t0, t1)`` per sample, strictly inside.

    Args:
        t0, t1: floats or (B,) tensors, the interval of each sample.
        batch: B.
        generator: random source (default: torch's global one).

    Returns:
        (B,) times.
    """
    u = torch.rand(batch, generator=generator, dtype=torch.float64, device=_generator_device(generator))
    u = u.to(device=device).clamp(1e-6, 1 - 1e-6)
    t0 = torch.as_tensor(t0, dtype=torch.float64, device=u.device)
    t1 = torch.as_tensor(t1, dtype=torch.float64, device=u.device)
    return (t0 + u * (t1 - t0)).to(dtype)


def sample_step_times(steps: StepRecord, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Biased sampling (Pal et al. 2023): ``t_r`` uniform over the accepted step (start) times.

    Args:
        steps: the per-step record of a solve (``record_steps=True``), (B, K) with a mask.
        generator: random source.

    Returns:
        ``(t_r, j)``: (B,) times and the (B,) step indices drawn.
    """
    n = steps.mask.sum(dim=1)
    if bool((n == 0).any()):
        raise ValueError("steps: expected at least one accepted step per sample, got a sample with none")
    u = torch.rand(n.shape[0], generator=generator, dtype=torch.float64, device=_generator_device(generator))
    j = torch.minimum((u.to(n.device) * n).long(), n - 1)
    return steps.t.gather(1, j[:, None])[:, 0], j


class StateRecorder:
    """Wraps a vector field to remember the states it is evaluated at, so that after a solve the
    state at an accepted step time can be looked up without a second solve (biased sampling).

    Every accepted step's start state is an evaluation point of f: the initial ``f(t0, y0)`` or the
    last evaluation at the end time of the previous accepted step (the FSAL stage, or the
    end-of-step evaluation of non-FSAL methods). The wrapped field takes the sample's row index as
    an extra argument, so the record survives the solver's compaction of finished samples.

    Example:
        >>> rec = StateRecorder(f)  # doctest: +SKIP
        >>> sol = solve_ode(rec.field, y0, t, args=(rec.rows(y0),), record_steps=True)  # doctest: +SKIP
        >>> rec.stop()  # doctest: +SKIP
        >>> y_r, found = rec.lookup(t_r)  # doctest: +SKIP
    """

    def __init__(self, f: VectorField):
        self.f = f
        self._idx: list[Tensor] = []
        self._t: list[Tensor] = []
        self._y: list[Tensor] = []
        self._on = True

    @staticmethod
    def rows(y0: Tensor) -> Tensor:
        """(B,) row indices to pass as the first of ``args``."""
        return torch.arange(y0.shape[0], device=y0.device)

    def field(self, t: Tensor, y: Tensor, rows: Tensor, *args: Tensor) -> Tensor:
        if self._on:
            self._idx.append(rows)
            self._t.append(t.detach())
            self._y.append(y.detach())
        return self.f(t, y, *args)

    def stop(self) -> None:
        """Stop recording (call after the forward solve, before any adjoint backward pass)."""
        self._on = False

    def lookup(self, t_r: Tensor) -> tuple[Tensor, Tensor]:
        """States at times ``t_r`` (B,): the LAST recorded evaluation of each sample at exactly
        that time. Returns ``(y_r (B, *S), found (B,) bool)``; rows not found hold zeros."""
        idx = torch.cat(self._idx)
        ts = torch.cat([t.expand(i.shape[0]) for t, i in zip(self._t, self._idx)])
        ys = torch.cat(self._y)
        B = t_r.shape[0]
        order = torch.arange(idx.shape[0], device=idx.device)
        hit = ts == t_r.to(ts.dtype)[idx]
        best = torch.full((B,), -1, dtype=torch.long, device=idx.device)
        best = best.scatter_reduce(0, idx[hit], order[hit], reduce="amax")
        found = best >= 0
        y_r = torch.where(found.view(B, *([1] * (ys.dim() - 1))), ys[best.clamp_min(0)], torch.zeros_like(ys[:B]))
        return y_r, found


# ------------------------------------------------------------------------------ RNODE
def rnode_augment(
    f: VectorField, y0: Tensor, *, generator: torch.Generator | None = None
) -> tuple[VectorField, Tensor, Tensor]:
    """RNODE (Finlay et al. 2020): augment the state with the kinetic energy and the Hutchinson
    estimate of the Jacobian Frobenius norm, integrated alongside it.

    The augmented state is ``z = [y.flatten(), e_K, e_J]`` (B, N + 2) with
    ``de_K/dt = ||f||^2`` and ``de_J/dt = ||eps^T df/dy||^2``, one Rademacher probe ``eps`` (B, N)
    per sample held fixed over the solve (``E[||eps^T J||^2] = ||J||_F^2``).

    Args:
        f: ``f(t (B,), y (B, *S), *args) -> (B, *S)``.
        y0: (B, *S) initial states.
        generator: random source for the probes.

    Returns:
        ``(g, z0, eps)``: the augmented field ``g(t, z, eps, *args)`` (pass ``eps`` first in
        ``args``), the (B, N + 2) initial augmented state (zeros appended) and the (B, N) probes.
        After the solve, ``z[..., N]`` is the kinetic energy and ``z[..., N + 1]`` the Jacobian term.
    """
    B = y0.shape[0]
    S = tuple(y0.shape[1:])
    N = math.prod(S)
    eps = torch.randint(0, 2, (B, N), generator=generator, device=_generator_device(generator))
    eps = (2 * eps - 1).to(dtype=y0.dtype, device=y0.device)

    def g(t: Tensor, z: Tensor, probe: Tensor, *args: Tensor) -> Tensor:
        with torch.enable_grad():
            y = z[:, :N]
            if not y.requires_grad:
                y = y.detach().requires_grad_(True)
            dy = f(t, y.view(y.shape[0], *S), *args).reshape(y.shape[0], N)
            (vjp,) = torch.autograd.grad(dy, y, probe, create_graph=True)
        kin = (dy * dy).sum(dim=1, keepdim=True)
        jac = (vjp * vjp).sum(dim=1, keepdim=True)
        return torch.cat([dy, kin, jac], dim=1)

    z0 = torch.cat([y0.reshape(B, N), y0.new_zeros(B, 2)], dim=1)
    return g, z0, eps


# ------------------------------------------------------------------------------ configuration objects
class Regularizer:
    """Base class: a weight schedule and the checks a regularizer makes of the solve settings.

    Subclasses: :class:`GlobalError`, :class:`GlobalStiffness`, :class:`LocalError`,
    :class:`LocalStiffness`, :class:`STEER`, :class:`RNODE`.
    """

    name: str = "regularizer"
    needs_stiffness: bool = False

    def __init__(self, weight: float | Schedule = 1.0):
        self.weight = as_schedule(weight)

    def weight_at(self, step: int) -> float:
        """The weight at training step ``step``."""
        return _weight_at(self.weight, step)

    def check(self, method: str | ButcherTableau, gradient: str) -> None:
        """Raise a ValueError if this regularizer cannot be used with ``method``/``gradient``."""
        tab = get_tableau(method)
        if not tab.adaptive:
            raise ValueError(
                f"method: {type(self).__name__} regularizes an adaptive solve (error and stiffness "
                f"estimates, step sizes); expected one of heun_euler, bosh3, dopri5, tsit5, got the "
                f"fixed-step method {tab.name!r}"
            )
        if self.needs_stiffness and tab.stiffness_pair is None:
            raise ValueError(
                f"method: {type(self).__name__} needs Shampine's stiffness estimate, i.e. a method "
                f"with two stages at the same node (dopri5, tsit5); got {tab.name!r}, which has none"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight!r})"


class GlobalError(Regularizer):
    """Global error regularization ``w * mean_b R_E`` (Pal et al. 2021), see :func:`global_error`.

    Args:
        weight: non-negative float or schedule (e.g. ``ExponentialAnnealing(100, 10, n)``).
        aggregate: ``"sum"`` (paper), ``"mean"`` (authors' code) or ``"max"``.

    Needs ``gradient="direct"``.
    """

    name = "error_global"

    def __init__(self, weight: float | Schedule = 1.0, aggregate: str = "sum"):
        super().__init__(weight)
        self.aggregate = _check_aggregate(aggregate)

    @property
    def needs_record(self) -> bool:
        return self.aggregate != "sum"

    def check(self, method, gradient) -> None:
        super().check(method, gradient)
        if gradient != "direct":
            raise ValueError(
                f"gradient: {type(self).__name__} differentiates the estimates accumulated inside the "
                f"solver, expected gradient='direct', got {gradient!r} (use LocalError with the adjoint)"
            )

    def value(self, solution: Solution) -> Tensor:
        """(B,) unweighted values."""
        return global_error(solution, self.aggregate)

    def __call__(self, solution: Solution, *, step: int = 0) -> Tensor:
        """Weighted scalar ``w(step) * mean over the batch``."""
        return self.weight_at(step) * self.value(solution).mean()


class GlobalStiffness(GlobalError):
    """Global stiffness regularization ``w * mean_b R_S`` (Pal et al. 2021), see
    :func:`global_stiffness`. Paper weight 0.0285 (MNIST); authors' code aggregates with ``"max"``.
    Needs dopri5 or tsit5 and ``gradient="direct"``."""

    name = "stiffness_global"
    needs_stiffness = True

    def value(self, solution: Solution) -> Tensor:
        return global_stiffness(solution, self.aggregate)


class LocalError(Regularizer):
    """Local error regularization (Pal et al. 2023), see :func:`local_error`.

    Args:
        weight: non-negative float or schedule.
        sampling: ``"unbiased"`` (``t_r ~ U(t0, t1)``) or ``"biased"`` (``t_r`` uniform over the
            accepted step times of the solve).
        method, rtol, atol: of the fresh step (default: those of the main solve).

    Works with ``gradient="direct"`` and ``"adjoint"``, and with any external solver.
    """

    name = "error_local"
    _fn = staticmethod(local_error)

    def __init__(
        self,
        weight: float | Schedule = 1.0,
        sampling: str = "unbiased",
        *,
        method: str | None = None,
        rtol: float | None = None,
        atol: float | None = None,
    ):
        super().__init__(weight)
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling: expected one of {SAMPLINGS}, got {sampling!r}")
        self.sampling = sampling
        self.method, self.rtol, self.atol = method, rtol, atol
        if method is not None:
            self.check(method, "direct")

    @property
    def needs_record(self) -> bool:
        return self.sampling == "biased"

    def value(
        self, f: VectorField, t: Tensor, y: Tensor, *, method: str | ButcherTableau = "tsit5",
        rtol: float = 1e-6, atol: float = 1e-8, direction: float = 1.0, args: Sequence[Tensor] = (),
        dt: Tensor | None = None,
    ) -> Tensor:
        """(B,) unweighted values at (t (B,), y (B, *S)); own method/tolerances take precedence."""
        return self._fn(
            f, t, y, method=self.method or method, rtol=self.rtol if self.rtol is not None else rtol,
            atol=self.atol if self.atol is not None else atol, direction=direction, args=args, dt=dt,
        )

    def __call__(self, f: VectorField, t: Tensor, y: Tensor, *, step: int = 0, **solver: object) -> Tensor:
        """Weighted scalar ``w(step) * mean over the batch`` (``solver``: method, rtol, atol, ...)."""
        return self.weight_at(step) * self.value(f, t, y, **solver).mean()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight!r}, sampling={self.sampling!r})"


class LocalStiffness(LocalError):
    """Local stiffness regularization (Pal et al. 2023; it gave no gains in the paper), see
    :func:`local_stiffness`. Needs dopri5 or tsit5."""

    name = "stiffness_local"
    needs_stiffness = True
    _fn = staticmethod(local_stiffness)


class STEER(Regularizer):
    """STEER (Ghosh et al. 2020): during training the last output time ``T`` is replaced per sample by
    ``T' ~ U(T - b, T + b)``. It adds nothing to the loss (weight 0). Paper: b = 0.5 for T = 1.

    Args:
        b: half-width of the end-time interval, positive and smaller than the last time interval.
    """

    name = "steer"

    def __init__(self, b: float = 0.5):
        super().__init__(0.0)
        b = _check_weight("b", b)
        if b == 0:
            raise ValueError("b: expected a positive half-width, got 0.0")
        self.b = b

    def sample_end_times(
        self, t_end: float | Tensor, batch: int, *, generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> Tensor:
        """(B,) end times ``U(T - b, T + b)`` for a forward solve ending at ``t_end``."""
        return sample_uniform_times(
            torch.as_tensor(t_end, dtype=torch.float64) - self.b, torch.as_tensor(t_end, dtype=torch.float64) + self.b,
            batch, generator=generator, dtype=dtype, device=device,
        )

    def __repr__(self) -> str:
        return f"STEER(b={self.b})"


class RNODE(Regularizer):
    """RNODE (Finlay et al. 2020): ``kinetic_weight * int ||f||^2 dt + jacobian_weight *
    int ||eps^T df/dy||^2 dt``, integrated alongside the state (see :func:`rnode_augment`); the
    value is the batch mean. Paper weights 0.01 each. ``weight`` scales both (default 1)."""

    name = "rnode"

    def __init__(self, kinetic_weight: float = 0.01, jacobian_weight: float = 0.01, weight: float | Schedule = 1.0):
        super().__init__(weight)
        self.kinetic_weight = _check_weight("kinetic_weight", kinetic_weight)
        self.jacobian_weight = _check_weight("jacobian_weight", jacobian_weight)

    def value(self, z_final: Tensor) -> Tensor:
        """(B,) unweighted values from the final augmented state (B, N + 2)."""
        return self.kinetic_weight * z_final[:, -2] + self.jacobian_weight * z_final[:, -1]

    def __repr__(self) -> str:
        return f"RNODE(kinetic_weight={self.kinetic_weight}, jacobian_weight={self.jacobian_weight})"
