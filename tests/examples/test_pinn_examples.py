"""Run each PINN/LPINN example with --quick in a subprocess and check its results.json."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["lpinn_convection", "lpinn_burgers", "lpinn_convection_diffusion", "lpinn_reaction", "pinn_burgers"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_quick(name, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), "--quick", "--out", str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["example"] == name and data["quick"] is True and data["runs"]
    for rec in data["runs"]:
        assert {"case", "model", "param", "rel_l2", "train_time_s"} <= set(rec)
        assert rec["rel_l2"] == rec["rel_l2"] and rec["rel_l2"] >= 0  # finite, not NaN
    assert list(tmp_path.glob("*.png"))
