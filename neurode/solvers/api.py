"""Public entry points: :func:`solve_ode` and :func:`step_estimates`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .controllers import IController, get_controller
from .loop import integrate
from .rk import error_ratio, initial_step, rk_step, stiffness_lambda
from .solution import Solution, SolveError, StepRecord
from .tableaus import FIXED_METHODS, ButcherTableau, get_tableau

__all__ = ["solve_ode", "step_estimates", "StepEstimate"]

VectorField = Callable[..., Tensor]


# ----------------------------------------------------------------------------------- validation
def _check_y0(y0: Tensor) -> None:
    if not isinstance(y0, Tensor):
        raise TypeError(f"y0: expected a torch.Tensor of shape (B, *S), got {type(y0).__name__}")
    if not y0.is_floating_point():
        raise TypeError(f"y0: expected a floating-point tensor, got dtype {y0.dtype}")
    if y0.dim() < 2:
        raise ValueError(
            f"y0: expected shape (B, *S) with a batch dimension and at least one state dimension, "
            f"got shape {tuple(y0.shape)} (use y0[:, None] for a scalar state)"
        )
    if y0.shape[0] == 0:
        raise ValueError("y0: expected a batch of at least one sample, got batch size 0")
    if not bool(torch.isfinite(y0).all()):
        bad = torch.nonzero(~torch.isfinite(y0.reshape(y0.shape[0], -1)).all(dim=1)).flatten().tolist()
        raise ValueError(f"y0: expected finite values, got NaN or inf in samples {bad[:10]}")


def _check_t_eval(t_eval, y0: Tensor) -> Tensor:
    if not isinstance(t_eval, Tensor):
        try:
            t_eval = torch.as_tensor(t_eval, dtype=y0.dtype, device=y0.device)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"t_eval: expected a tensor of shape (T,) or (B, T), got {type(t_eval).__name__}") from exc
    if t_eval.dim() not in (1, 2):
        raise ValueError(f"t_eval: expected shape (T,) or (B, T), got shape {tuple(t_eval.shape)}")
    B = y0.shape[0]
    if t_eval.dim() == 2 and t_eval.shape[0] != B:
        raise ValueError(
            f"t_eval: expected batch size {B} (that of y0) in shape (B, T), got shape {tuple(t_eval.shape)}"
        )
    if t_eval.shape[-1] < 2:
        raise ValueError(f"t_eval: expected at least 2 times (start and end), got {t_eval.shape[-1]}")
    t_eval = t_eval.to(dtype=y0.dtype, device=y0.device)
    if not bool(torch.isfinite(t_eval).all()):
        raise ValueError("t_eval: expected finite times, got NaN or inf")
    d = torch.diff(t_eval, dim=-1)
    mono = (d > 0).all(dim=-1) | (d < 0).all(dim=-1)
    if not bool(mono.all()):
        if t_eval.dim() == 1:
            raise ValueError(f"t_eval: expected strictly monotone times, got {t_eval.tolist()[:8]}...")
        bad = torch.nonzero(~mono).flatten().tolist()
        raise ValueError(f"t_eval: expected strictly monotone times in every row, rows {bad[:10]} are not")
    if t_eval.dim() == 1:
        t_eval = t_eval.expand(B, -1)
    return t_eval.contiguous()


def _check_tol(name: str, tol, y0: Tensor) -> Tensor:
    tol_t = torch.as_tensor(tol, dtype=y0.dtype, device=y0.device)
    if not bool(torch.isfinite(tol_t).all()) or bool((tol_t < 0).any()):
        raise ValueError(f"{name}: expected finite non-negative values, got {tol!r}")
    if tol_t.dim() == 0:
        return tol_t
    try:
        shape = torch.broadcast_shapes(tol_t.shape, y0.shape)
    except RuntimeError:
        shape = None
    if shape != y0.shape:
        raise ValueError(
            f"{name}: expected a float or a tensor broadcastable to y0's shape {tuple(y0.shape)}, "
            f"got shape {tuple(tol_t.shape)}"
        )
    return tol_t.expand(y0.shape).reshape(y0.shape[0], -1)


def _check_step(name: str, value, y0: Tensor, direction: Tensor) -> Tensor:
    v = torch.as_tensor(value, dtype=y0.dtype, device=y0.device)
    B = y0.shape[0]
    if v.dim() > 1 or (v.dim() == 1 and v.shape[0] != B):
        raise ValueError(f"{name}: expected a float or a tensor of shape (B,)=({B},), got shape {tuple(v.shape)}")
    v = v.expand(B)
    if not bool(torch.isfinite(v).all()) or bool((v == 0).any()):
        raise ValueError(f"{name}: expected finite non-zero values, got {value!r}")
    wrong = torch.sign(v) != direction
    if bool(wrong.any()):
        idx = torch.nonzero(wrong).flatten().tolist()
        raise ValueError(
            f"{name}: expected the sign of the direction of integration (positive forward, negative "
            f"backward), got the wrong sign for samples {idx[:10]}"
        )
    return v


def _wrap(f: VectorField, shape: torch.Size) -> Callable[..., Tensor]:
    S = tuple(shape[1:])
    if len(S) == 1:  # already flat: no reshaping per call
        return f

    def flat(t: Tensor, y: Tensor, *args: Tensor) -> Tensor:
        return f(t, y.view(y.shape[0], *S), *args).reshape(y.shape[0], -1)

    return flat


def _first_eval(f: VectorField, t0: Tensor, y0: Tensor, args: Sequence[Tensor]) -> Tensor:
    out = f(t0, y0, *args)
    if not isinstance(out, Tensor):
        raise TypeError(f"f: expected f(t, y) to return a tensor, got {type(out).__name__}")
    if out.shape != y0.shape:
        raise ValueError(f"f: expected f(t, y) to return shape {tuple(y0.shape)} (that of y), got {tuple(out.shape)}")
    if out.dtype != y0.dtype:
        raise TypeError(f"f: expected f(t, y) to return dtype {y0.dtype} (that of y), got {out.dtype}")
    return out


def _adjoint_params(f: VectorField, adjoint_params) -> tuple[Tensor, ...]:
    if adjoint_params is not None:
        params = tuple(adjoint_params)
    elif isinstance(f, nn.Module):
        params = tuple(f.parameters())
    elif isinstance(getattr(f, "__self__", None), nn.Module):
        params = tuple(f.__self__.parameters())
    else:
        params = ()
    return tuple(p for p in params if isinstance(p, Tensor) and p.requires_grad)


# ----------------------------------------------------------------------------------- solve_ode
def solve_ode(
    f: VectorField,
    y0: Tensor,
    t_eval: Tensor | Sequence[float],
    *,
    method: str | ButcherTableau = "tsit5",
    rtol: float | Tensor = 1e-6,
    atol: float | Tensor = 1e-8,
    dt: float | Tensor | None = None,
    dt0: float | Tensor | None = None,
    controller: str | IController = "i",
    max_steps: int = 10_000,
    gradient: str = "direct",
    adjoint_params: Sequence[Tensor] | None = None,
    args: Sequence[Tensor] = (),
    record_steps: bool = False,
    raise_on_failure: bool = True,
    step_gradient: bool = True,
) -> Solution:
    """Solve a batch of ODEs ``dy/dt = f(t, y)``, each sample with its own adaptive steps.

    Args:
        f: vector field ``f(t, y, *args)``: t (B,), y (B, *S), args (B, ...) -> dy/dt (B, *S).
            It must treat rows independently and accept any number of rows (finished samples are
            dropped from the batch). Per-sample constants go in ``args``, which follow the rows.
        y0: (B, *S) initial states, floating point.
        t_eval: (T,) shared or (B, T) per-sample output times, strictly monotone; the first is
            the start time. Decreasing times solve backward.
        method: ``"tsit5"`` (default), ``"dopri5"``, ``"bosh3"``, ``"heun_euler"`` (adaptive) or
            ``"euler"``, ``"midpoint"``, ``"rk4"`` (fixed step, needs ``dt``), or a ButcherTableau.
        rtol, atol: relative and absolute tolerances: floats or tensors broadcastable to y0.
        dt: step size for fixed-step methods (sign of the direction of integration).
        dt0: initial step for adaptive methods (default: Hairer's heuristic).
        controller: ``"i"`` (default), ``"pi"`` or an :class:`IController`/:class:`PIController`.
        max_steps: accepted plus rejected steps allowed per sample.
        gradient: ``"direct"`` (backpropagate through the solver; the estimates are differentiable)
            or ``"adjoint"`` (continuous adjoint solved backward with the same method; memory does
            not grow with the number of steps; gradients reach y0 and ``adjoint_params``).
        adjoint_params: parameters for the adjoint (default: those of f if f is an nn.Module or a
            bound method of one).
        args: per-sample tensors with leading dimension B passed to f.
        record_steps: return the per-step record (t_j, dt_j, E_j, S_j) in ``Solution.steps``.
        raise_on_failure: raise :class:`SolveError` listing failed samples (default) or return
            the status codes and the partial solution.
        step_gradient: (direct mode) ``True`` (default): the step sizes chosen by the controller
            are differentiable, so the gradient is the exact derivative of the computed solution
            and estimates. ``False``: every step size is a constant for the gradient (as in
            diffrax); the gradient then ignores how parameters move the step grid, which is
            steadier when training Neural ODEs over long spans or with the global error
            regularizer (see docs/regularization.md).

    Returns:
        :class:`Solution` with ``ts`` (B, T), ``ys`` (B, T, *S), ``status`` (B,), ``stats``,
        ``error_estimate`` (B,) and ``stiffness_estimate`` (B,).

    Example:
        >>> f = lambda t, y: -y
        >>> sol = solve_ode(f, torch.ones(4, 1), torch.linspace(0, 1, 5))
        >>> sol.ys.shape
        torch.Size([4, 5, 1])
    """
    _check_y0(y0)
    tab = get_tableau(method)
    t_eval = _check_t_eval(t_eval, y0)
    if gradient not in ("direct", "adjoint"):
        raise ValueError(f"gradient: expected 'direct' or 'adjoint', got {gradient!r}")
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        raise ValueError(f"max_steps: expected a positive int, got {max_steps!r}")
    rtol_t = _check_tol("rtol", rtol, y0)
    atol_t = _check_tol("atol", atol, y0)
    if bool(((rtol_t == 0) & (atol_t == 0)).any()):
        raise ValueError("rtol, atol: expected at least one of them positive for every component, got both zero")
    ctrl = get_controller(controller)
    B = y0.shape[0]
    args = tuple(args)
    for i, a in enumerate(args):
        if not isinstance(a, Tensor) or a.dim() == 0 or a.shape[0] != B:
            shape = tuple(a.shape) if isinstance(a, Tensor) else type(a).__name__
            raise ValueError(f"args[{i}]: expected a tensor with leading dimension B={B}, got {shape}")
    direction = torch.sign(t_eval[:, -1] - t_eval[:, 0])
    step = None
    if not tab.adaptive:
        if dt is None:
            raise ValueError(
                f"dt: the fixed-step method {tab.name!r} needs a step size dt; or use one of the "
                f"adaptive methods heun_euler, bosh3, dopri5, tsit5 (fixed-step: {list(FIXED_METHODS)})"
            )
        step = _check_step("dt", dt, y0, direction)
    elif dt is not None:
        raise ValueError(f"dt: only for fixed-step methods {list(FIXED_METHODS)}; use dt0 for {tab.name!r}")
    if dt0 is not None:
        if not tab.adaptive:
            raise ValueError(f"dt0: only for adaptive methods; use dt for {tab.name!r}")
        step = _check_step("dt0", dt0, y0, direction)

    k0 = _first_eval(f, t_eval[:, 0], y0, args)
    ff = _wrap(f, y0.shape)
    if not isinstance(step_gradient, bool):
        raise TypeError(f"step_gradient: expected a bool, got {type(step_gradient).__name__} {step_gradient!r}")
    opts = dict(rtol=rtol_t, atol=atol_t, controller=ctrl, dt0=step, max_steps=max_steps, args=args,
                step_gradient=step_gradient)
    y0f = y0.reshape(B, -1)
    if gradient == "direct":
        res = integrate(ff, y0f, t_eval, tab, record_steps=record_steps, k0=k0.reshape(B, -1), **opts)
        ys = res.ys
    else:
        from .adjoint import adjoint_solve

        if t_eval.requires_grad or any(a.requires_grad for a in args):
            raise ValueError(
                "gradient: 'adjoint' gives gradients to y0 and adjoint_params only, but t_eval or args "
                "require grad; use gradient='direct', or make the per-sample constants parameters"
            )

        params = _adjoint_params(f, adjoint_params)
        opts.pop("step_gradient")  # the adjoint's forward solve keeps no graph
        ys, res = adjoint_solve(ff, y0f, t_eval, tab, params, record_steps=record_steps, **opts)

    steps = None
    if res.record is not None:
        r = res.record
        steps = StepRecord(
            t=r["t"], dt=r["dt"],
            error_ratio=r["E"] if tab.adaptive else None,
            stiffness=r["S"] if tab.stiffness_pair is not None else None,
            mask=r["mask"],
        )
    sol = Solution(
        ts=t_eval,
        ys=ys.view(B, t_eval.shape[1], *y0.shape[1:]),
        status=res.status,
        stats={"nfe": res.nfe, "n_accepted": res.n_accepted, "n_rejected": res.n_rejected},
        error_estimate=res.error_sum,
        stiffness_estimate=res.stiffness_sum,
        t_final=res.t_final,
        steps=steps,
        method=tab.name,
    )
    if raise_on_failure and bool((res.status != 0).any()):
        raise SolveError(sol)
    return sol


# ----------------------------------------------------------------------------------- one step
@dataclass
class StepEstimate:
    """One fresh solver step from given states (for local regularization).

    Attributes:
        y1: (B, *S) state after the step.
        dt: (B,) signed step size taken.
        error_ratio: (B,) E of the step.
        stiffness: (B,) S = |dt| lambda / stability_size, or ``None`` without a stage pair.
        nfe: evaluations of f per sample.
    """

    y1: Tensor
    dt: Tensor
    error_ratio: Tensor
    stiffness: Tensor | None
    nfe: int


def step_estimates(
    f: VectorField,
    t: Tensor,
    y: Tensor,
    *,
    method: str | ButcherTableau = "tsit5",
    rtol: float | Tensor = 1e-6,
    atol: float | Tensor = 1e-8,
    dt: float | Tensor | None = None,
    direction: float = 1.0,
    args: Sequence[Tensor] = (),
) -> StepEstimate:
    """Take ONE step of an adaptive method from states ``y`` (B, *S) at times ``t`` (B,) and return
    its error ratio and stiffness estimate, differentiable with respect to f's parameters.

    ``dt`` defaults to the Hairer initial-step heuristic (as in Pal et al. 2023, local
    regularization). Cost: 2 + (stages - 1) evaluations for tsit5/dopri5 without ``dt``.
    """
    _check_y0(y)
    tab = get_tableau(method)
    if not tab.adaptive:
        raise ValueError(
            f"method: the error estimate needs an adaptive method (heun_euler, bosh3, dopri5, tsit5), got {tab.name!r}"
        )
    B = y.shape[0]
    t = torch.as_tensor(t, dtype=y.dtype, device=y.device)
    if t.dim() == 0:
        t = t.expand(B)
    if t.shape != (B,):
        raise ValueError(f"t: expected shape (B,)=({B},), got {tuple(t.shape)}")
    rtol_t = _check_tol("rtol", rtol, y)
    atol_t = _check_tol("atol", atol, y)
    args = tuple(args)
    ff = _wrap(f, y.shape)
    yf = y.reshape(B, -1)
    fw = lambda tt, yy: ff(tt, yy, *args)  # noqa: E731
    k0 = fw(t, yf)
    nfe = 1
    dirn = torch.full((B,), float(direction), dtype=y.dtype, device=y.device)
    if dt is None:
        h = initial_step(fw, t, yf, k0, dirn, tab.order, rtol_t, atol_t)
        nfe += 1
    else:
        h = _check_step("dt", dt, y, dirn)
    y1, err, ks, gs, _ = rk_step(fw, tab, t, yf, h, k0)
    nfe += tab.stages - 1
    E = error_ratio(err, yf, y1, rtol_t, atol_t)
    S = None
    if tab.stiffness_pair is not None:
        S = h.abs() * stiffness_lambda(tab, ks, gs, y1) / tab.stability_size
    return StepEstimate(y1=y1.view_as(y), dt=h, error_ratio=E, stiffness=S, nfe=nfe)


