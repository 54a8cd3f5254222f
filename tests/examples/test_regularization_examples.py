"""Run the regularization examples with --quick in a subprocess and check their results.json."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"task", "method", "seed", "metric_name", "test_metric", "train_time_s", "predict_time_s", "nfe"}


def _run(script: str, out: Path, *extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--quick", "--out", str(out), "--seed", "0", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads((out / "results.json").read_text())


def test_digits_quick_reduces_nfe(tmp_path):
    """Same seed: global error regularization lowers the test NFE relative to vanilla, at similar accuracy."""
    res = _run("regularization_digits.py", tmp_path, "--methods", "vanilla,error_global,error_local_unbiased")
    recs = {r["method"]: r for r in res["records"]}
    assert set(recs) == {"vanilla", "error_global", "error_local_unbiased"}
    for r in recs.values():
        assert KEYS <= set(r) and r["metric_name"] == "accuracy" and 0.0 <= r["test_metric"] <= 1.0
        assert r["nfe"] > 0 and r["train_time_s"] > 0 and r["predict_time_s"] > 0
    assert recs["error_global"]["nfe"] < 0.9 * recs["vanilla"]["nfe"]
    assert recs["error_local_unbiased"]["nfe"] < recs["vanilla"]["nfe"]
    assert recs["error_global"]["test_metric"] > recs["vanilla"]["test_metric"] - 0.05
    assert (tmp_path / "nfe_accuracy.png").stat().st_size > 0


def test_digits_quick_all_methods(tmp_path):
    res = _run("regularization_digits.py", tmp_path)
    methods = [r["method"] for r in res["records"]]
    assert methods == ["vanilla", "error_global", "stiffness_global", "error_local_unbiased",
                       "error_local_biased", "steer", "rnode"]
    assert all(r["test_metric"] > 0.5 for r in res["records"])


def test_spiral_quick(tmp_path):
    """The latent-ODE spiral: same seed, global error regularization lowers the test NFE (the latent
    solve spans (0, 6 pi), far beyond the observed window) at a comparable fit."""
    res = _run("regularization_spiral.py", tmp_path)
    recs = res["records"]
    assert [r["method"] for r in recs] == ["vanilla", "error_global", "error_local_unbiased", "error_local_biased"]
    for r in recs:
        assert KEYS <= set(r) and r["metric_name"] == "mse" and r["test_metric"] > 0 and r["nfe"] > 0
        assert r["extrapolation_mse"] > 0 and 0 < r["predict_solve_time_s"] <= 2 * r["predict_time_s"]
    by = {r["method"]: r for r in recs}
    assert by["error_global"]["nfe"] < 0.85 * by["vanilla"]["nfe"]
    assert by["error_global"]["test_metric"] < 2.0 * by["vanilla"]["test_metric"]
    assert (tmp_path / "trajectories.png").stat().st_size > 0 and (tmp_path / "nfe_mse.png").stat().st_size > 0
