"""Reaction-type transport u_t + c u (1 - u) u_x = nu u_xx, u0 a Gaussian bump, with a Lagrangian PINN (Mojgani et al. 2022).

    PYTHONPATH=. python examples/lpinn_reaction.py [--quick] [--device cpu] [--threads 1] [--out runs/lpinn_reaction]

Writes results.json (one record per run: case, model, param, rel_l2, train_time_s, ...) and one
PNG per run (reference, prediction, error, characteristics) to the output folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurode.utils import run_dir, write_json  # noqa: E402
from pinn.recipes import plot_result, run_case  # noqa: E402

NAME = "lpinn_reaction"
FULL = [("reaction", "lpinn", {"c": c, "nu": nu}) for c in (1.0, 5.0) for nu in (0.0, 0.01)]
QUICK = [("reaction", "lpinn", {"c": 1.0, "nu": 0.01})]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short run (under a minute on CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--out", default=None, help=f"output folder (default runs/{NAME})")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = run_dir(NAME, args.out)
    records = []
    for case, model, param in QUICK if args.quick else FULL:
        res = run_case(case, model, param, quick=args.quick, device=args.device)
        records.append(res.record)
        tag = "_".join([model] + [f"{k}{v:g}" for k, v in param.items()])
        plot_result(res, str(out / f"{tag}.png"))
        print(f"{model} {case} {param}: rel_l2={res.record['rel_l2']:.3e} "
              f"time={res.record['train_time_s']:.1f}s", flush=True)
    write_json(out / "results.json", {"example": NAME, "quick": args.quick, "runs": records})
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
