"""Training recipes shared by the examples and the Lagrangian-PINN benchmark.

A recipe builds a problem, a model and collocation points, trains with :func:`pinn.training.fit`
and scores the model on the evaluation grid (256 x 100) against the reference solution.

Example:
    >>> res = run_case("convection", "lpinn", {"beta": 30.0}, quick=True)   # doctest: +SKIP
    >>> res.record["rel_l2"] < 1e-2                                         # doctest: +SKIP
    True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .lagrangian import PINN, LagrangianPINN
from .problems import Transport1D, relative_l2
from .sampling import grid, grid_axes, sample, sample_boundary, sample_initial
from .training import History, fit

__all__ = ["CASES", "Config", "Result", "make_problem", "default_config", "run_case", "plot_result", "example_main"]

CASES = ("convection", "burgers", "convection_diffusion", "burgers_standard", "reaction")


@dataclass
class Config:
    """Training settings of one run (see :func:`default_config`)."""

    width: int = 50
    depth: int = 4
    ic: str = "hard"
    bc: str = "hard"
    n_x: int = 64
    n_t: int = 50
    points: str = "grid"  # "grid" (n_x x n_t) or "sobol" (n_x * n_t points)
    n_ic: int = 256
    adam_steps: int = 500
    lbfgs_steps: int = 500
    lr: float = 1e-3
    lr_decay: float = 1.0
    weights: dict[str, float] | None = None
    seed: int = 0
    dtype: str = "float32"


@dataclass
class Result:
    """A trained model, its history, its prediction and the report record."""

    model: nn.Module
    history: History
    x: np.ndarray
    t: np.ndarray
    u_pred: np.ndarray
    u_ref: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)


def make_problem(case: str, param: dict[str, float]) -> Transport1D:
    """The problem of a benchmark case with parameters ``param``."""
    if case == "convection":
        return Transport1D.convection(param["beta"])
    if case == "burgers":
        return Transport1D.burgers(param.get("nu", 0.01), param["C"])
    if case == "convection_diffusion":
        return Transport1D.convection_diffusion(param["beta"], param["nu"])
    if case == "burgers_standard":
        return Transport1D.burgers_standard()
    if case == "reaction":
        return Transport1D.reaction_transport(param["c"], param.get("nu", 0.0))
    raise ValueError(f"case: expected one of {CASES}, got {case!r}")


def default_config(case: str, model: str, quick: bool = False) -> Config:
    """The settings used by the benchmark for ``case`` and ``model`` (``"pinn"`` or ``"lpinn"``)."""
    if model not in ("pinn", "lpinn"):
        raise ValueError(f"model: expected 'pinn' or 'lpinn', got {model!r}")
    if case == "burgers_standard":
        cfg = Config(width=32, depth=4, points="sobol", n_x=80, n_t=64, adam_steps=1000,
                     lbfgs_steps=1500, lr=2e-3, lr_decay=0.1)
        if quick:
            cfg.n_x, cfg.n_t, cfg.adam_steps, cfg.lbfgs_steps = 50, 40, 200, 150
        return cfg
    if model == "pinn":  # the literature's vanilla setting: soft initial and periodic conditions
        cfg = Config(ic="soft", bc="soft", adam_steps=1000, lbfgs_steps=1000)
        if quick:
            cfg.n_x, cfg.n_t, cfg.adam_steps, cfg.lbfgs_steps = 32, 24, 200, 100
        return cfg
    if case == "convection":
        cfg = Config(adam_steps=500, lbfgs_steps=500)
        if quick:
            cfg.width, cfg.depth, cfg.n_x, cfg.n_t, cfg.adam_steps, cfg.lbfgs_steps = 32, 3, 48, 32, 300, 200
        return cfg
    cfg = Config(width=32, depth=4, n_x=48, n_t=40, adam_steps=1000, lbfgs_steps=1000)
    if quick:
        cfg.width, cfg.depth, cfg.n_x, cfg.n_t, cfg.adam_steps, cfg.lbfgs_steps = 32, 3, 32, 24, 300, 150
    return cfg


def run_case(
    case: str,
    model: str,
    param: dict[str, float],
    *,
    quick: bool = False,
    config: Config | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> Result:
    """Train ``model`` (``"pinn"`` or ``"lpinn"``) on ``case`` and score it on the 256 x 100 grid."""
    cfg = config or default_config(case, model, quick)
    problem = make_problem(case, param)
    dtype = getattr(torch, cfg.dtype)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    dom = problem.domain
    if cfg.points == "grid":
        pts = grid(dom, (cfg.n_x, cfg.n_t), dtype=dtype, device=device)
    else:
        pts = sample(dom, cfg.n_x * cfg.n_t, "sobol", generator=gen, dtype=dtype, device=device)
    if model == "lpinn":
        net: nn.Module = LagrangianPINN(problem, width=cfg.width, depth=cfg.depth, ic=cfg.ic).to(device, dtype)
        x_ic = sample_initial(dom, cfg.n_ic, "sobol", generator=gen, dtype=dtype, device=device)[:, 0]

        def loss_fn():
            return net.loss_terms(pts, x_ic)
    else:
        net = PINN(problem, width=cfg.width, depth=cfg.depth, ic=cfg.ic, bc=cfg.bc).to(device, dtype)
        x_ic = sample_initial(dom, cfg.n_ic, "sobol", generator=gen, dtype=dtype, device=device)[:, 0]
        t_bc = sample_boundary(dom, 128, "sobol", generator=gen, dtype=dtype, device=device)[0][:, 1]

        def loss_fn():
            return net.loss_terms(pts, x_ic, t_bc)

    weights = cfg.weights or net.default_weights
    start = time.perf_counter()
    history = fit(net, loss_fn, weights=weights, adam_steps=cfg.adam_steps, lbfgs_steps=cfg.lbfgs_steps,
                  lr=cfg.lr, lr_decay=cfg.lr_decay, seed=cfg.seed, progress=progress,
                  desc=f"{model} {case} {param}")
    train_time = time.perf_counter() - start
    x, t = grid_axes(dom, (256, 100), dtype=torch.float64)
    u_ref = problem.reference(x.numpy(), t.numpy())
    net64 = net.to(device, torch.float64)
    u_pred = net64.predict(x.to(device), t.to(device)).cpu().numpy()
    rec = {
        "case": case,
        "model": model,
        "param": dict(param),
        "rel_l2": relative_l2(u_pred, u_ref),
        # the error relative to the fluctuation u - mean(u) (stricter when the mean is large, e.g. C = 30)
        "rel_l2_centered": relative_l2(u_pred - u_ref.mean(), u_ref - u_ref.mean()),
        "train_time_s": round(train_time, 2),
        "steps": {"adam": cfg.adam_steps, "lbfgs": cfg.lbfgs_steps, "evaluations": len(history)},
        "final_loss": history.last(),
        "stop_reason": history.stop_reason,
        "rejected_lbfgs_trials": history.rejected,
        "config": {k: v for k, v in vars(cfg).items()},
        "quick": quick,
    }
    return Result(net64, history, x.numpy(), t.numpy(), u_pred, u_ref, rec)


def plot_result(res: Result, path: str, title: str = "") -> None:
    """Save reference, prediction and error of ``u(x, t)`` (and, for a Lagrangian PINN, its
    characteristics) to ``path`` (PNG, matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lag = isinstance(res.model, LagrangianPINN)
    ncols = 4 if lag else 3
    fig, axes = plt.subplots(1, ncols, figsize=(4 * ncols, 3.3), constrained_layout=True)
    ext = [res.x[0], res.x[-1], res.t[0], res.t[-1]]
    for ax, data, name in zip(axes, (res.u_ref, res.u_pred, np.abs(res.u_pred - res.u_ref)),
                              ("reference", "prediction", "|error|")):
        im = ax.imshow(data, origin="lower", aspect="auto", extent=ext, cmap="RdBu_r" if name != "|error|" else "viridis")
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.set_ylabel("t")
        fig.colorbar(im, ax=ax)
    if lag:
        ax = axes[3]
        sp = res.model.problem.domain.space
        x0 = torch.linspace(sp.lows[0], sp.highs[0], 17, dtype=torch.float64)[:-1]
        t = torch.linspace(*res.model.problem.domain.t_span, 100, dtype=torch.float64)
        _, xl = res.model.characteristics(x0, t)
        xl = xl.numpy()
        for j in range(xl.shape[1]):
            ax.plot(xl[:, j], t.numpy(), lw=1)
        ax.set_title("characteristics x_L(x0, t)")
        ax.set_xlabel("x (unwrapped)")
        ax.set_ylabel("t")
    fig.suptitle(title or f"{res.record['model']} {res.record['case']} {res.record['param']}: "
                 f"rel L2 {res.record['rel_l2']:.2e}")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def example_main(name: str, description: str, full: list, quick: list, argv: list[str] | None = None) -> int:
    """Command line of the PINN examples: run ``quick`` or ``full`` cases, plot each, write results.json.

    Args:
        name: example name; the default output folder is ``runs/<name>``.
        description: the ``--help`` text.
        full, quick: lists of ``(case, model, param)`` for full mode and ``--quick``.
        argv: arguments (default ``sys.argv[1:]``): ``--quick``, ``--device``, ``--threads``, ``--out``.
    """
    import argparse

    from neurode.utils import run_dir, write_json

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="a short run (under a minute on CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--out", default=None, help=f"output folder (default runs/{name})")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = run_dir(name, args.out)
    records = []
    for case, model, param in quick if args.quick else full:
        res = run_case(case, model, param, quick=args.quick, device=args.device)
        records.append(res.record)
        tag = "_".join([model] + [f"{k}{v:g}" for k, v in param.items()])
        plot_result(res, str(out / f"{tag}.png"))
        print(f"{model} {case} {param}: rel_l2={res.record['rel_l2']:.3e} "
              f"time={res.record['train_time_s']:.1f}s", flush=True)
    write_json(out / "results.json", {"example": name, "quick": args.quick, "runs": records})
    print(f"wrote {out / 'results.json'}")
    return 0
