"""Hidden-term discovery benchmark: Lotka-Volterra, Burgers, Fisher-KPP x noise x backends x seeds.

For each problem, noise level and seed one UPINN is trained (pinn.discovery + pinn.training.fit);
each backend (sindy, operon, and pysr where installed) extracts the hidden term from the same
network; a correctly structured expression then has its constants fine-tuned on the same losses.
Writes benchmarks/results/discovery.json (a list of records with problem, noise, backend, seed,
expression, structure_ok, max_coef_rel_error, time_s, ...) and prints a markdown table.

    PYTHONPATH=. python benchmarks/discovery.py --quick      # one seed, short training
    PYTHONPATH=. python benchmarks/discovery.py              # 3 seeds, full training
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from _discovery_common import run_lotka_volterra, run_pde  # noqa: E402

from neurode.utils import write_json  # noqa: E402

LV_NOISES = (0.0, 0.01, 0.05, 0.1)
PDE_NOISES = (0.01,)


def table(records: list[dict]) -> str:
    """Markdown table: per problem, noise and backend, recovery rate, coefficient error, time."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["problem"], r["noise"], r["backend"])].append(r)
    lines = [
        "| problem | noise | backend | structure recovered | max coef. rel. error (median) | worst | time s (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (prob, noise, backend), rs in sorted(groups.items()):
        ok = sum(bool(r["structure_ok"]) for r in rs)
        errs = sorted(r["max_coef_rel_error"] for r in rs if r["structure_ok"] and r["max_coef_rel_error"] is not None)
        med = f"{100 * errs[len(errs) // 2]:.2f}%" if errs else "-"
        worst = f"{100 * errs[-1]:.2f}%" if errs else "-"
        if any(r.get("error") for r in rs):
            med, worst = "not installed", "-"
        t = sum(r["time_s"] for r in rs) / len(rs)
        lines.append(f"| {prob} | {noise:g} | {backend} | {ok}/{len(rs)} | {med} | {worst} | {t:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed, short training")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3, quick 1)")
    ap.add_argument("--problems", default="lotka_volterra,burgers,fisher_kpp")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "discovery.json"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = range(args.seeds if args.seeds is not None else (1 if args.quick else 3))
    backends = ["sindy", "operon"]
    backends.append("pysr")  # recorded as not installed when PySR/Julia are missing
    has_pysr = importlib.util.find_spec("pysr") is not None
    backends_t = tuple(b for b in backends if b != "pysr" or has_pysr)
    records: list[dict] = []
    problems = args.problems.split(",")
    for problem in problems:
        noises = LV_NOISES if problem == "lotka_volterra" else PDE_NOISES
        for noise in noises:
            for seed in seeds:
                if problem == "lotka_volterra":
                    out = run_lotka_volterra(noise, seed, quick=args.quick, backends=backends_t, device=args.device)
                else:
                    out = run_pde(problem, noise, seed, quick=args.quick, backends=backends_t, device=args.device)
                for r in out["records"]:
                    r["quick"] = args.quick
                    print(f"{problem} noise={noise} seed={seed} {r['backend']}: {r['expression']} "
                          f"ok={r['structure_ok']} err={r['max_coef_rel_error']} t={r['time_s']:.1f}s", flush=True)
                records += out["records"]
                write_json(args.out, records)  # partial results survive an interruption
    if not has_pysr:
        for problem in problems:
            records.append({"problem": problem, "noise": None, "backend": "pysr", "seed": None,
                            "expression": None, "structure_ok": False, "max_coef_rel_error": None,
                            "time_s": 0.0, "error": "PySR not installed (pip install neurode[pysr])"})
    write_json(args.out, records)
    print(table([r for r in records if r["noise"] is not None and not (isinstance(r["noise"], float) and math.isnan(r["noise"]))]))
    if not has_pysr:
        print("\npysr: not installed here (pip install neurode[pysr] and Julia); not run.")
    return records


if __name__ == "__main__":
    main()
