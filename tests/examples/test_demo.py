import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(script: str, tmp_path: Path, *extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--quick", "--out", str(tmp_path), *extra],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / "results.json").read_text())


def test_demo_quick(tmp_path):
    res = run_example("demo.py", tmp_path)
    samples = res["samples"]
    assert [s["status"] for s in samples] == ["success"] * len(samples)
    steps = [s["accepted"] for s in samples]
    assert steps[-1] > steps[0]  # stiffer samples take more steps
    lam = [s["max_lambda"] for s in samples]
    assert lam[-1] > 10 * lam[0]
    assert (tmp_path / "demo.png").stat().st_size > 10_000
