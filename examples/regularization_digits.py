"""Solver-heuristic regularization of a Neural ODE classifier on scikit-learn's digits.

Pal et al. (2021, 2023) regularize the adaptive solver's own error and stiffness estimates so the
trained dynamics are cheap to solve. This script trains the same model with: vanilla, global error
(error_global), global stiffness (stiffness_global), local error with unbiased and biased sampling
(error_local_unbiased, error_local_biased), STEER and RNODE, and records test accuracy, training
wall time, prediction wall time on a fixed batch (the whole test set) and the NFE of the test solve.

Model: 8x8 image (64 pixels) -> linear encoder to 32 -> NeuralODE(tsit5, t in [0, 1]) -> linear
classifier to 10 classes. Data: the 1797 images, stratified 80/20 train/test split.

Run:
    PYTHONPATH=. python examples/regularization_digits.py --quick      # < 1 minute on CPU
    PYTHONPATH=. python examples/regularization_digits.py              # full
Outputs ``runs/regularization_digits/results.json`` and ``nfe_accuracy.png`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from neurode.layers import NeuralODE
from neurode.regularizers import (
    RNODE,
    STEER,
    ExponentialAnnealing,
    GlobalError,
    GlobalStiffness,
    LocalError,
)
from neurode.utils import progress, run_dir, seed_everything, write_json

METHODS = (
    "vanilla", "error_global", "stiffness_global", "error_local_unbiased", "error_local_biased", "steer", "rnode",
)


@dataclass
class DigitsConfig:
    """Settings of one run (the same for every method)."""

    hidden: int = 32  # ODE state dimension
    width: int = 64  # vector-field MLP width
    epochs: int = 40
    batch_size: int = 128
    lr: float = 3e-3
    rtol: float = 1e-6  # tsit5 tolerances (the paper: 1.4e-8; looser here to fit a CPU budget)
    atol: float = 1e-6
    error_weight: tuple[float, float] = (20.0, 2.0)  # exponential annealing w0 -> w1 (global)
    # local E|dt| of one heuristic-size step is ~1000x smaller than the global sum over the solve
    local_weight: tuple[float, float] = (2e6, 2e5)  # exponential annealing w0 -> w1 (local); tuned on a validation split
    stiffness_weight: float = 0.0285  # (paper)
    steer_b: float = 0.5  # (paper, T = 1)
    rnode_weight: float = 0.01  # kinetic and Jacobian weights (Finlay et al.)
    predict_repeats: int = 10  # prediction time = min over repeats (after one warm-up pass)


class Field(nn.Module):
    """Time-dependent MLP vector field f(t, y) = W2 tanh(W1 [y, t] + b1) + b2."""

    def __init__(self, dim: int, width: int):
        super().__init__()
        self.l1 = nn.Linear(dim + 1, width)
        self.l2 = nn.Linear(width, dim)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.l2(torch.tanh(self.l1(torch.cat([y, t[:, None]], dim=1))))


def regularizers_for(method: str, cfg: DigitsConfig, n_iters: int) -> tuple:
    """The regularizer objects of a method name."""
    if method == "vanilla":
        return ()
    if method == "error_global":
        return (GlobalError(ExponentialAnnealing(*cfg.error_weight, n_steps=n_iters)),)
    if method == "stiffness_global":
        return (GlobalStiffness(cfg.stiffness_weight),)
    if method in ("error_local_unbiased", "error_local_biased"):
        sampling = method.rsplit("_", 1)[1]
        return (LocalError(ExponentialAnnealing(*cfg.local_weight, n_steps=n_iters), sampling=sampling),)
    if method == "steer":
        return (STEER(cfg.steer_b),)
    if method == "rnode":
        return (RNODE(cfg.rnode_weight, cfg.rnode_weight),)
    raise ValueError(f"method: expected one of {METHODS}, got {method!r}")


def load_data(seed: int = 0, device: str = "cpu"):
    """Digits scaled to [0, 1], stratified 80/20 split (fixed by ``seed``)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.2, stratify=y, random_state=seed)
    f32 = torch.float32
    return (torch.as_tensor(Xtr, dtype=f32, device=device), torch.as_tensor(ytr, device=device),
            torch.as_tensor(Xte, dtype=f32, device=device), torch.as_tensor(yte, device=device))


def run_method(method: str, seed: int, cfg: DigitsConfig, data, device: str = "cpu", show: bool = True) -> dict:
    """Train one model and measure it. Returns a record with the benchmark's keys."""
    Xtr, ytr, Xte, yte = data
    g = seed_everything(seed)
    n_train = Xtr.shape[0]
    iters_per_epoch = (n_train + cfg.batch_size - 1) // cfg.batch_size
    n_iters = cfg.epochs * iters_per_epoch
    node = NeuralODE(Field(cfg.hidden, cfg.width), (0.0, 1.0), method="tsit5", rtol=cfg.rtol, atol=cfg.atol,
                     regularizers=regularizers_for(method, cfg, n_iters), generator=g)
    model = nn.Sequential(nn.Linear(64, cfg.hidden), node, nn.Linear(cfg.hidden, 10)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = nn.CrossEntropyLoss()
    train_nfe = []
    it = 0
    t_start = time.perf_counter()
    c_start = time.process_time()
    bar = progress(range(cfg.epochs), desc=method, **({} if show else {"disable": True}))
    for _ in bar:
        perm = torch.randperm(n_train, generator=g).to(device)
        for k in range(iters_per_epoch):
            idx = perm[k * cfg.batch_size:(k + 1) * cfg.batch_size]
            node.step = it
            opt.zero_grad()
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            (loss + node.regularization).backward()
            opt.step()
            train_nfe.append(float(node.solution.stats["nfe"].float().mean()))
            it += 1
    train_time = time.perf_counter() - t_start
    train_cpu = time.process_time() - c_start

    model.eval()
    with torch.no_grad():
        logits = model(Xte)  # warm-up
        times = []
        for _ in range(cfg.predict_repeats):
            t0 = time.perf_counter()
            logits = model(Xte)
            times.append(time.perf_counter() - t0)
        nfe = node.solution.stats["nfe"].float()
        acc = float((logits.argmax(1) == yte).float().mean())
    return {
        "task": "digits", "method": method, "seed": seed, "metric_name": "accuracy", "test_metric": acc,
        "train_time_s": train_time, "train_cpu_s": train_cpu, "predict_time_s": min(times),
        "predict_time_median_s": statistics.median(times), "nfe": float(nfe.mean()),
        "nfe_max": float(nfe.max()), "train_nfe_last_epoch": statistics.mean(train_nfe[-iters_per_epoch:]),
        "epochs": cfg.epochs, "rtol": cfg.rtol, "atol": cfg.atol,
    }


def plot(records: list[dict], path, title: str = "digits") -> None:
    """NFE of the test solve vs test accuracy, one marker per method and seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for m in dict.fromkeys(r["method"] for r in records):
        rs = [r for r in records if r["method"] == m]
        ax.scatter([r["nfe"] for r in rs], [100 * r["test_metric"] for r in rs], label=m, s=30)
    ax.set_xlabel("NFE of the test solve (mean per sample)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Neural ODE on {title}: tsit5")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def quick_config() -> DigitsConfig:
    return DigitsConfig(epochs=5, rtol=1e-5, atol=1e-5, predict_repeats=3)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a few epochs, under a minute on CPU")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default runs/regularization_digits/)")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--error-weight", default=None, help="w0,w1 of the global error weight annealing")
    p.add_argument("--local-weight", default=None, help="w0,w1 of the local error weight annealing")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = quick_config() if a.quick else DigitsConfig()
    if a.epochs is not None:
        cfg.epochs = a.epochs
    if a.error_weight:
        cfg.error_weight = tuple(float(x) for x in a.error_weight.split(","))
    if a.local_weight:
        cfg.local_weight = tuple(float(x) for x in a.local_weight.split(","))
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"--methods: expected names from {METHODS}, got {m!r}")
    out = run_dir("regularization_digits", a.out)
    data = load_data(0, a.device)
    records = []
    for m in methods:
        r = run_method(m, a.seed, cfg, data, a.device)
        records.append(r)
        print(f"{m:22s} acc {100 * r['test_metric']:6.2f}%  NFE {r['nfe']:6.1f}  train {r['train_time_s']:6.1f}s  "
              f"predict {1000 * r['predict_time_s']:7.1f}ms", flush=True)
    result = {"task": "digits", "quick": a.quick, "seed": a.seed, "config": cfg.__dict__, "records": records}
    write_json(out / "results.json", result)
    plot(records, out / "nfe_accuracy.png")
    print(f"wrote {out / 'results.json'}")
    return result


if __name__ == "__main__":
    main()
