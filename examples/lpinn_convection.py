"""Convection u_t + beta u_x = 0, u0 = sin x: vanilla PINN vs Lagrangian PINN (Mojgani et al. 2022).

    PYTHONPATH=. python examples/lpinn_convection.py [--quick] [--device cpu] [--threads 1] [--out runs/lpinn_convection]

Writes results.json (one record per run: case, model, param, rel_l2, train_time_s, ...) and one
PNG per run (reference, prediction, error, characteristics) to the output folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinn.recipes import example_main  # noqa: E402

NAME = "lpinn_convection"
FULL = [("convection", m, {"beta": b}) for b in (10.0, 30.0, 50.0, 70.0) for m in ("pinn", "lpinn")]
QUICK = [("convection", "lpinn", {"beta": 30.0}), ("convection", "pinn", {"beta": 30.0})]


def main(argv: list[str] | None = None) -> int:
    return example_main(NAME, __doc__.splitlines()[0], FULL, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
