"""The ONE batched per-sample integration loop.

Every sample has its own t, dt, accept/reject decision, step counter and status. Samples that
finish (or fail) are compacted out of the working set, so the vector field is only evaluated on
active rows. Outputs at requested times come from dense output inside the step that crosses them.
The loop synchronises with the host once per iteration (one small ``tolist``) to test for the end
and for the number of output times crossed; compaction adds one ``nonzero`` when rows finish.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .controllers import IController
from .rk import error_ratio, initial_step, interpolate, interpolate_many, rk_step, stiffness_lambda
from .solution import Status
from .tableaus import ButcherTableau

# f(t (A,), y (A, N), *args (A, ...)) -> (A, N)
LoopF = Callable[..., Tensor]
# hook(t, dt, gs, accept, args) called after every step's accept decision
StepHook = Callable[[Tensor, Tensor, list, Tensor, Sequence[Tensor]], None]


@dataclass
class LoopResult:
    ys: Tensor  # (B, T, N)
    status: Tensor  # (B,)
    n_accepted: Tensor  # (B,)
    n_rejected: Tensor  # (B,)
    nfe: Tensor  # (B,)
    error_sum: Tensor | None  # (B,)
    stiffness_sum: Tensor | None  # (B,)
    t_final: Tensor  # (B,)
    record: dict | None  # t, dt, E, S, mask of (B, K)


def integrate(
    f: LoopF,
    y0: Tensor,
    t_eval: Tensor,
    tab: ButcherTableau,
    *,
    rtol: Tensor,
    atol: Tensor,
    controller: IController,
    dt0: Tensor | None = None,
    max_steps: int = 10_000,
    args: Sequence[Tensor] = (),
    record_steps: bool = False,
    step_hook: StepHook | None = None,
    k0: Tensor | None = None,
    step_gradient: bool = True,
) -> LoopResult:
    """Integrate a flattened system per sample.

    Args:
        f: ``f(t, y, *args)`` with t (A,), y (A, N), args (A, ...) -> (A, N).
        y0: (B, N) initial states.
        t_eval: (B, T) strictly monotone output times; ``t_eval[:, 0]`` is the start time.
        tab: the Runge-Kutta method.
        rtol, atol: tolerances, tensors of shape () or (B, N).
        controller: step-size controller (adaptive methods).
        dt0: (B,) initial |step| (adaptive: optional; fixed-step: required).
        max_steps: steps (accepted + rejected) allowed per sample.
        args: per-sample tensors with leading dimension B, passed to f row-aligned.
        record_steps: also return the per-step record.
        step_hook: called after each step's accept decision (used by the adjoint).
        k0: (B, N) ``f(t0, y0)`` if already computed.
        step_gradient: differentiate through the step-size choices (True) or hold every step
            size constant for the gradient (False).
    """
    B, N = y0.shape
    T = t_eval.shape[1]
    dev, dtype = y0.device, y0.dtype
    adaptive = tab.adaptive
    stiff = tab.stiffness_pair is not None
    s = tab.stages
    k_exp = (tab.error_order + 1) if adaptive else 1

    rows = torch.arange(B, device=dev)
    t = t_eval[:, 0]
    t_end = t_eval[:, -1]
    dirn = torch.sign(t_end - t)
    te = t_eval
    dte = dirn[:, None] * t_eval  # ascending per row
    y = y0
    args_w = tuple(args)
    rtol_w = rtol.expand(B, N) if rtol.dim() > 0 else rtol
    atol_w = atol.expand(B, N) if atol.dim() > 0 else atol

    init_evals = 1  # f(t0, y0), here or by the caller
    k1 = f(t, y, *args_w) if k0 is None else k0
    if adaptive and dt0 is None:
        dt = initial_step(lambda tt, yy: f(tt, yy, *args_w), t, y, k1, dirn, tab.order, rtol_w, atol_w)
        init_evals += 1
    else:
        dt = dirn * dt0.abs()
    if not step_gradient:
        dt = dt.detach()
    remaining = t_end - t
    last = (dirn * dt) >= (dirn * remaining)
    dt = torch.where(last, remaining, dt)

    nxt = torch.ones(B, dtype=torch.long, device=dev)
    nacc = torch.zeros(B, dtype=torch.long, device=dev)
    nst = torch.zeros(B, dtype=torch.long, device=dev)
    # f(y1) can only be non-finite with a finite error estimate when it does not enter the estimate
    check_state = not (tab.fsal and adaptive and tab.b_err[-1] != 0)
    zero = torch.zeros(B, dtype=dtype, device=dev)
    RE = zero if adaptive else None
    RS = zero if stiff else None
    E_prev = torch.ones(B, dtype=dtype, device=dev)

    out_idx = [rows * T]
    out_val = [y0]
    trash = B * T
    fin: dict[str, list[Tensor]] = {k: [] for k in ("rows", "RE", "RS", "t", "status", "nacc", "nrej")}
    rec: dict[str, list[Tensor]] = {k: [] for k in ("rows", "j", "t", "dt", "E", "S", "ok")}

    rowsT = rows * T
    while True:
        fw = (lambda tt, yy, _a=args_w: f(tt, yy, *_a))
        y1, err, ks, gs, K = rk_step(fw, tab, t, y, dt, k1)
        adt = dt.abs()
        if adaptive:
            E = error_ratio(err, y, y1, rtol_w, atol_w)
            finite = None
            accept = E <= 1.0  # False for NaN
        else:
            E = None
            finite = torch.isfinite(y1).all(dim=1)
            accept = finite
        S = None
        if stiff:
            S = stiffness_lambda(tab, ks, gs, y1) * adt * (1.0 / tab.stability_size)
        if step_hook is not None:
            step_hook(t, dt, gs, accept, args_w)
        t_new = torch.where(last, t_end, t + dt)
        k_end = ks[-1] if tab.fsal else fw(t_new, y1)
        # output times crossed by accepted steps
        pos = torch.searchsorted(dte, (dirn * t_new)[:, None], right=True)[:, 0]
        cnt = torch.where(accept, pos - nxt, 0)
        # a step shorter than the remaining interval can still land on t_end in floating point
        # (t + dt rounds to it): that sample has arrived too
        done_ok = accept & (last | (t_new == t_end))
        nst = nst + 1
        t_cur = torch.where(accept, t_new, t)
        if adaptive:
            dt_next = dt * controller.factor(E, E_prev, accept, k_exp)
            if not step_gradient:
                dt_next = dt_next.detach()
        else:
            dt_next = dirn * dt0.abs()
        remaining = t_end - t_cur
        last_next = dt_next.abs() >= remaining.abs()
        dt_next = torch.where(last_next, remaining, dt_next)
        stuck = (t_cur + dt_next) == t_cur
        bad = stuck | (nst >= max_steps)
        if not adaptive:
            bad = bad | ~finite
        if check_state:
            state_bad = accept & ~torch.isfinite(k_end).all(dim=1)
            bad = bad | state_bad
        finished = done_ok | bad
        # the one host synchronisation of the iteration: both counts packed in one integer
        packed = int((cnt.max() * (B + 1) + finished.sum()).item())
        max_cnt, n_fin = divmod(packed, B + 1)

        if max_cnt == 1:
            col = nxt.clamp(max=T - 1)
            tq = te.gather(1, col[:, None])[:, 0]
            out_val.append(interpolate(tab, (tq - t) / dt, dt, y, y1, ks, k_end, K))
            out_idx.append(torch.where(cnt > 0, rowsT + col, trash))
        elif max_cnt > 1:  # every output time crossed by this step, all rows, in one batched evaluation
            ms = torch.arange(int(max_cnt), device=dev)
            cols = (nxt[:, None] + ms).clamp(max=T - 1)  # (A, M)
            tq = te.gather(1, cols)
            vals = interpolate_many(tab, (tq - t[:, None]) / dt[:, None], dt, y, y1, ks, k_end, K)
            out_val.append(vals.reshape(-1, N))
            out_idx.append(torch.where(cnt[:, None] > ms, rowsT[:, None] + cols, trash).reshape(-1))

        if record_steps:
            rec["rows"].append(rows)
            rec["j"].append(nacc)
            rec["t"].append(t)
            rec["dt"].append(dt)
            rec["E"].append(E if E is not None else torch.zeros_like(t))
            rec["S"].append(S if S is not None else torch.zeros_like(t))
            rec["ok"].append(accept)

        acc_c = accept[:, None]
        y = torch.where(acc_c, y1, y)
        k1 = torch.where(acc_c, k_end, k1)
        t = t_cur
        nxt = nxt + cnt
        if adaptive:
            RE = torch.addcmul(RE, torch.where(accept, E, 0.0), adt)
            E_prev = torch.where(accept, E, E_prev)
        if stiff:
            RS = torch.addcmul(RS, torch.where(accept, S, 0.0), adt)
        nacc = nacc + accept
        dt = dt_next
        last = last_next

        if n_fin:
            if finite is None:
                finite = torch.isfinite(E)
            code = torch.where(stuck, torch.where(finite, int(Status.DT_UNDERFLOW), int(Status.NONFINITE)), 0)
            if not adaptive:
                code = torch.where(~finite, int(Status.NONFINITE), code)
            if check_state:
                code = torch.where(state_bad, int(Status.NONFINITE), code)
            code = torch.where((code == 0) & (nst >= max_steps), int(Status.MAX_STEPS), code)
            code = torch.where(done_ok, 0, code)
            fidx = finished.nonzero().view(-1)
            take = lambda v, i=fidx: v.index_select(0, i)
            fin["rows"].append(take(rows))
            fin["t"].append(take(t))
            fin["status"].append(take(code))
            fin["nacc"].append(take(nacc))
            fin["nrej"].append(take(nst - nacc))
            if adaptive:
                fin["RE"].append(take(RE))
            if stiff:
                fin["RS"].append(take(RS))
            if n_fin == rows.shape[0]:
                break
            kidx = (~finished).nonzero().view(-1)
            keep = lambda v, i=kidx: v.index_select(0, i)
            rows, t, dt, y, k1, t_end, dirn, nxt, nacc, nst, last, E_prev, te, dte = (
                keep(v) for v in (rows, t, dt, y, k1, t_end, dirn, nxt, nacc, nst, last, E_prev, te, dte)
            )
            rowsT = rows * T
            if adaptive:
                RE = keep(RE)
            if stiff:
                RS = keep(RS)
            if dt0 is not None and dt0.dim() > 0:
                dt0 = keep(dt0)
            rtol_w = keep(rtol_w) if rtol_w.dim() > 0 else rtol_w
            atol_w = keep(atol_w) if atol_w.dim() > 0 else atol_w
            args_w = tuple(keep(a) for a in args_w)

    # ---- assemble outputs (out-of-place, differentiable)
    frows = torch.cat(fin["rows"])
    status = torch.zeros(B, dtype=torch.long, device=dev).index_copy(0, frows, torch.cat(fin["status"]))
    n_accepted = torch.zeros_like(status).index_copy(0, frows, torch.cat(fin["nacc"]))
    n_rejected = torch.zeros_like(status).index_copy(0, frows, torch.cat(fin["nrej"]))
    t_final = torch.zeros(B, dtype=dtype, device=dev).index_copy(0, frows, torch.cat(fin["t"]))
    per_step = s - 1 if tab.fsal else s
    nfe = init_evals + (n_accepted + n_rejected) * per_step
    err_sum = stiff_sum = None
    if adaptive:
        err_sum = torch.zeros(B, dtype=dtype, device=dev).index_copy(0, frows, torch.cat(fin["RE"]))
    if stiff:
        stiff_sum = torch.zeros(B, dtype=dtype, device=dev).index_copy(0, frows, torch.cat(fin["RS"]))
    base = torch.full((B * T + 1, N), float("nan"), dtype=dtype, device=dev)
    ys = base.index_copy(0, torch.cat(out_idx), torch.cat(out_val))[:-1].view(B, T, N)

    record = None
    if record_steps:
        K = max(int(n_accepted.max()), 1)
        r_rows = torch.cat(rec["rows"])
        r_ok = torch.cat(rec["ok"])
        flat = torch.where(r_ok, r_rows * K + torch.cat(rec["j"]), torch.full_like(r_rows, B * K))
        record = {}
        for key in ("t", "dt", "E", "S"):
            src = torch.cat(rec[key])
            record[key] = torch.zeros(B * K + 1, dtype=dtype, device=dev).index_copy(0, flat, src)[:-1].view(B, K)
        record["mask"] = torch.arange(K, device=dev)[None, :] < n_accepted[:, None]
    return LoopResult(ys, status, n_accepted, n_rejected, nfe, err_sum, stiff_sum, t_final, record)
