"""Hidden-term discovery in PDEs: Burgers (F = -u u_x) and Fisher-KPP (F = r u (1 - u)).

    Burgers:     u_t = nu u_xx + F(u, u_x),   nu = 0.05, x in [-1, 1], t in [0, 1]
    Fisher-KPP:  u_t = D u_xx + F(u),         D = 0.01, r = 2, x in [-1, 1], t in [0, 2]

500 noisy observations of u (reference by a pseudo-spectral solver, pinn.pdes.discovery_data),
known initial condition and periodic boundaries. A UPINN (pinn.discovery.HiddenPDE) trains with
pinn.training.fit; pinn.symbolic.extract turns F_phi into a closed form; its constants are then
fine-tuned on the same losses.

    PYTHONPATH=. python examples/discovery_pde.py --quick --problem burgers
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _discovery_common import run_pde  # noqa: E402

from neurode.utils import run_dir, seed_everything, write_json  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short training (under a minute on CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--problem", default="both", choices=["burgers", "fisher_kpp", "both"])
    ap.add_argument("--noise", type=float, default=0.01, help="relative noise level (default 0.01)")
    ap.add_argument("--n-obs", type=int, default=500)
    ap.add_argument("--backends", default="sindy", help="comma-separated: sindy,operon,pysr")
    ap.add_argument("--out", default=None, help="output folder (default runs/discovery_pde)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    out = run_dir("discovery_pde", args.out)
    problems = ["burgers", "fisher_kpp"] if args.problem == "both" else [args.problem]
    summary = {"quick": args.quick, "seed": args.seed, "noise": args.noise, "records": []}
    for problem in problems:
        res = run_pde(problem, args.noise, args.seed, quick=args.quick, n_obs=args.n_obs,
                      backends=tuple(args.backends.split(",")), device=args.device)
        for r in res["records"]:
            print(f"[{problem} {r['backend']}] {r['expression']}  structure_ok={r['structure_ok']}  "
                  f"max_coef_rel_error={r['max_coef_rel_error']}")
        summary["records"] += res["records"]
        summary[f"{problem}_final_losses"] = res["history"].last()
        _plot(problem, res, out)
    write_json(out / "results.json", summary)
    return summary


def _plot(problem: str, res: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data, model = res["data"], res["model"]
    T, X = np.meshgrid(data.t_grid, data.x_grid, indexing="ij")
    tx = torch.tensor(np.stack([T.ravel(), X.ravel()], 1), dtype=torch.float64)
    with torch.no_grad():
        U = model(tx).numpy().reshape(T.shape)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    im = ax[0].pcolormesh(X, T, data.u_grid, shading="auto")
    ax[0].plot(data.tx_obs[:, 1], data.tx_obs[:, 0], "k.", ms=2)
    ax[0].set_title(f"{problem}: reference and observations")
    fig.colorbar(im, ax=ax[0])
    im = ax[1].pcolormesh(X, T, np.abs(U - data.u_grid), shading="auto")
    ax[1].set_title("|UPINN - reference|")
    fig.colorbar(im, ax=ax[1])
    z, F = res["samples"]
    p = data.params
    if problem == "burgers":
        true = -(z[:, 0] * z[:, 1]).numpy()
    else:
        true = (p["r"] * z[:, 0] * (1 - z[:, 0])).numpy()
    ax[2].plot(true, F.numpy(), ".", ms=2)
    ax[2].plot([true.min(), true.max()], [true.min(), true.max()], "k--")
    ax[2].set_xlabel("true hidden term")
    ax[2].set_ylabel("F network")
    ax[2].set_title("hidden term at collocation points")
    for a in ax[:2]:
        a.set_xlabel("x")
        a.set_ylabel("t")
    fig.tight_layout()
    fig.savefig(out / f"{problem}.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
