"""Hidden-term discovery on Lotka-Volterra: both interaction terms hidden, recovered as closed forms.

    x' = alpha x + F1(x, y),   y' = -gamma y + F2(x, y),   truth F1 = -0.9 x y, F2 = 1.8 x y

30 noisy observations on [0, 3] (METHODS.md section 6). A UPINN (pinn.discovery.HiddenODE)
trains with pinn.training.fit; pinn.symbolic.extract turns F_phi, sampled along the learnt
trajectory, into equations; the discovered terms then replace F_phi and their constants are
fine-tuned on the same losses.

    PYTHONPATH=. python examples/discovery_lotka_volterra.py --quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _discovery_common import run_lotka_volterra  # noqa: E402

from neurode.utils import run_dir, seed_everything, write_json  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short training (under a minute on CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", type=float, default=0.01, help="relative noise level (default 0.01)")
    ap.add_argument("--backends", default="sindy", help="comma-separated: sindy,operon,pysr")
    ap.add_argument("--out", default=None, help="output folder (default runs/discovery_lotka_volterra)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    out = run_dir("discovery_lotka_volterra", args.out)

    res = run_lotka_volterra(args.noise, args.seed, quick=args.quick,
                             backends=tuple(args.backends.split(",")), device=args.device)
    for r in res["records"]:
        print(f"[{r['backend']}] {r['expression']}  structure_ok={r['structure_ok']}  "
              f"max_coef_rel_error={r['max_coef_rel_error']}")
    summary = {"problem": "lotka_volterra", "quick": args.quick, "seed": args.seed, "noise": args.noise,
               "records": res["records"], "final_losses": res["history"].last()}
    write_json(out / "results.json", summary)
    _plot(res, out)
    return summary


def _plot(res: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data, model = res["data"], res["model"]
    t = torch.tensor(data.t_ref, dtype=torch.float64)
    with torch.no_grad():
        u = model(t).numpy()
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for i, name in enumerate(["x", "y"]):
        ax[0].plot(data.t_ref, data.u_ref[:, i], "k-", lw=1, label=f"{name} exact" if i == 0 else None)
        ax[0].plot(data.t_ref, u[:, i], "--", label=f"{name} UPINN")
        ax[0].plot(data.t_obs, data.u_obs[:, i], "o", ms=3)
    ax[0].set_xlabel("t")
    ax[0].legend()
    ax[0].set_title("trajectory and observations")
    z, F = res["samples"]
    xy = (z[:, 0] * z[:, 1]).numpy()
    ax[1].plot(xy, F[:, 0].numpy(), label="F1 network")
    ax[1].plot(xy, -0.9 * xy, "k:", label="-0.9 x y")
    ax[1].plot(xy, F[:, 1].numpy(), label="F2 network")
    ax[1].plot(xy, 1.8 * xy, "k--", label="1.8 x y")
    ax[1].set_xlabel("x y along the trajectory")
    ax[1].legend()
    ax[1].set_title("hidden terms")
    fig.tight_layout()
    fig.savefig(out / "lotka_volterra.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
