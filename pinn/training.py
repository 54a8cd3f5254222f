"""One training loop for every physics-informed model: Adam, then L-BFGS with a strong-Wolfe line search.

The loop knows nothing about PDEs. A model is any ``torch.nn.Module``; a loss is any callable
returning a dict of named scalar terms; :func:`fit` weights and sums them, records every term at
every step in a :class:`History`, shows a progress bar (silent when stderr is not a terminal),
stops at a tolerance and writes checkpoints.

Example:
    >>> import torch
    >>> from pinn.training import fit
    >>> net = torch.nn.Linear(1, 1)
    >>> x = torch.linspace(0, 1, 16).unsqueeze(1)
    >>> def loss_fn():
    ...     return {"data": ((net(x) - 2 * x) ** 2).mean()}
    >>> h = fit(net, loss_fn, adam_steps=50, lbfgs_steps=20, lr=1e-2, progress=False)
    >>> h.total[-1] < 1e-8
    True
"""

from __future__ import annotations

import inspect
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from neurode.utils import progress as _progress
from neurode.utils import seed_everything

__all__ = ["History", "fit", "save_checkpoint", "load_checkpoint"]

LossFn = Callable[..., Mapping[str, Tensor]]


@dataclass
class History:
    """Per-step record of a :func:`fit` run.

    Attributes:
        terms: ``{name: [value per step]}``, each term unweighted.
        total: weighted total loss per step.
        phase: ``"adam"``, ``"lbfgs"`` or ``"final"`` per step (``"final"``: one evaluation at
            the returned parameters after L-BFGS, whose last evaluation may be a line-search trial).
        time_s: wall-clock seconds since the start of training, per step.
        weights: the weights used for the terms.
        stop_reason: ``"steps"`` (budget spent), ``"tol"`` (total <= tol), ``"lbfgs_converged"``
            (L-BFGS stopped on its own tolerances), ``"lbfgs_nonfinite"`` (an L-BFGS chunk ended
            at a non-finite loss; the parameters before it were restored) or ``"callback"``.
        rejected: L-BFGS line-search trials with a non-finite loss (treated as +inf, not recorded).
    """

    terms: dict[str, list[float]] = field(default_factory=dict)
    total: list[float] = field(default_factory=list)
    phase: list[str] = field(default_factory=list)
    time_s: list[float] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    stop_reason: str = ""
    rejected: int = 0

    def __len__(self) -> int:
        return len(self.total)

    @property
    def train_time_s(self) -> float:
        """Total wall-clock training time in seconds."""
        return self.time_s[-1] if self.time_s else 0.0

    def last(self) -> dict[str, float]:
        """The last value of every term and of ``"total"``."""
        out = {k: v[-1] for k, v in self.terms.items() if v}
        if self.total:
            out["total"] = self.total[-1]
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and floats (JSON- and ``weights_only``-checkpoint friendly)."""
        return {
            "terms": {k: list(v) for k, v in self.terms.items()},
            "total": list(self.total),
            "phase": list(self.phase),
            "time_s": list(self.time_s),
            "weights": dict(self.weights),
            "stop_reason": self.stop_reason,
            "rejected": self.rejected,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        return cls(
            terms={k: list(v) for k, v in d.get("terms", {}).items()},
            total=list(d.get("total", [])),
            phase=list(d.get("phase", [])),
            time_s=list(d.get("time_s", [])),
            weights=dict(d.get("weights", {})),
            stop_reason=str(d.get("stop_reason", "")),
            rejected=int(d.get("rejected", 0)),
        )

    def _append(self, terms: Mapping[str, float], total: float, phase: str, t: float) -> None:
        for k, v in terms.items():
            self.terms.setdefault(k, []).append(v)
        self.total.append(total)
        self.phase.append(phase)
        self.time_s.append(t)


class _Stop(Exception):
    pass


def _call(loss_fn: LossFn, takes_step: bool, step: int) -> Mapping[str, Tensor]:
    return loss_fn(step) if takes_step else loss_fn()


def _takes_step(loss_fn: LossFn) -> bool:
    try:
        sig = inspect.signature(loss_fn)
    except (TypeError, ValueError):
        return False
    params = [
        p
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(params) >= 1


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    *,
    weights: Mapping[str, float] | None = None,
    adam_steps: int = 1000,
    lbfgs_steps: int = 0,
    lr: float = 1e-3,
    lr_decay: float = 1.0,
    lbfgs_lr: float = 1.0,
    lbfgs_history: int = 50,
    lbfgs_chunk: int = 20,
    tol: float = 0.0,
    seed: int | None = None,
    params: Iterable[nn.Parameter] | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    callback: Callable[[int, History], bool | None] | None = None,
    progress: bool = True,
    desc: str = "fit",
) -> History:
    """Train ``model`` on the weighted sum of named loss terms: Adam, then L-BFGS (strong Wolfe).

    Args:
        model: the module to train (its parameters are optimised unless ``params`` is given).
        loss_fn: ``loss_fn() -> {name: scalar tensor}`` or ``loss_fn(step) -> {...}`` where
            ``step`` is the global step (Adam steps, then L-BFGS function evaluations); use the
            step to resample collocation points during Adam, say. Every call must return the
            same names.
        weights: ``{name: weight}``; names not listed get weight 1. An unknown name raises.
        adam_steps: number of Adam steps (default 1000; 0 skips Adam).
        lbfgs_steps: number of L-BFGS iterations (default 0; each may take several evaluations,
            at most 1.25 per iteration on average, as torch's default ``max_eval``).
        lr: Adam learning rate (default 1e-3).
        lr_decay: factor by which the Adam learning rate has decayed (exponentially) at the last
            Adam step (default 1.0: constant).
        lbfgs_lr, lbfgs_history: L-BFGS step length and memory (defaults 1.0 and 50).
        lbfgs_chunk: L-BFGS iterations per optimizer call between tolerance checks (default 20).
        tol: stop as soon as the weighted total is ``<= tol`` (default 0: never).
        seed: if given, seed python/numpy/torch before training.
        params: parameters to optimise (default ``model.parameters()``).
        checkpoint: path of a checkpoint written at the end (and every ``checkpoint_every``
            steps if > 0) with :func:`save_checkpoint`.
        callback: ``callback(step, history)`` after every recorded step; returning True stops.
        progress: show a tqdm bar (it is silent anyway when stderr is not a terminal).
        desc: progress-bar label.

    Returns:
        A :class:`History` with one entry per Adam step and per L-BFGS function evaluation.

    Raises:
        FloatingPointError: if the loss becomes NaN or infinite during Adam (names the terms and
            the step). During L-BFGS a non-finite trial point is rejected instead (see ``History``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable returning dict[str, Tensor], got {type(loss_fn).__name__}")
    for name, v in (("adam_steps", adam_steps), ("lbfgs_steps", lbfgs_steps), ("checkpoint_every", checkpoint_every)):
        if not isinstance(v, int) or v < 0:
            raise ValueError(f"{name}: expected a non-negative int, got {v!r}")
    for name, v in (("lr", lr), ("lbfgs_lr", lbfgs_lr), ("lr_decay", lr_decay)):
        if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
            raise ValueError(f"{name}: expected a positive finite float, got {v!r}")
    if not isinstance(lbfgs_chunk, int) or lbfgs_chunk < 1:
        raise ValueError(f"lbfgs_chunk: expected a positive int, got {lbfgs_chunk!r}")
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise ValueError(f"tol: expected a non-negative float, got {tol!r}")
    weights = dict(weights or {})
    for k, w in weights.items():
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
            raise ValueError(f"weights[{k!r}]: expected a non-negative finite float, got {w!r}")
    if seed is not None:
        seed_everything(seed)

    params = [p for p in (model.parameters() if params is None else params) if p.requires_grad]
    if not params:
        raise ValueError("params: expected at least one parameter with requires_grad=True, got none")
    takes_step = _takes_step(loss_fn)
    history = History(weights={})
    names: list[str] | None = None
    step = 0
    t0 = time.perf_counter()
    total_steps = adam_steps + lbfgs_steps
    bar = _progress(total=total_steps, desc=desc) if progress else None

    def evaluate() -> tuple[Tensor, dict[str, float]]:
        nonlocal names
        terms = _call(loss_fn, takes_step, step)
        if not isinstance(terms, Mapping) or not terms:
            raise TypeError(
                f"loss_fn: expected to return a non-empty dict[str, Tensor], got {type(terms).__name__}"
            )
        if names is None:
            names = list(terms)
            unknown = sorted(set(weights) - set(names))
            if unknown:
                raise ValueError(f"weights: expected names among the loss terms {names}, got unknown {unknown}")
            history.weights.update({k: float(weights.get(k, 1.0)) for k in names})
        elif list(terms) != names:
            raise ValueError(f"loss_fn: expected the same terms at every call {names}, got {list(terms)}")
        total = sum(history.weights[k] * v.reshape(()) for k, v in terms.items())
        values = torch.stack([v.detach().reshape(()) for v in terms.values()]).tolist()  # one sync
        return total, dict(zip(names, values))

    def record(total: Tensor, values: dict[str, float], phase: str) -> None:
        nonlocal step
        tot = float(total.detach())
        if not math.isfinite(tot):
            raise FloatingPointError(
                f"loss: expected finite values, got {values} (total {tot}) at step {step} ({phase})"
            )
        history._append(values, tot, phase, time.perf_counter() - t0)
        step += 1
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix({k: f"{v:.2e}" for k, v in list(values.items())[:4]} | {"total": f"{tot:.2e}"})
        if checkpoint is not None and checkpoint_every and step % checkpoint_every == 0:
            save_checkpoint(checkpoint, model, history=history, step=step)
        if tol > 0 and tot <= tol:
            history.stop_reason = "tol"
            raise _Stop
        if callback is not None and callback(step, history):
            history.stop_reason = "callback"
            raise _Stop

    model.train()
    try:
        if adam_steps:
            opt = torch.optim.Adam(params, lr=lr)
            gamma = lr_decay ** (1.0 / max(adam_steps, 1))
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
            for _ in range(adam_steps):
                opt.zero_grad(set_to_none=True)
                total, values = evaluate()
                total.backward()
                opt.step()
                sched.step()
                record(total, values, "adam")
        if lbfgs_steps:
            lbfgs = torch.optim.LBFGS(
                params,
                lr=lbfgs_lr,
                max_iter=lbfgs_chunk,
                max_eval=int(1.25 * lbfgs_chunk) + 1,
                history_size=lbfgs_history,
                tolerance_grad=1e-12,
                tolerance_change=1e-14,
                line_search_fn="strong_wolfe",
            )

            def closure() -> Tensor:
                lbfgs.zero_grad(set_to_none=True)
                total, values = evaluate()
                if not bool(torch.isfinite(total)):
                    # a line-search trial left the region where the loss is defined: report +inf
                    # with a zero gradient so that the strong-Wolfe search backtracks (bisects).
                    history.rejected += 1
                    for p in params:
                        p.grad = torch.zeros_like(p)
                    return total.detach().new_tensor(float("inf"))
                total.backward()
                record(total, values, "lbfgs")
                return total

            done = 0
            while done < lbfgs_steps:
                chunk = min(lbfgs_chunk, lbfgs_steps - done)
                lbfgs.param_groups[0]["max_iter"] = chunk
                max_eval = int(1.25 * chunk) + 1
                lbfgs.param_groups[0]["max_eval"] = max_eval
                state = lbfgs.state[lbfgs._params[0]]
                before = state.get("n_iter", 0)
                evals_before = state.get("func_evals", 0)
                snapshot = [p.detach().clone() for p in params]
                lbfgs.step(closure)
                advanced = state.get("n_iter", 0) - before
                done += chunk
                end_total, _ = evaluate()
                if not bool(torch.isfinite(end_total)):
                    with torch.no_grad():
                        for p, s in zip(params, snapshot):
                            p.copy_(s)
                    history.stop_reason = "lbfgs_nonfinite"
                    break
                evals = state.get("func_evals", 0) - evals_before
                if advanced < chunk and evals < max_eval and done < lbfgs_steps:
                    history.stop_reason = "lbfgs_converged"
                    break
        if lbfgs_steps and history.phase and history.phase[-1] == "lbfgs":
            # the last L-BFGS evaluation may be a line-search trial: record the final parameters
            total, values = evaluate()
            record(total, values, "final")
        if not history.stop_reason:
            history.stop_reason = "steps"
    except _Stop:
        pass
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, history=history, step=step)
    return history


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    history: History | None = None,
    **extra: Any,
) -> Path:
    """Save ``model.state_dict()``, the history and ``extra`` plain values with ``torch.save``.

    Everything stored is tensors, numbers, strings, lists and dicts, so the file loads with
    ``torch.load(..., weights_only=True)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": model.state_dict(),
        "history": history.to_dict() if history is not None else None,
        "extra": dict(extra),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    *,
    map_location: str | torch.device | None = None,
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    If ``model`` is given its state dict is restored (strictly). Returns a dict with keys
    ``"model"`` (state dict), ``"history"`` (a :class:`History` or None) and ``"extra"``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: expected an existing checkpoint file, got {str(path)!r}")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if model is not None:
        model.load_state_dict(payload["model"])
    hist = payload.get("history")
    payload["history"] = History.from_dict(hist) if hist is not None else None
    return payload
