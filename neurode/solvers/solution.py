"""Solution container, per-sample status codes and the solver's failure exception."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["Status", "Solution", "StepRecord", "SolveError"]


class Status(enum.IntEnum):
    """Per-sample outcome of a solve (``Solution.status`` holds these as integers)."""

    SUCCESS = 0
    MAX_STEPS = 1
    DT_UNDERFLOW = 2
    NONFINITE = 3

    @classmethod
    def describe(cls, code: int) -> str:
        return {
            0: "success",
            1: "max_steps reached",
            2: "step size underflow (dt too small to advance t)",
            3: "non-finite value in the state or error estimate",
        }[int(code)]


@dataclass
class StepRecord:
    """Per-step record of the accepted steps, padded to (B, K) with ``mask``.

    Attributes:
        t: (B, K) start time of each accepted step.
        dt: (B, K) signed step size.
        error_ratio: (B, K) E_j (NaN-free, 0 where masked); ``None`` for fixed-step methods.
        stiffness: (B, K) S_j = |dt_j| * lambda_j / stability_size; ``None`` without a stage pair.
        mask: (B, K) bool, True where a step exists.
    """

    t: Tensor
    dt: Tensor
    error_ratio: Tensor | None
    stiffness: Tensor | None
    mask: Tensor


@dataclass
class Solution:
    """What ``solve_ode`` returns. B samples, T output times, state shape S.

    Attributes:
        ts: (B, T) output times.
        ys: (B, T, *S) states at ``ts`` (NaN after the failure time of a failed sample).
        status: (B,) int64 codes of :class:`Status`.
        stats: dict of (B,) int64 tensors ``nfe``, ``n_accepted``, ``n_rejected``.
        error_estimate: (B,) ``R_E = sum_j E_j |dt_j|`` over accepted steps (differentiable with
            ``gradient="direct"``); ``None`` for fixed-step methods.
        stiffness_estimate: (B,) ``R_S = sum_j S_j |dt_j|`` (``None`` when the method has no stage
            pair for Shampine's estimate, e.g. bosh3, heun_euler and fixed-step methods).
        steps: per-step :class:`StepRecord` when ``record_steps=True``.
        t_final: (B,) time each sample reached.
    """

    ts: Tensor
    ys: Tensor
    status: Tensor
    stats: dict[str, Tensor]
    error_estimate: Tensor | None
    stiffness_estimate: Tensor | None
    t_final: Tensor
    steps: StepRecord | None = None
    method: str = ""
    extras: dict = field(default_factory=dict)

    @property
    def success(self) -> Tensor:
        """(B,) bool, True where the sample reached its final time."""
        return self.status == Status.SUCCESS

    @property
    def y_final(self) -> Tensor:
        """(B, *S) state at the last output time."""
        return self.ys[:, -1]

    def failures(self) -> list[tuple[int, float, str]]:
        """(sample index, time reached, status description) for every failed sample."""
        bad = torch.nonzero(self.status != Status.SUCCESS).flatten().tolist()
        tf = self.t_final.detach().cpu()
        st = self.status.cpu()
        return [(i, float(tf[i]), Status.describe(int(st[i]))) for i in bad]


class SolveError(RuntimeError):
    """Raised when samples fail (unless ``raise_on_failure=False``); ``.solution`` holds the
    partial solution and the status codes."""

    def __init__(self, solution: Solution, max_listed: int = 10):
        self.solution = solution
        fails = solution.failures()
        lines = [f"  sample {i}: stopped at t={t:.6g}: {why}" for i, t, why in fails[:max_listed]]
        if len(fails) > max_listed:
            lines.append(f"  ... and {len(fails) - max_listed} more")
        super().__init__(
            f"solve_ode failed for {len(fails)} of {solution.status.shape[0]} samples:\n"
            + "\n".join(lines)
            + "\n(pass raise_on_failure=False to get status codes and the partial solution)"
        )
