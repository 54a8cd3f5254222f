"""Solver-heuristic regularization on the classic spiral time series (Chen et al. 2018).

The data follow the spiral of the Neural ODE paper's demo, ``y' = A y^3`` with
``A = [[-0.1, 2.0], [-2.0, -0.1]]`` (elementwise cube), observed with Gaussian noise at 30 times in
[0, 3] from 64 initial states on the ring 1.0 <= |y0| <= 1.5 (32 to train, 32 to test). A Neural
ODE ``f(y) = W2 tanh(W1 y^3 + b1) + b2`` (tsit5) is fitted to the noisy training trajectories by MSE;
the test MSE is against the clean test trajectories. Methods: vanilla, global error regularization
(Pal et al. 2021) and local error regularization with unbiased sampling (Pal et al. 2023).
``--n-train``, ``--noise`` and ``--aug-dims`` change the setting: with ``--aug-dims k`` the field
acts on ``z = (y, a)``, ``k`` latent dimensions starting at 0 (Dupont et al. 2019), and only ``y``
is compared with the data.

Run:
    PYTHONPATH=. python examples/regularization_spiral.py --quick      # < 1 minute on CPU
    PYTHONPATH=. python examples/regularization_spiral.py              # full
Outputs ``runs/regularization_spiral/results.json``, ``trajectories.png`` and ``nfe_mse.png``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from neurode import solve_ode
from neurode.layers import NeuralODE
from neurode.regularizers import ExponentialAnnealing, GlobalError, LocalError
from neurode.utils import progress, run_dir, seed_everything, write_json

METHODS = ("vanilla", "error_global", "error_local_unbiased")
TRUE_A = ((-0.1, 2.0), (-2.0, -0.1))


@dataclass
class SpiralConfig:
    """Settings of one run (the same for every method)."""

    n_train: int = 32
    n_test: int = 32
    n_times: int = 30
    t_end: float = 3.0
    noise: float = 0.05
    width: int = 50
    aug_dims: int = 0  # latent state dimensions appended to y, zero at t0 (Dupont et al. 2019); 0: none
    iters: int = 300
    lr: float = 3e-2
    rtol: float = 1e-6
    atol: float = 1e-6
    error_weight: tuple[float, float] = (0.01, 0.001)  # exponential annealing w0 -> w1 (global)
    local_weight: tuple[float, float] = (1.0, 0.1)  # 10 -> 1 diverged (test MSE 1.6 to 181)
    predict_repeats: int = 10  # prediction time = min over repeats (after one warm-up pass)


class CubicField(nn.Module):
    """``f(t, z) = W2 tanh(W1 z^3 + b1) + b2`` (the Neural ODE demo's model) on the augmented state
    ``z = (y, a)`` of dimension ``2 + aug_dims``."""

    def __init__(self, width: int, aug_dims: int = 0):
        super().__init__()
        d = 2 + aug_dims
        self.net = nn.Sequential(nn.Linear(d, width), nn.Tanh(), nn.Linear(width, d))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y**3)


class AugmentedNeuralODE(NeuralODE):
    """``NeuralODE`` on ``z = (y, 0)`` (``aug_dims`` zeros appended); returns the ``y`` part only.
    The solver (and every regularizer) sees the whole augmented state."""

    def __init__(self, *args, aug_dims: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.aug_dims = aug_dims

    def forward(self, y0: torch.Tensor, **kwargs) -> torch.Tensor:
        z0 = torch.cat([y0, y0.new_zeros(y0.shape[0], self.aug_dims)], dim=1)
        return super().forward(z0, **kwargs)[..., : y0.shape[1]]


def make_data(cfg: SpiralConfig, seed: int = 0) -> dict:
    """Clean and noisy trajectories (B, T, 2) from the true spiral, fixed by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    n = cfg.n_train + cfg.n_test
    r = 1.0 + 0.5 * torch.rand(n, generator=g, dtype=torch.float64)
    phi = 2 * torch.pi * torch.rand(n, generator=g, dtype=torch.float64)
    y0 = torch.stack([r * torch.cos(phi), r * torch.sin(phi)], dim=1)
    A = torch.tensor(TRUE_A, dtype=torch.float64)
    t = torch.linspace(0.0, cfg.t_end, cfg.n_times, dtype=torch.float64)
    clean = solve_ode(lambda t, y: (y**3) @ A.T, y0, t, rtol=1e-10, atol=1e-10).ys
    noisy = clean + cfg.noise * torch.randn(clean.shape, generator=g, dtype=torch.float64)
    f32 = torch.float32
    # the cost of the TRUE field on the test states at the benchmark's tolerances: a floor for the NFE
    # of any model that follows the true trajectories
    truth = solve_ode(lambda t, y: (y**3) @ A.T.to(f32), clean[cfg.n_train:, 0].to(f32), t.to(f32),
                      rtol=cfg.rtol, atol=cfg.atol)
    return {
        "truth_nfe": truth.stats["nfe"].float().mean(),
        "t": t.to(f32), "train_y0": noisy[: cfg.n_train, 0].to(f32), "train_ys": noisy[: cfg.n_train].to(f32),
        "test_y0": clean[cfg.n_train:, 0].to(f32), "test_ys": clean[cfg.n_train:].to(f32),
    }


def regularizers_for(method: str, cfg: SpiralConfig) -> tuple:
    if method == "vanilla":
        return ()
    if method == "error_global":
        return (GlobalError(ExponentialAnnealing(*cfg.error_weight, n_steps=cfg.iters)),)
    if method == "error_local_unbiased":
        return (LocalError(ExponentialAnnealing(*cfg.local_weight, n_steps=cfg.iters), sampling="unbiased"),)
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")


def run_method(method: str, seed: int, cfg: SpiralConfig, data: dict, device: str = "cpu",
               show: bool = True) -> tuple[dict, torch.Tensor]:
    """Train one model; return (record, predicted test trajectories)."""
    g = seed_everything(seed)
    d = {k: v.to(device) for k, v in data.items()}
    node = AugmentedNeuralODE(CubicField(cfg.width, cfg.aug_dims), (0.0, cfg.t_end), t_eval=data["t"],
                              rtol=cfg.rtol, atol=cfg.atol, regularizers=regularizers_for(method, cfg), generator=g,
                              aug_dims=cfg.aug_dims).to(device)
    opt = torch.optim.Adam(node.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.iters)
    t_start = time.perf_counter()
    c_start = time.process_time()
    for it in progress(range(cfg.iters), desc=method, **({} if show else {"disable": True})):
        opt.zero_grad()
        pred = node(d["train_y0"], step=it)
        loss = (pred - d["train_ys"]).pow(2).mean()
        (loss + node.regularization).backward()
        opt.step()
        sched.step()
    train_time = time.perf_counter() - t_start
    train_cpu = time.process_time() - c_start
    node.eval()
    with torch.no_grad():
        pred = node(d["test_y0"])  # warm-up
        times = []
        for _ in range(cfg.predict_repeats):
            t0 = time.perf_counter()
            pred = node(d["test_y0"])
            times.append(time.perf_counter() - t0)
        nfe = node.solution.stats["nfe"].float()
        mse = float((pred - d["test_ys"]).pow(2).mean())
    rec = {
        "task": "spiral", "method": method, "seed": seed, "metric_name": "mse", "test_metric": mse,
        "train_time_s": train_time, "train_cpu_s": train_cpu, "predict_time_s": min(times),
        "predict_time_median_s": statistics.median(times), "nfe": float(nfe.mean()),
        "nfe_max": float(nfe.max()), "nfe_true_field": float(data["truth_nfe"]), "iters": cfg.iters, "rtol": cfg.rtol, "atol": cfg.atol,
    }
    return rec, pred.cpu()


def plot(records: list[dict], preds: dict, data: dict, out) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(preds), figsize=(4 * len(preds), 4), squeeze=False)
    for ax, (m, p) in zip(axes[0], preds.items()):
        for b in range(min(4, p.shape[0])):
            ax.plot(*data["test_ys"][b].T, "k-", lw=1, alpha=0.6)
            ax.plot(*p[b].T, "--", lw=1.2)
        ax.set_title(m, fontsize=9)
        ax.set_aspect("equal")
    fig.suptitle("spiral test trajectories: truth (black) and Neural ODE (dashed)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "trajectories.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for m in dict.fromkeys(r["method"] for r in records):
        rs = [r for r in records if r["method"] == m]
        ax.scatter([r["nfe"] for r in rs], [r["test_metric"] for r in rs], label=m)
    ax.set_xlabel("NFE of the test solve (mean per sample)")
    ax.set_ylabel("test MSE")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "nfe_mse.png", dpi=110)
    plt.close(fig)


def quick_config() -> SpiralConfig:
    return SpiralConfig(iters=40, rtol=1e-5, atol=1e-5, predict_repeats=3)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a few iterations, under a minute on CPU")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default runs/regularization_spiral/)")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    p.add_argument("--iters", type=int, default=None)
    p.add_argument("--error-weight", default=None, help="w0,w1 of the global error weight annealing")
    p.add_argument("--local-weight", default=None, help="w0,w1 of the local error weight annealing")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--n-train", type=int, default=None, help="training trajectories")
    p.add_argument("--noise", type=float, default=None, help="observation noise sd")
    p.add_argument("--aug-dims", type=int, default=None, help="latent dimensions appended to the state")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = quick_config() if a.quick else SpiralConfig()
    if a.iters is not None:
        cfg.iters = a.iters
    for name in ("n_train", "noise", "aug_dims"):
        if getattr(a, name) is not None:
            setattr(cfg, name, getattr(a, name))
    if a.error_weight:
        cfg.error_weight = tuple(float(x) for x in a.error_weight.split(","))
    if a.local_weight:
        cfg.local_weight = tuple(float(x) for x in a.local_weight.split(","))
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"--methods: expected names from {METHODS}, got {m!r}")
    out = run_dir("regularization_spiral", a.out)
    data = make_data(cfg)
    records, preds = [], {}
    for m in methods:
        r, pred = run_method(m, a.seed, cfg, data, a.device)
        records.append(r)
        preds[m] = pred
        print(f"{m:22s} MSE {r['test_metric']:.3e}  NFE {r['nfe']:6.1f}  train {r['train_time_s']:6.1f}s  "
              f"predict {1000 * r['predict_time_s']:7.1f}ms", flush=True)
    write_json(out / "results.json", {"task": "spiral", "quick": a.quick, "seed": a.seed, "config": cfg.__dict__,
                                      "records": records})
    plot(records, preds, data, out)
    print(f"wrote {out / 'results.json'}")
    return {"records": records}


if __name__ == "__main__":
    main()
