"""Small shared utilities: progress bars, result files, seeding."""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["progress", "seed_everything", "write_json", "run_dir"]


def progress(iterable: Iterable | None = None, **kwargs: Any):
    """A tqdm progress bar that is silent when stderr is not a terminal.

    Example:
        >>> for i in progress(range(3), desc="train"):
        ...     pass
    """
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", not sys.stderr.isatty())
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a fresh ``torch.Generator`` seeded with ``seed``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` (tensors and arrays converted to lists) as indented JSON; create parents."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(data), indent=2) + "\n")
    return path


def run_dir(name: str, out: str | os.PathLike | None = None) -> Path:
    """Return (and create) the output folder of an example: ``out`` or ``runs/<name>``."""
    path = Path(out) if out is not None else Path("runs") / name
    path.mkdir(parents=True, exist_ok=True)
    return path
