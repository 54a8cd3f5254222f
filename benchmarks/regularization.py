"""Benchmark: solver-heuristic regularization (Pal et al. 2021, 2023) against vanilla, STEER and
RNODE on the digits classifier and the spiral time series, 3 seeds (1 with ``--quick``).

Writes ``benchmarks/results/regularization.json`` (a list of records with the keys ``task``,
``method``, ``seed``, ``metric_name``, ``test_metric``, ``train_time_s``, ``predict_time_s``,
``nfe``, ...) and prints a markdown table of medians over seeds with ratios against vanilla.

Run (from the repository root):
    PYTHONPATH=. python benchmarks/regularization.py --quick
    PYTHONPATH=. python benchmarks/regularization.py            # full: about 35 minutes on 1 CPU core
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from neurode import SolveError
from neurode.utils import write_json

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def failure_record(task: str, method: str, seed: int, metric_name: str, exc: Exception) -> dict:
    """The record of a training run that stopped with a solver failure (kept in the results, counted
    in the table's seeds column, left out of the medians)."""
    nan = float("nan")
    return {"task": task, "method": method, "seed": seed, "metric_name": metric_name, "test_metric": nan,
            "train_time_s": nan, "train_cpu_s": nan, "predict_time_s": nan, "nfe": nan,
            "failed": " ".join(line.strip() for line in str(exc).splitlines()[:2])}


def table(records: list[dict]) -> str:
    """Markdown table: medians over seeds, ratios against the vanilla median of the same task."""
    lines = [
        "| task | method | seeds | test metric | train time (s) | predict time (ms) | NFE | NFE / vanilla | "
        "predict speed-up | train time / vanilla | train CPU / vanilla |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in dict.fromkeys(r["task"] for r in records):
        rs = [r for r in records if r["task"] == task]
        med = {}
        for m in dict.fromkeys(r["method"] for r in rs):
            every = [r for r in rs if r["method"] == m]
            sub = [r for r in every if "failed" not in r]
            med[m] = {k: statistics.median(r.get(k, float("nan")) for r in sub) if sub else float("nan")
                      for k in ("test_metric", "train_time_s", "train_cpu_s", "predict_time_s", "nfe")}
            med[m]["n"] = f"{len(sub)}" if len(sub) == len(every) else f"{len(sub)} of {len(every)} (diverged: {len(every) - len(sub)})"
            med[m]["metric_name"] = sub[0]["metric_name"]
        van = med.get("vanilla")
        for m, v in med.items():
            metric = f"{100 * v['test_metric']:.2f}%" if v["metric_name"] == "accuracy" else f"{v['test_metric']:.3e}"
            if van:
                ratios = (f"{v['nfe'] / van['nfe']:.3f}x | {van['predict_time_s'] / v['predict_time_s']:.2f}x | "
                          f"{v['train_time_s'] / van['train_time_s']:.2f}x | {v['train_cpu_s'] / van['train_cpu_s']:.2f}x")
            else:
                ratios = "- | - | - | -"
            lines.append(f"| {task} | {m} | {v['n']} | {metric} | {v['train_time_s']:.1f} | "
                         f"{1000 * v['predict_time_s']:.1f} | {v['nfe']:.1f} | {ratios} |")
    return "\n".join(lines)


def spiral_table(records: list[dict]) -> str:
    """The spiral's extra columns (medians over seeds): extrapolation MSE over the window after the
    observed one, and the prediction time of the latent solve alone (without the encoder RNN)."""
    rs = [r for r in records if r["task"] == "spiral" and "extrapolation_mse" in r and "failed" not in r]
    if not rs:
        return ""
    lines = ["| method | seeds | test MSE (window) | extrapolation MSE | solve-only predict (ms) | solve-only speed-up |",
             "|---|---|---|---|---|---|"]
    med = {}
    for m in dict.fromkeys(r["method"] for r in rs):
        sub = [r for r in rs if r["method"] == m]
        med[m] = {k: statistics.median(r[k] for r in sub) for k in ("test_metric", "extrapolation_mse", "predict_solve_time_s")}
        med[m]["n"] = len(sub)
    van = med.get("vanilla")
    for m, v in med.items():
        sp = f"{van['predict_solve_time_s'] / v['predict_solve_time_s']:.2f}x" if van else "-"
        lines.append(f"| {m} | {v['n']} | {v['test_metric']:.3e} | {v['extrapolation_mse']:.3e} | "
                     f"{1000 * v['predict_solve_time_s']:.1f} | {sp} |")
    return "\n".join(lines)


def plot(records: list[dict], path: str | Path) -> None:
    """NFE of the test solve against the test metric, one panel per task, one point per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in records))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rs = [r for r in records if r["task"] == task]
        acc = rs[0]["metric_name"] == "accuracy"
        for m in dict.fromkeys(r["method"] for r in rs):
            sub = [r for r in rs if r["method"] == m]
            ax.scatter([r["nfe"] for r in sub], [(100 if acc else 1) * r["test_metric"] for r in sub], label=m, s=28)
        ax.set_xlabel("NFE of the test solve (mean per sample)")
        ax.set_ylabel("test accuracy (%)" if acc else "test MSE")
        ax.set_title(f"{task} (tsit5, one point per seed)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one seed, short training")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3, quick 1)")
    p.add_argument("--seed-list", default=None, help="comma-separated seeds (overrides --seeds), e.g. to split "
                   "a run over processes and concatenate the JSON lists")
    p.add_argument("--tasks", default="digits,spiral")
    p.add_argument("--methods", default=None, help="comma-separated subset of each task's methods (default: all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="results JSON (default benchmarks/results/regularization.json, "
                   "with --quick regularization_quick.json so a quick run never overwrites the full results)")
    p.add_argument("--plot", default=None, help="also save the NFE-vs-metric plot here (PNG)")
    p.add_argument("--table-only", action="store_true", help="print the table (and plot) of --out, run nothing")
    p.add_argument("--merge", action="store_true",
                   help="keep the records already in --out except those of --tasks (and --methods) being rerun")
    a = p.parse_args(argv)
    if a.out is None:
        a.out = str(ROOT / "benchmarks" / "results" / ("regularization_quick.json" if a.quick else "regularization.json"))
    torch.set_num_threads(a.threads)
    seeds = list(range(a.seeds if a.seeds is not None else (1 if a.quick else 3)))
    if a.seed_list:
        seeds = [int(x) for x in a.seed_list.split(",")]
    tasks = [t.strip() for t in a.tasks.split(",")]
    only = None if a.methods is None else {m.strip() for m in a.methods.split(",")}
    if a.table_only:
        records = json.loads(Path(a.out).read_text())
        print(table(records))
        print("\n" + spiral_table(records))
        if a.plot:
            plot(records, a.plot)
        return records
    records: list[dict] = []
    if a.merge and Path(a.out).exists():
        keep = (lambda r: r["task"] not in tasks or (only is not None and r["method"] not in only))
        records = [r for r in json.loads(Path(a.out).read_text()) if keep(r)]
    t_all = time.perf_counter()

    def save() -> None:
        write_json(a.out, records)

    if "digits" in tasks:
        dg = _load("regularization_digits")
        cfg = dg.quick_config() if a.quick else dg.DigitsConfig()
        data = dg.load_data(0, a.device)
        for seed in seeds:  # seeds outer, methods inner: drifts in machine load hit all methods alike
            for m in (x for x in dg.METHODS if only is None or x in only):
                try:
                    r = dg.run_method(m, seed, cfg, data, a.device, show=False)
                except SolveError as exc:
                    r = failure_record("digits", m, seed, "accuracy", exc)
                r["quick"] = a.quick
                records.append(r)
                save()
                print(f"digits {m:22s} seed {seed}: acc {100 * r['test_metric']:.2f}% NFE {r['nfe']:.1f} "
                      f"train {r['train_time_s']:.1f}s predict {1000 * r['predict_time_s']:.1f}ms", flush=True)
    if "spiral" in tasks:
        sp = _load("regularization_spiral")
        cfg = sp.quick_config() if a.quick else sp.SpiralConfig()
        data = sp.make_data(cfg)
        for seed in seeds:
            for m in (x for x in sp.DEFAULT_METHODS if only is None or x in only):
                try:
                    r, _ = sp.run_method(m, seed, cfg, data, a.device, show=False)
                except SolveError as exc:
                    r = failure_record("spiral", m, seed, "mse", exc)
                r["quick"] = a.quick
                records.append(r)
                save()
                print(f"spiral {m:22s} seed {seed}: MSE {r['test_metric']:.3e} NFE {r['nfe']:.1f} "
                      f"train {r['train_time_s']:.1f}s predict {1000 * r['predict_time_s']:.1f}ms", flush=True)
    save()
    print(f"\ntotal wall time {time.perf_counter() - t_all:.0f} s; wrote {a.out}\n")
    print(table(records))
    print("\n" + spiral_table(records))
    if a.plot:
        plot(records, a.plot)
    return records


if __name__ == "__main__":
    main()
