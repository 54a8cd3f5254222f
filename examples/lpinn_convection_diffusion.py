"""Convection-diffusion u_t + 30 u_x = 0.01 u_xx, u0 = sin x, with a Lagrangian PINN (Mojgani et al. 2022).

    PYTHONPATH=. python examples/lpinn_convection_diffusion.py [--quick] [--device cpu] [--threads 1] [--out runs/lpinn_convection_diffusion]

Writes results.json (one record per run: case, model, param, rel_l2, train_time_s, ...) and one
PNG per run (reference, prediction, error, characteristics) to the output folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinn.recipes import example_main  # noqa: E402

NAME = "lpinn_convection_diffusion"
FULL = [("convection_diffusion", "lpinn", {"beta": 30.0, "nu": 0.01})]
QUICK = [("convection_diffusion", "lpinn", {"beta": 30.0, "nu": 0.01})]


def main(argv: list[str] | None = None) -> int:
    return example_main(NAME, __doc__.splitlines()[0], FULL, QUICK, argv)


if __name__ == "__main__":
    raise SystemExit(main())
