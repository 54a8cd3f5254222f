"""Shared pipelines of the hidden-term discovery examples and of ``benchmarks/discovery.py``.

Each ``run_*`` function generates data, trains a UPINN (``pinn.discovery``) with the one fit loop
(``pinn.training.fit``), extracts the hidden term with ``pinn.symbolic.extract`` for each backend,
fine-tunes the constants of a correctly structured expression on the same losses, and returns
JSON-ready records plus what the plots need.
"""

from __future__ import annotations

import time
from typing import Any

import sympy
import torch

from pinn.discovery import HiddenODE, HiddenPDE
from pinn.pdes.discovery_data import burgers, fisher_kpp, lotka_volterra
from pinn.symbolic import OperonRegressor, SindyRegressor, extract
from pinn.training import fit

DT = torch.float64


def make_backend(name: str, degree: int, seed: int, quick: bool):
    if name == "sindy":
        # The learnt hidden term is only accurate to a few percent (more with noisy data): accept
        # the sparsest model whose validation error is within 0.1 (relative to the target's RMS)
        # of the best one.
        return SindyRegressor(degree=degree, abs_tol=0.1, random_state=seed)
    if name == "operon":
        return OperonRegressor(
            allowed_symbols="add,sub,mul,constant,variable",
            population_size=300 if quick else 500,
            generations=40 if quick else 100,
            max_length=15,
            abs_tol=0.05,  # 0.1 lets too-short trees (e.g. a x + b) through on one trajectory
            max_time=20 if quick else 60,
            random_state=seed,
        )
    return name  # "pysr": extract() builds it (and says what to install when missing)


def score(expr: sympy.Expr, target: dict[sympy.Expr, float], tol: float = 0.0) -> tuple[bool, float]:
    """(structure_ok, max relative coefficient error) of ``expr`` against ``{monomial: coef}``."""
    coeffs = {}
    for term, c in sympy.expand(expr).as_coefficients_dict().items():
        if term.free_symbols or abs(float(c)) > tol:
            coeffs[term] = coeffs.get(term, 0.0) + float(c)
    structure_ok = set(coeffs) == set(target) and all(
        c.is_number or c.is_Symbol or c.is_Mul or c.is_Pow for c in coeffs
    )
    errs = [abs(coeffs.get(k, 0.0) - v) / abs(v) for k, v in target.items()]
    return structure_ok, float(max(errs))


def _fmt(expr: sympy.Expr) -> str:
    return str(expr.xreplace({f: sympy.Float(float(f), 6) for f in expr.atoms(sympy.Float)}))


# ----------------------------------------------------------------------------------------------
# Lotka-Volterra
# ----------------------------------------------------------------------------------------------
def run_lotka_volterra(
    noise: float,
    seed: int,
    *,
    quick: bool,
    backends: tuple[str, ...] = ("sindy",),
    device: str = "cpu",
) -> dict[str, Any]:
    """UPINN on Lotka-Volterra with both interaction terms hidden (METHODS.md section 6)."""
    torch.manual_seed(seed)
    data = lotka_volterra(noise, seed)
    p = data.params
    dev = torch.device(device)
    t_obs = torch.tensor(data.t_obs, dtype=DT, device=dev)
    u_obs = torch.tensor(data.u_obs, dtype=DT, device=dev)
    t_col = torch.linspace(0.0, 3.0, 1000, dtype=DT, device=dev)
    u0 = torch.tensor([p["x0"], p["y0"]], dtype=DT, device=dev)

    def known(t, u):
        return torch.stack([p["alpha"] * u[:, 0], -p["gamma"] * u[:, 1]], dim=1)

    model = HiddenODE(
        2, known, hidden_inputs=["x", "y"], state_names=["x", "y"], t_range=(0.0, 3.0),
        u_center=u_obs.mean(0).tolist(), u_scale=u_obs.std(0).tolist(), hidden_scale=1.0,
        width=32, depth=3, hidden_width=32, hidden_depth=2,
    ).to(dev)
    weights = {"data": 1.0, "ic": 1.0, "residual": 10.0}
    t0 = time.perf_counter()
    hist = fit(model, lambda: model.loss_terms(t_obs, u_obs, t_col, u0=u0), weights=weights,
               adam_steps=1500 if quick else 2500, lbfgs_steps=300 if quick else 800,
               lr=3e-3, lr_decay=0.1, seed=seed, progress=False, desc="lv")
    train_s = time.perf_counter() - t0

    t_dense = torch.linspace(0.0, 3.0, 600, dtype=DT, device=dev)
    z, F = model.hidden_samples(t_dense)
    target = [{sympy.Symbol("x") * sympy.Symbol("y"): -p["beta"]},
              {sympy.Symbol("x") * sympy.Symbol("y"): p["delta"]}]
    records, curves = [], {}
    for name in backends:
        t1 = time.perf_counter()
        try:
            res = extract(model.hidden, z, backend=make_backend(name, 2, seed, quick), feature_names=["x", "y"],
                          output_names=["F1", "F2"], seed=seed)
        except ImportError as exc:
            records.append({"problem": "lotka_volterra", "noise": noise, "backend": name, "seed": seed,
                            "expression": None, "structure_ok": False, "max_coef_rel_error": None,
                            "time_s": time.perf_counter() - t1, "error": str(exc).split(":")[0]})
            continue
        ext_s = time.perf_counter() - t1
        sc = [score(e.expression, tg) for e, tg in zip(res, target)]
        structure_ok = all(s[0] for s in sc)
        ext_err = max(s[1] for s in sc)
        exprs = res.to_sympy()
        refined_err = None
        if structure_ok:
            # the discovered term goes back into the model, its constants fine-tuned with the surrogate
            refined = _copy_ode(model)
            refined.replace_hidden(res.to_torch().to(dev))
            fit(refined, lambda m=refined: m.loss_terms(t_obs, u_obs, t_col, u0=u0), weights=weights,
                adam_steps=300 if quick else 600, lbfgs_steps=200 if quick else 400, lr=1e-3,
                seed=seed, progress=False, desc="lv-refine")
            exprs = refined.hidden.to_sympy()
            refined_err = max(score(e, tg)[1] for e, tg in zip(exprs, target))
            curves[name] = refined
        final_err = refined_err if refined_err is not None else ext_err
        records.append({
            "problem": "lotka_volterra", "noise": noise, "backend": name, "seed": seed,
            "expression": "; ".join(f"F{i + 1} = {_fmt(e)}" for i, e in enumerate(exprs)),
            "extracted": "; ".join(str(e) for e in res),
            "structure_ok": structure_ok, "max_coef_rel_error": final_err,
            "extracted_coef_rel_error": ext_err, "heldout_error": max(e.error for e in res),
            "time_s": train_s + (time.perf_counter() - t1), "train_s": train_s, "extract_s": ext_s,
        })
    return {"records": records, "model": model, "data": data, "history": hist, "refined": curves,
            "samples": (z, F)}


def _copy_ode(model: HiddenODE) -> HiddenODE:
    import copy

    return copy.deepcopy(model)


# ----------------------------------------------------------------------------------------------
# PDEs: Burgers and Fisher-KPP
# ----------------------------------------------------------------------------------------------
PDE_SETUPS = {
    "burgers": dict(make=burgers, inputs=["u", "u_x"], degree=2,
                    known=lambda p: (lambda u_xx, **_: p["nu"] * u_xx),
                    target=lambda p: {sympy.Symbol("u") * sympy.Symbol("u_x"): -1.0},
                    ic=lambda x: -torch.sin(torch.pi * x), t_end=1.0, hidden_scale=2.0),
    "fisher_kpp": dict(make=fisher_kpp, inputs=["u"], degree=3,
                       known=lambda p: (lambda u_xx, **_: p["D"] * u_xx),
                       target=lambda p: {sympy.Symbol("u"): p["r"], sympy.Symbol("u") ** 2: -p["r"]},
                       ic=lambda x: 0.05 + 0.9 * torch.exp(-((x / 0.2) ** 2)), t_end=2.0, hidden_scale=0.5),
}


def run_pde(
    problem: str,
    noise: float,
    seed: int,
    *,
    quick: bool,
    backends: tuple[str, ...] = ("sindy",),
    device: str = "cpu",
    n_obs: int = 500,
) -> dict[str, Any]:
    """UPINN on Burgers (F = -u u_x hidden) or Fisher-KPP (F = r u (1 - u) hidden)."""
    setup = PDE_SETUPS[problem]
    torch.manual_seed(seed)
    data = setup["make"](noise, seed, n_obs=n_obs)
    p = data.params
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    tx_obs = torch.tensor(data.tx_obs, dtype=DT, device=dev)
    u_obs = torch.tensor(data.u_obs, dtype=DT, device=dev)
    t_end = setup["t_end"]
    n_col = 1000 if quick else 1500
    lo = torch.tensor([0.0, -1.0], dtype=DT)
    hi = torch.tensor([t_end, 1.0], dtype=DT)

    def colloc(n):
        return (lo + (hi - lo) * torch.rand(n, 2, generator=gen, dtype=DT)).to(dev)

    x_ic = torch.linspace(-1.0, 1.0, 128, dtype=DT, device=dev)
    t_bc = torch.linspace(0.0, t_end, 64, dtype=DT, device=dev)
    model = HiddenPDE(
        setup["known"](p), hidden_inputs=setup["inputs"], t_range=(0.0, t_end), x_range=(-1.0, 1.0),
        u_center=float(u_obs.mean()), u_scale=float(u_obs.std()), hidden_scale=setup["hidden_scale"],
        width=32, depth=4, hidden_width=32, hidden_depth=2,
    ).to(dev)
    col_fixed = colloc(n_col)
    pools = [colloc(n_col) for _ in range(8)]

    def loss_fn(step: int, m: HiddenPDE = model):
        col = pools[step % len(pools)] if step < adam_steps else col_fixed
        return m.loss_terms(tx_obs, u_obs, col, ic=setup["ic"], x_ic=x_ic, bc="periodic", t_bc=t_bc)

    adam_steps = 800 if quick else 1500
    t0 = time.perf_counter()
    hist = fit(model, loss_fn, adam_steps=adam_steps, lbfgs_steps=100 if quick else 200, lr=3e-3,
               lr_decay=0.1, seed=seed, progress=False, desc=problem)
    train_s = time.perf_counter() - t0

    probe = colloc(3000)
    z, F = model.hidden_samples(probe)
    target = setup["target"](p)
    records, refined_models = [], {}
    for name in backends:
        t1 = time.perf_counter()
        try:
            res = extract(model.hidden, z, backend=make_backend(name, setup["degree"], seed, quick),
                          feature_names=setup["inputs"], output_names=["F"], seed=seed)
        except ImportError as exc:
            records.append({"problem": problem, "noise": noise, "backend": name, "seed": seed,
                            "expression": None, "structure_ok": False, "max_coef_rel_error": None,
                            "time_s": time.perf_counter() - t1, "error": str(exc).split(":")[0]})
            continue
        ext_s = time.perf_counter() - t1
        structure_ok, ext_err = score(res[0].expression, target)
        expr = res[0].expression
        refined_err = None
        if structure_ok:
            import copy

            refined = copy.deepcopy(model)
            refined.replace_hidden(res.to_torch().to(dev))
            adam_steps_r = 0
            fit(refined, lambda m=refined: m.loss_terms(tx_obs, u_obs, col_fixed, ic=setup["ic"], x_ic=x_ic,
                                                         bc="periodic", t_bc=t_bc),
                adam_steps=adam_steps_r, lbfgs_steps=50 if quick else 100, seed=seed, progress=False,
                desc=f"{problem}-refine")
            expr = refined.hidden.to_sympy()[0]
            refined_err = score(expr, target)[1]
            refined_models[name] = refined
        records.append({
            "problem": problem, "noise": noise, "backend": name, "seed": seed,
            "expression": f"F = {_fmt(expr)}", "extracted": str(res[0]),
            "structure_ok": structure_ok,
            "max_coef_rel_error": refined_err if refined_err is not None else ext_err,
            "extracted_coef_rel_error": ext_err, "heldout_error": res[0].error,
            "time_s": train_s + (time.perf_counter() - t1), "train_s": train_s, "extract_s": ext_s,
            "n_obs": int(n_obs),
        })
    return {"records": records, "model": model, "data": data, "history": hist, "refined": refined_models,
            "samples": (z, F)}
