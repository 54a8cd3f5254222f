"""Standard viscous Burgers (u0 = -sin(pi x) on [-1, 1], nu = 0.01/pi) with a vanilla PINN, hard initial and boundary conditions.

    PYTHONPATH=. python examples/pinn_burgers.py [--quick] [--device cpu] [--threads 1] [--out runs/pinn_burgers]

Writes results.json (one record per run: case, model, param, rel_l2, train_time_s, ...) and one
PNG per run (reference, prediction, error) to the output folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinn.recipes import example_main  # noqa: E402

NAME = "pinn_burgers"
FULL = [("burgers_standard", "pinn", {"nu": 0.01 / 3.141592653589793})]
QUICK = [("burgers_standard", "pinn", {"nu": 0.01 / 3.141592653589793})]


def main(argv: list[str] | None = None) -> int:
    return example_main(NAME, __doc__.splitlines()[0], FULL, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
