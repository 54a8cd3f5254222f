"""Lagrangian PINN vs vanilla PINN on convection, Burgers and convection-diffusion (Mojgani et al. 2022),
plus the standard Burgers problem with a vanilla PINN.

    python benchmarks/lpinn.py [--quick] [--device cpu] [--threads 1] [--only convection,burgers]

Writes benchmarks/results/lpinn.json (or lpinn_quick.json with --quick) as a list of records with
keys case, model, param, rel_l2, train_time_s, and prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurode.utils import write_json  # noqa: E402
from pinn.recipes import plot_result, run_case  # noqa: E402

RUNS = (
    [("convection", m, {"beta": b}) for b in (10.0, 30.0, 50.0, 70.0) for m in ("pinn", "lpinn")]
    + [("burgers", "lpinn", {"C": c, "nu": 0.01}) for c in (0.0, 10.0, 30.0)]
    + [("convection_diffusion", "lpinn", {"beta": 30.0, "nu": 0.01})]
    + [("burgers_standard", "pinn", {"nu": 0.01 / 3.141592653589793})]
)
QUICK_RUNS = [
    ("convection", "pinn", {"beta": 30.0}),
    ("convection", "lpinn", {"beta": 30.0}),
    ("burgers", "lpinn", {"C": 10.0, "nu": 0.01}),
    ("convection_diffusion", "lpinn", {"beta": 30.0, "nu": 0.01}),
    ("burgers_standard", "pinn", {"nu": 0.01 / 3.141592653589793}),
]
TARGETS = {"convection": 1e-2, "burgers": 2e-2, "convection_diffusion": 2e-2, "burgers_standard": 5e-3}


def table(records: list[dict]) -> str:
    lines = ["| case | model | param | rel. L2 | target | rel. L2 of u - mean(u) | train time (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        target = TARGETS[r["case"]] if (r["model"] == "lpinn" or r["case"] == "burgers_standard") else None
        par = ", ".join(f"{k}={v:g}" for k, v in r["param"].items())
        tgt = "-" if target is None else (f"<= {target:g} " + ("met" if r["rel_l2"] <= target else "NOT met"))
        cen = f"{r['rel_l2_centered']:.2e}" if "rel_l2_centered" in r else "-"
        lines.append(f"| {r['case']} | {r['model']} | {par} | {r['rel_l2']:.2e} | {tgt} | {cen} | {r['train_time_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one parameter per case, short training (about 2 minutes)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--only", default="", help="comma-separated cases to run (default all)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/lpinn[_quick].json)")
    ap.add_argument("--plots", default=None, help="folder for one PNG per run (default: no plots)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    only = [c for c in args.only.split(",") if c]
    records = []
    for case, model, param in QUICK_RUNS if args.quick else RUNS:
        if only and case not in only:
            continue
        res = run_case(case, model, param, quick=args.quick, device=args.device)
        rec = res.record
        records.append(rec)
        if args.plots:
            Path(args.plots).mkdir(parents=True, exist_ok=True)
            tag = "_".join([case, model] + [f"{k}{v:g}" for k, v in param.items() if k != "nu" or case != "burgers_standard"])
            plot_result(res, str(Path(args.plots) / f"{tag}.png"))
        print(f"{case:22s} {model:6s} {param} rel_l2={rec['rel_l2']:.3e} time={rec['train_time_s']:.1f}s", flush=True)
    root = Path(__file__).resolve().parent / "results"
    out = Path(args.out) if args.out else root / ("lpinn_quick.json" if args.quick else "lpinn.json")
    write_json(out, records)
    print()
    print(table(records))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
