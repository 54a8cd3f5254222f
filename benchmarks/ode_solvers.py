"""Benchmark: neurode's per-sample adaptive solver side by side with torchdiffeq and torchode.

(a) Van der Pol, B = 256, mu spread over [0.1, 5], t in [0, 10], 11 output times, dopri5 and
    tsit5, rtol 1e-6, atol 1e-8, float32 and float64: median wall time, evaluations of f, steps
    per sample and max error against scipy's DOP853 at rtol 1e-12.
(b) Neural vector field (MLP 2-64-64-2, tanh), B = 1024, t in [0, 1]: forward, and forward +
    backward with direct and adjoint gradients.
(c) Dense output: (a) with 1001 output times (float32), where a step crosses about 8 of them.

Usage: python benchmarks/ode_solvers.py [--quick] [--threads 1] [--runs 15]
Writes benchmarks/results/ode_solvers.json (or ode_solvers_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.integrate import solve_ivp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import neurode  # noqa: E402
from neurode.utils import write_json  # noqa: E402

try:
    import torchdiffeq
except ImportError:  # pragma: no cover
    torchdiffeq = None
try:
    import torchode
except ImportError:  # pragma: no cover
    torchode = None


def vdp(t, y, mu):
    x, v = y[:, 0], y[:, 1]
    return torch.stack([v, mu * (1 - x**2) * v - x], dim=1)


def vdp_reference(mu: np.ndarray, t_eval: np.ndarray) -> np.ndarray:
    out = []
    for m in mu:
        sol = solve_ivp(lambda t, y, m=m: [y[1], m * (1 - y[0] ** 2) * y[1] - y[0]], (t_eval[0], t_eval[-1]),
                        [2.0, 0.0], method="DOP853", t_eval=t_eval, rtol=1e-12, atol=1e-12)
        out.append(sol.y.T)
    return np.stack(out)  # (B, T, 2)


# ------------------------------------------------------------------------------------ part (a)
def part_a(B: int, runs: int, dtypes, methods, n_out: int = 11, part: str = "a") -> list[dict]:
    """Van der Pol with ``n_out`` output times (part (a): 11; part (c): dense output at 1001)."""
    mu64 = torch.linspace(0.1, 5.0, B, dtype=torch.float64)
    t64 = torch.linspace(0.0, 10.0, n_out, dtype=torch.float64)
    ref = vdp_reference(mu64.numpy(), t64.numpy())
    records = []
    for dtype in dtypes:
        mu = mu64.to(dtype)
        t = t64.to(dtype)
        y0 = torch.tensor([2.0, 0.0], dtype=dtype).expand(B, 2).contiguous()
        for method in methods:
            runners = {}
            runners["neurode"] = lambda m=method, y0=y0, t=t, mu=mu: _neurode_a(m, y0, t, mu)
            if torchdiffeq is not None and method == "dopri5":
                runners["torchdiffeq"] = lambda m=method, y0=y0, t=t, mu=mu: _tdq_a(m, y0, t, mu)
            if torchode is not None:
                runners["torchode"] = lambda m=method, y0=y0, t=t, mu=mu: _to_a(m, y0, t, mu)
            outs = {k: fn() for k, fn in runners.items()}  # warm-up and result
            times, cpu = _interleaved(runners, runs)
            for k in runners:
                ys, nfe_total, nfe_max, steps_mean = outs[k]
                err = float(np.abs(ys.detach().double().numpy() - ref).max())
                records.append(dict(part=part, problem="vdp", n_out=n_out, B=B, method=method, dtype=str(dtype).split(".")[-1],
                                    library=k, median_s=statistics.median(times[k]), times_s=times[k],
                                    cpu_median_s=statistics.median(cpu[k]),
                                    nfe_total=nfe_total, nfe_max_per_sample=nfe_max, steps_mean=steps_mean,
                                    max_err=err))
    _ratios(records, key=("part", "method", "dtype"))
    return records


def _neurode_a(method, y0, t, mu):
    sol = neurode.solve_ode(vdp, y0, t, method=method, rtol=1e-6, atol=1e-8, args=(mu,))
    nfe = sol.stats["nfe"]
    return sol.ys, int(nfe.sum()), int(nfe.max()), float(sol.stats["n_accepted"].double().mean())


def _tdq_a(method, y0, t, mu):
    calls = [0]

    def f(tt, y):
        calls[0] += 1
        return vdp(tt, y, mu)

    ys = torchdiffeq.odeint(f, y0, t, method=method, rtol=1e-6, atol=1e-8).transpose(0, 1)
    B = y0.shape[0]
    return ys, calls[0] * B, calls[0], float("nan")


def _to_solver(method, term, rtol, atol):
    step = {"dopri5": torchode.Dopri5, "tsit5": torchode.Tsit5}[method](term=term)
    ctrl = torchode.IntegralController(atol=atol, rtol=rtol, term=term)
    return step, ctrl


def _to_a(method, y0, t, mu):
    term = torchode.ODETerm(vdp, with_args=True)
    step, ctrl = _to_solver(method, term, 1e-6, 1e-8)
    solver = torchode.AutoDiffAdjoint(step, ctrl)
    B = y0.shape[0]
    sol = solver.solve(torchode.InitialValueProblem(y0=y0, t_eval=t.expand(B, -1)), args=mu)
    nfe = sol.stats["n_f_evals"]
    # torchode evaluates f on the whole batch until the slowest sample is done
    return sol.ys, int(nfe.max()) * B, int(nfe.max()), float(sol.stats["n_steps"].double().mean())


# ------------------------------------------------------------------------------------ part (b)
def part_b(B: int, runs: int) -> list[dict]:
    torch.manual_seed(0)
    dtype = torch.float32
    net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 2))

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, t, y):
            return self.net(y)

    field = Field()
    y0 = torch.randn(B, 2, dtype=dtype, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.0, 1.0], dtype=dtype)
    rtol, atol = 1e-6, 1e-8
    runners = {}

    def n_fwd():
        with torch.no_grad():
            return neurode.solve_ode(field, y0, t, method="dopri5", rtol=rtol, atol=atol).ys[:, -1]

    def n_bwd(mode):
        def run():
            field.zero_grad()
            sol = neurode.solve_ode(field, y0, t, method="dopri5", rtol=rtol, atol=atol, gradient=mode)
            (sol.ys[:, -1] ** 2).sum().backward()
            return sol.ys[:, -1]
        return run

    runners[("neurode", "forward")] = n_fwd
    runners[("neurode", "direct")] = n_bwd("direct")
    runners[("neurode", "adjoint")] = n_bwd("adjoint")
    if torchdiffeq is not None:
        def d_fwd():
            with torch.no_grad():
                return torchdiffeq.odeint(field, y0, t, method="dopri5", rtol=rtol, atol=atol)[-1]

        def d_bwd(adjoint):
            def run():
                field.zero_grad()
                fn = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint
                yT = fn(field, y0, t, method="dopri5", rtol=rtol, atol=atol)[-1]
                (yT**2).sum().backward()
                return yT
            return run

        runners[("torchdiffeq", "forward")] = d_fwd
        runners[("torchdiffeq", "direct")] = d_bwd(False)
        runners[("torchdiffeq", "adjoint")] = d_bwd(True)
    if torchode is not None:
        term = torchode.ODETerm(field)

        def o_solver(adjoint):
            step, ctrl = _to_solver("dopri5", term, rtol, atol)
            return (torchode.BacksolveAdjoint(term, step, ctrl) if adjoint else torchode.AutoDiffAdjoint(step, ctrl))

        def o_fwd():
            with torch.no_grad():
                return o_solver(False).solve(torchode.InitialValueProblem(y0=y0, t_eval=t.expand(B, -1))).ys[:, -1]

        def o_bwd(adjoint):
            solver = o_solver(adjoint)

            def run():
                field.zero_grad()
                yT = solver.solve(torchode.InitialValueProblem(y0=y0, t_eval=t.expand(B, -1))).ys[:, -1]
                (yT**2).sum().backward()
                return yT
            return run

        runners[("torchode", "forward")] = o_fwd
        runners[("torchode", "direct")] = o_bwd(False)
        try:
            o_bwd(True)()
            runners[("torchode", "adjoint")] = o_bwd(True)
        except Exception as exc:  # noqa: BLE001
            print(f"torchode adjoint unavailable: {exc}", file=sys.stderr)
    for fn in runners.values():
        fn()
    # interleave within each pass (forward / direct / adjoint) only: the peers' heavy adjoints
    # leave the allocator in a state that slows whichever run follows them
    times, cpu = {}, {}
    for gradient in ("forward", "direct", "adjoint"):
        group = {k: fn for k, fn in runners.items() if k[1] == gradient}
        t_g, c_g = _interleaved(group, runs)
        times.update(t_g)
        cpu.update(c_g)
    records = [dict(part="b", problem="mlp_2_64_64_2", B=B, method="dopri5", dtype="float32", library=k[0],
                    gradient=k[1], median_s=statistics.median(v), times_s=v, cpu_median_s=statistics.median(cpu[k]))
               for k, v in times.items()]
    _ratios(records, key=("part", "gradient"))
    return records


def _interleaved(runners: dict, runs: int):
    """Run every runner `runs` times, interleaved so that machine load affects all alike.
    Returns wall-clock and process CPU times per runner."""
    times = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    keys = list(runners)
    for r in range(runs):
        for k in keys[r % len(keys):] + keys[: r % len(keys)]:  # rotate the order every round
            fn = runners[k]
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return times, cpu


def _ratios(records, key):
    for r in records:
        for peer in ("torchdiffeq", "torchode"):
            match = [q for q in records if q["library"] == peer and all(q.get(k) == r.get(k) for k in key)]
            if match and r["library"] == "neurode":
                r[f"ratio_vs_{peer}"] = r["median_s"] / match[0]["median_s"]
                r[f"cpu_ratio_vs_{peer}"] = r["cpu_median_s"] / match[0]["cpu_median_s"]


def table(records) -> str:
    lines = []
    for part in ("a", "c"):
        a = [r for r in records if r["part"] == part]
        if not a:
            continue
        if lines:
            lines.append("")
        lines += ["(%s) Van der Pol, B = %d, t in [0, 10], %d output times, rtol 1e-6, atol 1e-8"
                  % (part, a[0]["B"], a[0].get("n_out", 11)), "",
                  "| method | dtype | library | wall median (s) | vs torchdiffeq | vs torchode | CPU median (s) | CPU vs torchdiffeq | CPU vs torchode | f evals (rows) | max evals/sample | mean steps | max error |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in a:
            lines.append("| {method} | {dtype} | {library} | {median_s:.4f} | {rd} | {ro} | {cpu_median_s:.4f} | {cd} | {co} | {nfe_total} | {nfe_max_per_sample} | {st} | {max_err:.2e} |".format(
                rd=_fmt(r.get("ratio_vs_torchdiffeq")), ro=_fmt(r.get("ratio_vs_torchode")),
                cd=_fmt(r.get("cpu_ratio_vs_torchdiffeq")), co=_fmt(r.get("cpu_ratio_vs_torchode")),
                st="-" if r["steps_mean"] != r["steps_mean"] else f"{r['steps_mean']:.1f}", **r))
    b = [r for r in records if r["part"] == "b"]
    if b:
        lines += ["", "(b) MLP 2-64-64-2 vector field, B = %d, t in [0, 1], float32, rtol 1e-6, atol 1e-8" % b[0]["B"], "",
                  "| pass | library | method | wall median (s) | vs torchdiffeq | vs torchode | CPU median (s) | CPU vs torchdiffeq | CPU vs torchode |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in b:
            lines.append("| {gradient} | {library} | {method} | {median_s:.4f} | {rd} | {ro} | {cpu_median_s:.4f} | {cd} | {co} |".format(
                rd=_fmt(r.get("ratio_vs_torchdiffeq")), ro=_fmt(r.get("ratio_vs_torchode")),
                cd=_fmt(r.get("cpu_ratio_vs_torchdiffeq")), co=_fmt(r.get("cpu_ratio_vs_torchode")), **r))
    return "\n".join(lines)


def _fmt(x):
    return "-" if x is None else f"{x:.2f}x"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, few runs (seconds)")
    p.add_argument("--runs", type=int, default=None, help="timed runs per case (median reported)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads for every library")
    p.add_argument("--out", default=None, help="JSON path")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    runs = a.runs or (3 if a.quick else 15)
    if a.quick:
        recs = (part_a(32, runs, [torch.float64], ["dopri5"]) + part_b(64, runs)
                + part_a(32, runs, [torch.float32], ["dopri5"], n_out=101, part="c"))
    else:
        recs = (part_a(256, runs, [torch.float32, torch.float64], ["dopri5", "tsit5"]) + part_b(1024, runs)
                + part_a(256, runs, [torch.float32], ["dopri5", "tsit5"], n_out=1001, part="c"))
    out = a.out or str(ROOT / "benchmarks" / "results" / ("ode_solvers_quick.json" if a.quick else "ode_solvers.json"))
    meta = dict(torch=torch.__version__, threads=a.threads, runs=runs, quick=a.quick, machine=platform.machine(),
                python=platform.python_version(),
                torchdiffeq=getattr(torchdiffeq, "__version__", None), torchode=getattr(torchode, "__version__", None))
    write_json(out, dict(meta=meta, records=recs))
    Path(out).with_suffix(".md").write_text(table(recs) + "\n")
    print(table(recs))
    print(f"\nwrote {out}")
    return dict(meta=meta, records=recs)


if __name__ == "__main__":
    main()
