"""Neural ODE layer: a ``torch.nn.Module`` around :func:`neurode.solve_ode` (Chen et al. 2018,
"Neural Ordinary Differential Equations"), with the solver-heuristic regularizers of Pal et al.
(2021, 2023) and the STEER and RNODE baselines (:mod:`neurode.regularizers`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor, nn

from .regularizers import (
    RNODE,
    STEER,
    GlobalError,
    LocalError,
    Regularizer,
    StateRecorder,
    rnode_augment,
    sample_step_times,
    sample_uniform_times,
)
from .solvers import Solution, get_tableau, solve_ode

__all__ = ["NeuralODE"]


class NeuralODE(nn.Module):
    """``y(t) = y0 + int_{t0}^{t} vector_field(s, y(s)) ds``, batched, as a layer.

    Args:
        vector_field: ``nn.Module`` called as ``vector_field(t, y)`` with t (B,) and y (B, *S),
            returning (B, *S). It must treat rows independently and accept any number of rows.
        t_span: ``(t0, t1)`` with ``t0 != t1`` (``t1 < t0`` integrates backward). Default (0, 1).
        method: ``"tsit5"`` (default), ``"dopri5"``, ``"bosh3"``, ``"heun_euler"``, or a fixed-step
            method with ``dt`` (no regularizers then).
        rtol, atol: solver tolerances (default 1e-6, 1e-8).
        gradient: ``"direct"`` (backpropagate through the solver) or ``"adjoint"``.
        t_eval: optional (T,) output times inside ``t_span``, monotone in its direction. Without it
            ``forward`` returns the state at ``t1``; with it the states at ``t_eval``.
        regularizers: objects from :mod:`neurode.regularizers` (``GlobalError``,
            ``GlobalStiffness``, ``LocalError``, ``LocalStiffness``, ``STEER``, ``RNODE``). They act
            only in training mode; in eval mode the solve is plain and ``regularization`` is 0.
        dt: step size of a fixed-step method.
        max_steps: steps allowed per sample.
        generator: random source of the regularizers that sample (local, STEER, RNODE probes);
            default torch's global generator. ``forward(..., generator=g)`` overrides it.
        step_gradient: (direct mode) differentiate through the controller's step-size choices
            (True, default: the exact derivative of the computation) or hold the step sizes
            constant for the gradient (False, as diffrax does). False is steadier when the solve
            spans a long interval without data or with a strong global error regularizer (the
            spiral latent ODE diverges otherwise); see ``solve_ode``.

    Attributes (after a forward pass):
        solution: the last :class:`~neurode.Solution`, restricted to the requested output times and
            the original state (``ts`` (B, T), ``ys`` (B, T, *S), stats, estimates, status).
        regularization: differentiable scalar ``sum_i w_i(step) * R_i`` (0 in eval mode).
        regularization_terms: dict name -> unweighted scalar term (detached, for logging).
        step: training step used for weight schedules when ``forward`` gets no ``step`` (default 0;
            set ``node.step = it`` when the layer sits in an ``nn.Sequential``).

    Example:
        >>> class Field(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
        ...     def forward(self, t, y):
        ...         return self.net(y)
        >>> node = NeuralODE(Field(), (0.0, 1.0), regularizers=(LocalError(1.0),))
        >>> y1 = node(torch.randn(8, 2))                       # (8, 2)
        >>> loss = (y1 ** 2).mean() + node.regularization
    """

    def __init__(
        self,
        vector_field: nn.Module,
        t_span: Sequence[float] = (0.0, 1.0),
        *,
        method: str = "tsit5",
        rtol: float = 1e-6,
        atol: float = 1e-8,
        gradient: str = "direct",
        t_eval: Tensor | Sequence[float] | None = None,
        regularizers: Sequence[Regularizer] = (),
        dt: float | None = None,
        max_steps: int = 10_000,
        generator: torch.Generator | None = None,
        step_gradient: bool = True,
    ):
        super().__init__()
        if not isinstance(vector_field, nn.Module):
            raise TypeError(
                f"vector_field: expected an nn.Module called as vector_field(t, y), got {type(vector_field).__name__}"
            )
        self.vector_field = vector_field
        try:
            t0, t1 = (float(x) for x in t_span)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"t_span: expected two floats (t0, t1), got {t_span!r}") from exc
        if not (math.isfinite(t0) and math.isfinite(t1)):
            raise ValueError(f"t_span: expected finite times, got {(t0, t1)!r}")
        if t0 == t1:
            raise ValueError(f"t_span: expected t0 != t1 (an interval to integrate over), got t0 = t1 = {t0}")
        self.t_span = (t0, t1)
        tab = get_tableau(method)
        self.method = tab.name if isinstance(method, str) else method
        if gradient not in ("direct", "adjoint"):
            raise ValueError(f"gradient: expected 'direct' or 'adjoint', got {gradient!r}")
        self.gradient = gradient
        if not tab.adaptive and dt is None:
            raise ValueError(f"dt: the fixed-step method {tab.name!r} needs a step size dt")
        self.rtol, self.atol, self.dt, self.max_steps = rtol, atol, dt, max_steps
        if not isinstance(step_gradient, bool):
            raise TypeError(f"step_gradient: expected a bool, got {type(step_gradient).__name__} {step_gradient!r}")
        self.step_gradient = step_gradient
        self.generator = generator
        self.step = 0

        # output times: grid (starting at t0) and which of its columns are returned
        sign = 1.0 if t1 > t0 else -1.0
        if t_eval is None:
            grid = torch.tensor([t0, t1], dtype=torch.float64)
            out_cols = [1]
        else:
            te = torch.as_tensor(t_eval, dtype=torch.float64).detach().cpu()
            if te.dim() != 1 or te.numel() < 1:
                raise ValueError(f"t_eval: expected a 1-D tensor of output times (T,), got shape {tuple(te.shape)}")
            d = sign * torch.diff(te)
            if not bool((d > 0).all()):
                raise ValueError(f"t_eval: expected strictly monotone times in the direction of t_span {self.t_span}, got {te.tolist()[:8]}")
            lo, hi = min(t0, t1), max(t0, t1)
            # snap times within float32 rounding of t0 / t1 onto them (t_eval built in float32 from the
            # same floats, e.g. torch.linspace(0, 0.1, 5), lands a few ulps outside t_span)
            slack = 4 * torch.finfo(torch.float32).eps * max(abs(t0), abs(t1), abs(t1 - t0))
            te = torch.where((te - lo).abs() <= slack, torch.full_like(te, lo), te)
            te = torch.where((te - hi).abs() <= slack, torch.full_like(te, hi), te)
            if float(te.min()) < lo or float(te.max()) > hi:
                raise ValueError(f"t_eval: expected times inside t_span {self.t_span}, got range [{float(te.min())}, {float(te.max())}]")
            if float(te[0]) == t0:
                grid, out_cols = te, list(range(te.numel()))
            else:
                grid, out_cols = torch.cat([te.new_tensor([t0]), te]), list(range(1, te.numel() + 1))
            if grid.numel() < 2:
                raise ValueError(f"t_eval: expected at least one time after t0={t0}, got {te.tolist()}")
        self.t_eval = None if t_eval is None else te.clone()
        self._grid = grid
        self._out_cols = out_cols
        self._sign = sign

        regs = tuple(regularizers)
        for i, r in enumerate(regs):
            if not isinstance(r, Regularizer):
                raise TypeError(f"regularizers[{i}]: expected a neurode.regularizers.Regularizer, got {type(r).__name__}")
            r.check(method, gradient)
        for kind in (STEER, RNODE):
            if sum(isinstance(r, kind) for r in regs) > 1:
                raise ValueError(f"regularizers: expected at most one {kind.__name__}, got several")
        for r in regs:
            if isinstance(r, STEER):
                gap = abs(float(grid[-1] - grid[-2]))
                if r.b >= gap:
                    raise ValueError(f"STEER.b: expected a half-width smaller than the last time interval {gap}, got {r.b}")
        self.regularizers = regs
        self.solution: Solution | None = None
        self.regularization: Tensor = torch.zeros(())
        self.regularization_terms: dict[str, Tensor] = {}

    # ---------------------------------------------------------------------------------------------
    def _field(self, t: Tensor, y: Tensor, *args: Tensor) -> Tensor:
        return self.vector_field(t, y)

    def _solve(self, f, y0: Tensor, t_ev: Tensor, args: Sequence[Tensor], record: bool) -> Solution:
        params = tuple(p for p in self.vector_field.parameters() if p.requires_grad)
        return solve_ode(
            f, y0, t_ev, method=self.method, rtol=self.rtol, atol=self.atol, dt=self.dt,
            max_steps=self.max_steps, gradient=self.gradient, adjoint_params=params, args=tuple(args),
            record_steps=record, step_gradient=self.step_gradient,
        )

    def forward(self, y0: Tensor, *, step: int | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Solve from ``y0`` (B, *S) at ``t0``.

        Args:
            y0: (B, *S) initial states.
            step: training step for the weight schedules (default ``self.step``).
            generator: random source for this pass (default ``self.generator``).

        Returns:
            (B, *S) state at ``t1``, or (B, T, *S) states at ``t_eval``.
        """
        if not isinstance(y0, Tensor):
            raise TypeError(f"y0: expected a torch.Tensor of shape (B, *S), got {type(y0).__name__}")
        step = self.step if step is None else step
        gen = self.generator if generator is None else generator
        B = y0.shape[0] if y0.dim() > 0 else 0
        dtype, dev = y0.dtype, y0.device
        grid = self._grid.to(dtype=dtype, device=dev)
        T0 = grid.shape[0]
        t_ev = grid.expand(B, T0)
        zero = y0.new_zeros(())
        regs = self.regularizers if (self.training and self.regularizers) else ()

        if not regs:
            sol = self._solve(self._field, y0, t_ev, (), False)
            self.solution = replace(sol, ts=sol.ts[:, self._out_cols], ys=sol.ys[:, self._out_cols])
            self.regularization = zero
            self.regularization_terms = {}
            return self._output(self.solution.ys)

        steer = next((r for r in regs if isinstance(r, STEER)), None)
        rnode = next((r for r in regs if isinstance(r, RNODE)), None)
        locals_u = [r for r in regs if isinstance(r, LocalError) and r.sampling == "unbiased"]
        locals_b = [r for r in regs if isinstance(r, LocalError) and r.sampling == "biased"]
        record = any(getattr(r, "needs_record", False) for r in regs)

        if steer is not None:
            t_end = steer.sample_end_times(float(self._grid[-1]), B, generator=gen, dtype=dtype, device=dev)
            t_ev = torch.cat([t_ev[:, :-1], t_end[:, None]], dim=1)

        # unbiased local samples: extra per-sample output columns at t_r ~ U(t0, t_end)
        L = len(locals_u)
        inv = None
        t_r_u = None
        if L:
            for _ in range(10):
                t_r_u = torch.stack(
                    [sample_uniform_times(t_ev[:, 0], t_ev[:, -1], B, generator=gen, dtype=dtype, device=dev) for _ in range(L)],
                    dim=1,
                )  # (B, L)
                full = torch.cat([t_ev, t_r_u], dim=1)
                key, perm = (self._sign * full).sort(dim=1)
                if bool((torch.diff(key, dim=1) > 0).all()):
                    break
            else:
                raise RuntimeError("NeuralODE: could not draw distinct local regularization times in 10 tries")
            inv = perm.argsort(dim=1)
            t_full = full.gather(1, perm)
        else:
            t_full = t_ev

        # vector field with the optional RNODE augmentation and state recorder
        field = self._field
        y_start = y0
        args: list[Tensor] = []
        S = tuple(y0.shape[1:])
        N = math.prod(S)
        if rnode is not None:
            field, y_start, eps = rnode_augment(self._field, y0, generator=gen)
            args.append(eps)
        recorder = None
        if locals_b:
            recorder = StateRecorder(field)
            field = recorder.field
            args.insert(0, StateRecorder.rows(y0))
        try:
            sol = self._solve(field, y_start, t_full, args, record)
        finally:
            if recorder is not None:
                recorder.stop()

        def state(z: Tensor) -> Tensor:  # (B, [T,] N + 2) -> (B, [T,] *S)
            return z[..., :N].reshape(*z.shape[:-1], *S) if rnode is not None else z

        rows = torch.arange(B, device=dev)[:, None]
        if inv is not None:
            main_cols = inv[:, :T0]
            ys_all, ts_all = sol.ys[rows, main_cols], sol.ts[rows, main_cols]
        else:
            ys_all, ts_all = sol.ys, sol.ts

        terms: dict[str, Tensor] = {}
        total = zero
        reg_nfe = 0
        step_nfe = 2 + get_tableau(self.method).stages  # heuristic (2, no grad), f(t_r), s - 1 stages
        direction = self._sign

        def add(name: str, w: float, value: Tensor) -> None:
            nonlocal total
            key, k = name, 2
            while key in terms:
                key, k = f"{name}_{k}", k + 1
            terms[key] = value.detach()
            total = total + w * value

        for r in regs:
            w = r.weight_at(step)
            if isinstance(r, GlobalError):
                add(r.name, w, r.value(sol).mean())
            elif isinstance(r, RNODE):
                add(r.name, w, r.value(ys_all[:, -1]).mean())
        for l_idx, r in enumerate(locals_u):
            col = inv[:, T0 + l_idx]
            y_r = state(sol.ys[rows[:, 0], col])
            t_r = t_r_u[:, l_idx]
            v = r.value(self._field, t_r, y_r, method=self.method, rtol=self.rtol, atol=self.atol, direction=direction)
            reg_nfe += step_nfe
            add(f"{r.name}_unbiased", r.weight_at(step), v.mean())
        for r in locals_b:
            t_r, _ = sample_step_times(sol.steps, generator=gen)
            y_r, found = recorder.lookup(t_r)
            if not bool(found.all()):
                y_r = self._states_by_resolve(field, y_start, t_ev[:, 0], t_r, args, y_r, found)
            v = r.value(self._field, t_r, state(y_r), method=self.method, rtol=self.rtol, atol=self.atol, direction=direction)
            reg_nfe += step_nfe
            add(f"{r.name}_biased", r.weight_at(step), v.mean())

        extras = dict(sol.extras)
        extras["regularization_nfe"] = reg_nfe
        self.solution = replace(sol, ts=ts_all[:, self._out_cols], ys=state(ys_all[:, self._out_cols]), extras=extras)
        self.regularization = total
        self.regularization_terms = terms
        return self._output(self.solution.ys)

    def _states_by_resolve(self, field, y_start, t0, t_r, args, y_r, found) -> Tensor:
        """Fallback for biased sampling: states at t_r by a second solve without gradient."""
        with torch.no_grad():
            at_start = t_r == t0
            t_hi = torch.where(at_start, t0 + self._sign * 1e-3, t_r)
            te = torch.stack([t0, t_hi], dim=1)
            extra = solve_ode(field, y_start, te, method=self.method, rtol=self.rtol, atol=self.atol, args=tuple(args))
            y_new = torch.where(at_start.view(-1, *([1] * (y_start.dim() - 1))), y_start, extra.ys[:, -1])
        keep = found.view(-1, *([1] * (y_r.dim() - 1)))
        return torch.where(keep, y_r, y_new)

    def _output(self, ys: Tensor) -> Tensor:
        return ys[:, -1] if self.t_eval is None else ys

    def extra_repr(self) -> str:
        return (f"t_span={self.t_span}, method={self.method!r}, rtol={self.rtol}, atol={self.atol}, "
                f"gradient={self.gradient!r}, regularizers={list(self.regularizers)}")
