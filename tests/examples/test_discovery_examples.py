"""The discovery examples run with --quick and write results.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, tmp_path: Path, *extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--quick", "--out", str(tmp_path), *extra],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / "results.json").read_text())


@pytest.mark.slow
def test_lotka_volterra_example_quick(tmp_path):
    res = _run("discovery_lotka_volterra.py", tmp_path, "--noise", "0.0")
    rec = res["records"][0]
    assert rec["problem"] == "lotka_volterra" and rec["structure_ok"], rec
    assert (tmp_path / "lotka_volterra.png").is_file()


@pytest.mark.slow
def test_pde_example_quick(tmp_path):
    res = _run("discovery_pde.py", tmp_path, "--problem", "fisher_kpp")
    rec = res["records"][0]
    assert rec["problem"] == "fisher_kpp"
    assert {"expression", "structure_ok", "max_coef_rel_error", "time_s"} <= set(rec)
    assert (tmp_path / "fisher_kpp.png").is_file()
