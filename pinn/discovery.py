"""Hidden-term discovery with universal PINNs (UPINNs).

Podina, Eastman, Kohandel, "Universal Physics-Informed Neural Networks: Symbolic Differential
Operator Discovery with Sparse Data" (ICML 2023). A differential equation is split into a known
part, written by the user as a Python function of tensors, and a hidden term learnt by a network:

* ODE systems (:class:`HiddenODE`): ``u'(t) = N_known(t, u) + F_phi(inputs)`` with a surrogate
  ``u_theta(t)`` of shape (B, n) and ``F_phi`` acting on chosen state components (and/or ``t``).
* 1-D PDEs (:class:`HiddenPDE`): ``u_t = N_known(t, x, u, u_x, u_xx) + F_phi(inputs)`` with a
  surrogate ``u_theta(t, x)`` and ``F_phi`` acting on chosen fields among t, x, u, u_x, u_xx.

``loss_terms(...)`` returns the named losses (``data``: misfit on sparse noisy observations,
``ic``/``bc``: initial and boundary conditions, ``residual``: mean squared equation residual at
collocation points) for the one fit loop :func:`pinn.training.fit`. After training,
``hidden_samples`` gives (inputs, F_phi(inputs)) over the range the solution visits, for
:func:`pinn.symbolic.extract`; ``replace_hidden`` puts a discovered closed form (a
:class:`pinn.symbolic.SymbolicModule` with trainable constants) back into the model so the
constants can be fine-tuned on the same losses.

Example:
    >>> import torch
    >>> from pinn.discovery import HiddenODE
    >>> from pinn.training import fit
    >>> known = lambda t, u: torch.stack([1.3 * u[:, 0], -0.8 * u[:, 1]], 1)
    >>> model = HiddenODE(2, known, hidden_inputs=["x", "y"], state_names=["x", "y"], t_range=(0, 3))
    >>> t_obs = torch.linspace(0, 2.9, 30, dtype=torch.float64)
    >>> u_obs = torch.ones(30, 2, dtype=torch.float64)  # your observations
    >>> t_col = torch.linspace(0, 3, 200, dtype=torch.float64)
    >>> h = fit(model, lambda: model.loss_terms(t_obs, u_obs, t_col), adam_steps=2, progress=False)
    >>> sorted(h.terms)
    ['data', 'residual']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from neurode.autodiff import partial

from .lagrangian import MLP

__all__ = ["MLP", "ScaledHidden", "HiddenODE", "HiddenPDE"]


def _as_vec(v: float | Sequence[float] | Tensor, n: int, name: str, dtype: torch.dtype) -> Tensor:
    t = torch.as_tensor(v, dtype=dtype).reshape(-1)
    if t.numel() == 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise ValueError(f"{name}: expected a float or {n} values, got {t.numel()} values")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: expected finite values, got {t.tolist()}")
    return t


class ScaledHidden(nn.Module):
    """``F(z) = out_scale * net((z - center) / scale)``: the hidden network on raw inputs.

    Shapes: z (B, m) -> (B, k). ``center``, ``scale`` (m,) and ``out_scale`` (k,) are buffers fixed
    at construction, so :func:`pinn.symbolic.extract` can call this module on raw inputs.
    """

    def __init__(self, net: nn.Module, center: Tensor, scale: Tensor, out_scale: Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("center", center)
        self.register_buffer("scale", scale)
        self.register_buffer("out_scale", out_scale)

    def forward(self, z: Tensor) -> Tensor:
        return self.out_scale * self.net((z - self.center) / self.scale)


def _hidden_out(hidden: nn.Module, z: Tensor, k: int) -> Tensor:
    out = hidden(z)
    if out.ndim == 1:
        out = out[:, None]
    if out.shape != (z.shape[0], k):
        raise ValueError(f"hidden: expected an output of shape ({z.shape[0]}, {k}), got {tuple(out.shape)}")
    return out


class HiddenODE(nn.Module):
    """UPINN for an ODE system ``u' = N_known(t, u) + F_phi(z)`` with ``z`` chosen from (t, u).

    Args:
        n_state: number of state components n.
        known: ``known(t, u) -> (B, n)`` with t (B,) and u (B, n); None means no known part.
        hidden_inputs: names of the hidden network's inputs, among ``state_names`` and "t".
        hidden_outputs: indices of the components the hidden term enters (default: all n).
        state_names: names of the components (default u0, u1, ...).
        t_range: (t0, t1), the time interval (the surrogate's input is scaled to [-1, 1]).
        u_center, u_scale: per-component affine scaling of the surrogate's output and of the
            hidden network's state inputs (e.g. mean and std of the observations).
        hidden_scale: scale of the hidden network's outputs (float or one per output).
        width, depth: surrogate size (default 32, 3); hidden_width, hidden_depth (32, 2).
        dtype: parameter dtype (default float64).

    Shapes: ``forward(t)`` with t (B,) returns u (B, n).
    """

    def __init__(
        self,
        n_state: int,
        known: Callable[[Tensor, Tensor], Tensor] | None,
        *,
        hidden_inputs: Sequence[str],
        hidden_outputs: Sequence[int] | None = None,
        state_names: Sequence[str] | None = None,
        t_range: tuple[float, float] = (0.0, 1.0),
        u_center: float | Sequence[float] = 0.0,
        u_scale: float | Sequence[float] = 1.0,
        hidden_scale: float | Sequence[float] = 1.0,
        width: int = 32,
        depth: int = 3,
        hidden_width: int = 32,
        hidden_depth: int = 2,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if not isinstance(n_state, int) or n_state < 1:
            raise ValueError(f"n_state: expected a positive int, got {n_state!r}")
        if known is not None and not callable(known):
            raise TypeError(f"known: expected a callable known(t, u) or None, got {type(known).__name__}")
        self.n_state = n_state
        self.known = known
        self.state_names = [f"u{i}" for i in range(n_state)] if state_names is None else list(map(str, state_names))
        if len(self.state_names) != n_state or len(set(self.state_names)) != n_state:
            raise ValueError(f"state_names: expected {n_state} distinct names, got {self.state_names}")
        allowed = ["t", *self.state_names]
        self.hidden_inputs = [str(s) for s in hidden_inputs]
        bad = [s for s in self.hidden_inputs if s not in allowed]
        if not self.hidden_inputs or bad or len(set(self.hidden_inputs)) != len(self.hidden_inputs):
            raise ValueError(f"hidden_inputs: expected distinct names among {allowed}, got {self.hidden_inputs}")
        self.hidden_outputs = list(range(n_state)) if hidden_outputs is None else [int(i) for i in hidden_outputs]
        if not self.hidden_outputs or any(not 0 <= i < n_state for i in self.hidden_outputs):
            raise ValueError(f"hidden_outputs: expected indices in [0, {n_state}), got {self.hidden_outputs}")
        t0, t1 = (float(v) for v in t_range)
        if not t0 < t1:
            raise ValueError(f"t_range: expected (t0, t1) with t0 < t1, got {t_range!r}")
        self.t_range = (t0, t1)
        uc = _as_vec(u_center, n_state, "u_center", dtype)
        us = _as_vec(u_scale, n_state, "u_scale", dtype)
        if (us <= 0).any():
            raise ValueError(f"u_scale: expected positive values, got {us.tolist()}")
        self.register_buffer("u_center", uc)
        self.register_buffer("u_scale", us)
        self.surrogate = MLP(1, n_state, width, depth).to(dtype)
        k = len(self.hidden_outputs)
        centers, scales = [], []
        for s in self.hidden_inputs:
            if s == "t":
                centers.append(0.5 * (t0 + t1))
                scales.append(0.5 * (t1 - t0))
            else:
                i = self.state_names.index(s)
                centers.append(float(uc[i]))
                scales.append(float(us[i]))
        self.hidden = ScaledHidden(
            MLP(len(self.hidden_inputs), k, hidden_width, hidden_depth).to(dtype),
            torch.tensor(centers, dtype=dtype),
            torch.tensor(scales, dtype=dtype),
            _as_vec(hidden_scale, k, "hidden_scale", dtype),
        )

    def forward(self, t: Tensor) -> Tensor:
        t = self._check_t(t, "t")
        t0, t1 = self.t_range
        s = (2.0 * (t - t0) / (t1 - t0) - 1.0)[:, None]
        return self.u_center + self.u_scale * self.surrogate(s)

    def _check_t(self, t: Tensor, name: str) -> Tensor:
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected a tensor of times (B,), got {type(t).__name__}")
        if t.ndim == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.ndim != 1:
            raise ValueError(f"{name}: expected shape (B,), got {tuple(t.shape)}")
        return t

    def hidden_features(self, t: Tensor, u: Tensor) -> Tensor:
        """The hidden network's inputs z (B, m) from t (B,) and u (B, n)."""
        cols = [t if s == "t" else u[:, self.state_names.index(s)] for s in self.hidden_inputs]
        return torch.stack(cols, dim=1)

    def hidden_term(self, t: Tensor, u: Tensor) -> Tensor:
        """F scattered into the state components: (B, n), zero where no hidden term enters."""
        f = _hidden_out(self.hidden, self.hidden_features(t, u), len(self.hidden_outputs))
        full = torch.zeros_like(u)
        return full.index_copy(1, torch.tensor(self.hidden_outputs, device=u.device), f)

    def rhs(self, t: Tensor, u: Tensor) -> Tensor:
        """N_known(t, u) + F(z): (B, n)."""
        out = self.hidden_term(t, u)
        if self.known is not None:
            kn = self.known(t, u)
            if kn.shape != u.shape:
                raise ValueError(f"known: expected an output of shape {tuple(u.shape)}, got {tuple(kn.shape)}")
            out = out + kn
        return out

    def residual(self, t: Tensor) -> Tensor:
        """u_theta'(t) - rhs(t, u_theta(t)) at collocation times t (B,): (B, n)."""
        tt = self._check_t(t, "t_colloc").detach()[:, None].requires_grad_(True)
        t = tt[:, 0]
        u = self(t)
        du = torch.stack([partial(u[:, i], tt, 0) for i in range(self.n_state)], dim=1)
        return du - self.rhs(t, u)

    def loss_terms(
        self,
        t_obs: Tensor,
        u_obs: Tensor,
        t_colloc: Tensor,
        *,
        u0: Tensor | Sequence[float] | None = None,
        t0: float | None = None,
    ) -> dict[str, Tensor]:
        """Named losses for :func:`pinn.training.fit`.

        Args:
            t_obs: observation times (N,); u_obs: observations (N, n) (NaN marks a missing value).
            t_colloc: collocation times (M,).
            u0: known initial state (n,) at ``t0`` (default: the start of ``t_range``); adds "ic".

        Returns:
            ``{"data", "residual"}`` plus ``"ic"`` when ``u0`` is given; mean squares, with the
            data and initial-condition misfits divided by ``u_scale`` per component.
        """
        t_obs = self._check_t(t_obs, "t_obs")
        if u_obs.shape != (t_obs.shape[0], self.n_state):
            raise ValueError(f"u_obs: expected shape ({t_obs.shape[0]}, {self.n_state}), got {tuple(u_obs.shape)}")
        diff = (self(t_obs) - u_obs) / self.u_scale
        mask = torch.isfinite(diff)
        terms = {"data": torch.where(mask, diff, torch.zeros_like(diff)).pow(2).sum() / mask.sum().clamp_min(1)}
        if u0 is not None:
            u0_t = torch.as_tensor(u0, dtype=self.u_scale.dtype, device=self.u_scale.device).reshape(1, -1)
            if u0_t.shape[1] != self.n_state:
                raise ValueError(f"u0: expected {self.n_state} values, got {u0_t.shape[1]}")
            tt = torch.full((1,), self.t_range[0] if t0 is None else float(t0), dtype=u0_t.dtype, device=u0_t.device)
            terms["ic"] = ((self(tt) - u0_t) / self.u_scale).pow(2).mean()
        terms["residual"] = (self.residual(t_colloc) / self.u_scale).pow(2).mean()
        return terms

    @torch.no_grad()
    def hidden_samples(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """(z, F(z)) along the surrogate's trajectory at times t (B,): shapes (B, m) and (B, k)."""
        t = self._check_t(t, "t")
        u = self(t)
        z = self.hidden_features(t, u)
        return z, _hidden_out(self.hidden, z, len(self.hidden_outputs))

    def replace_hidden(self, module: nn.Module) -> None:
        """Use ``module`` (raw inputs (B, m) -> (B, k) or (B,)), e.g. a discovered
        :class:`pinn.symbolic.SymbolicModule`, as the hidden term from now on."""
        if not isinstance(module, nn.Module):
            raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
        self.hidden = module


_FIELDS = ("t", "x", "u", "u_x", "u_xx")


class HiddenPDE(nn.Module):
    """UPINN for a scalar 1-D PDE ``u_t = N_known(t, x, u, u_x, u_xx) + F_phi(z)``.

    Args:
        known: called as ``known(t=..., x=..., u=..., u_x=..., u_xx=...)`` with tensors (B,),
            returns (B,); write it as ``lambda u_xx, **_: nu * u_xx``. None means no known part.
        hidden_inputs: names of the hidden network's inputs among t, x, u, u_x, u_xx.
        t_range, x_range: the space-time box; the surrogate's inputs are scaled to [-1, 1]^2.
        u_center, u_scale: affine scaling of the surrogate's output.
        feature_scale: typical size of each hidden input {name: scale} (default: the box
            half-widths for t and x, ``u_scale`` for u, ``u_scale / half-width of x`` for u_x and
            its square-ratio for u_xx); inputs are divided by it before the hidden network.
        hidden_scale: scale of the hidden network's output.
        width, depth: surrogate size (default 32, 4); hidden_width, hidden_depth (32, 2).
        dtype: parameter dtype (default float64).

    Shapes: ``forward(tx)`` with tx (B, 2) (columns t, x) returns u (B,).
    """

    def __init__(
        self,
        known: Callable[..., Tensor] | None,
        *,
        hidden_inputs: Sequence[str] = ("u", "u_x"),
        t_range: tuple[float, float] = (0.0, 1.0),
        x_range: tuple[float, float] = (-1.0, 1.0),
        u_center: float = 0.0,
        u_scale: float = 1.0,
        feature_scale: Mapping[str, float] | None = None,
        hidden_scale: float = 1.0,
        width: int = 32,
        depth: int = 4,
        hidden_width: int = 32,
        hidden_depth: int = 2,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if known is not None and not callable(known):
            raise TypeError(f"known: expected a callable or None, got {type(known).__name__}")
        self.known = known
        self.hidden_inputs = [str(s) for s in hidden_inputs]
        bad = [s for s in self.hidden_inputs if s not in _FIELDS]
        if not self.hidden_inputs or bad or len(set(self.hidden_inputs)) != len(self.hidden_inputs):
            raise ValueError(f"hidden_inputs: expected distinct names among {list(_FIELDS)}, got {self.hidden_inputs}")
        for name, rng in (("t_range", t_range), ("x_range", x_range)):
            if not float(rng[0]) < float(rng[1]):
                raise ValueError(f"{name}: expected (lo, hi) with lo < hi, got {rng!r}")
        if not u_scale > 0:
            raise ValueError(f"u_scale: expected a positive float, got {u_scale!r}")
        self.t_range = (float(t_range[0]), float(t_range[1]))
        self.x_range = (float(x_range[0]), float(x_range[1]))
        lo = torch.tensor([self.t_range[0], self.x_range[0]], dtype=dtype)
        hi = torch.tensor([self.t_range[1], self.x_range[1]], dtype=dtype)
        self.register_buffer("box_center", 0.5 * (lo + hi))
        self.register_buffer("box_half", 0.5 * (hi - lo))
        self.u_center = float(u_center)
        self.u_scale = float(u_scale)
        self.surrogate = MLP(2, 1, width, depth).to(dtype)
        hx = 0.5 * (self.x_range[1] - self.x_range[0])
        default = {
            "t": 0.5 * (self.t_range[1] - self.t_range[0]),
            "x": hx,
            "u": self.u_scale,
            "u_x": self.u_scale / hx,
            "u_xx": self.u_scale / hx**2,
        }
        center = {"t": 0.5 * sum(self.t_range), "x": 0.5 * sum(self.x_range), "u": self.u_center}
        fs = dict(default, **(feature_scale or {}))
        self.hidden = ScaledHidden(
            MLP(len(self.hidden_inputs), 1, hidden_width, hidden_depth).to(dtype),
            torch.tensor([center.get(s, 0.0) for s in self.hidden_inputs], dtype=dtype),
            torch.tensor([float(fs[s]) for s in self.hidden_inputs], dtype=dtype),
            torch.tensor([float(hidden_scale)], dtype=dtype),
        )

    def forward(self, tx: Tensor) -> Tensor:
        tx = self._check_tx(tx, "tx")
        return self.u_center + self.u_scale * self.surrogate((tx - self.box_center) / self.box_half)[:, 0]

    @staticmethod
    def _check_tx(tx: Tensor, name: str) -> Tensor:
        if not isinstance(tx, Tensor):
            raise TypeError(f"{name}: expected a tensor (B, 2) of (t, x) points, got {type(tx).__name__}")
        if tx.ndim != 2 or tx.shape[1] != 2:
            raise ValueError(f"{name}: expected shape (B, 2) with columns (t, x), got {tuple(tx.shape)}")
        return tx

    def fields(self, tx: Tensor, *, create_graph: bool = True) -> dict[str, Tensor]:
        """t, x, u, u_t, u_x, u_xx of the surrogate at tx (B, 2), each (B,)."""
        tx = self._check_tx(tx, "tx").detach().requires_grad_(True)
        u = self(tx)
        u_t = partial(u, tx, 0, create_graph=True)
        u_x = partial(u, tx, 1, create_graph=True)
        u_xx = partial(u_x, tx, 1, create_graph=create_graph)
        return {"t": tx[:, 0], "x": tx[:, 1], "u": u, "u_t": u_t, "u_x": u_x, "u_xx": u_xx}

    def hidden_features(self, f: Mapping[str, Tensor]) -> Tensor:
        """The hidden network's inputs z (B, m) from a fields dict."""
        return torch.stack([f[s] for s in self.hidden_inputs], dim=1)

    def residual(self, tx: Tensor) -> Tensor:
        """u_t - N_known - F(z) at collocation points tx (B, 2): (B,)."""
        f = self.fields(tx)
        rhs = _hidden_out(self.hidden, self.hidden_features(f), 1)[:, 0]
        if self.known is not None:
            kn = self.known(**{k: f[k] for k in _FIELDS})
            if kn.shape != f["u"].shape:
                raise ValueError(f"known: expected an output of shape {tuple(f['u'].shape)}, got {tuple(kn.shape)}")
            rhs = rhs + kn
        return f["u_t"] - rhs

    def loss_terms(
        self,
        tx_obs: Tensor,
        u_obs: Tensor,
        tx_colloc: Tensor,
        *,
        ic: Callable[[Tensor], Tensor] | None = None,
        x_ic: Tensor | None = None,
        bc: str | Callable[[Tensor], Tensor] | None = None,
        t_bc: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Named losses for :func:`pinn.training.fit`.

        Args:
            tx_obs: observation points (N, 2); u_obs: noisy values (N,).
            tx_colloc: collocation points (M, 2).
            ic: known initial condition ``ic(x) -> u(t0, x)`` evaluated at ``x_ic`` (K,); adds "ic".
            bc: "periodic" (u and u_x equal at both ends) or ``bc(t) -> (B, 2)`` Dirichlet values at
                (x_lo, x_hi), evaluated at ``t_bc`` (L,); adds "bc".

        Returns:
            ``{"data", ["ic",] ["bc",] "residual"}``: mean squares scaled by ``u_scale``.
        """
        tx_obs = self._check_tx(tx_obs, "tx_obs")
        if u_obs.shape != (tx_obs.shape[0],):
            raise ValueError(f"u_obs: expected shape ({tx_obs.shape[0]},), got {tuple(u_obs.shape)}")
        s = self.u_scale
        terms = {"data": ((self(tx_obs) - u_obs) / s).pow(2).mean()}
        if ic is not None:
            if x_ic is None:
                raise ValueError("x_ic: expected points (K,) where the initial condition is enforced, got None")
            tx0 = torch.stack([torch.full_like(x_ic, self.t_range[0]), x_ic], 1)
            terms["ic"] = ((self(tx0) - ic(x_ic)) / s).pow(2).mean()
        if bc is not None:
            if t_bc is None:
                raise ValueError("t_bc: expected times (L,) where the boundary condition is enforced, got None")
            lo = torch.stack([t_bc, torch.full_like(t_bc, self.x_range[0])], 1)
            hi = torch.stack([t_bc, torch.full_like(t_bc, self.x_range[1])], 1)
            if bc == "periodic":
                flo, fhi = self.fields(lo), self.fields(hi)
                hx = 0.5 * (self.x_range[1] - self.x_range[0])
                terms["bc"] = (((flo["u"] - fhi["u"]) / s).pow(2) + ((flo["u_x"] - fhi["u_x"]) * hx / s).pow(2)).mean()
            elif callable(bc):
                vals = bc(t_bc)
                terms["bc"] = (((self(lo) - vals[:, 0]) / s).pow(2) + ((self(hi) - vals[:, 1]) / s).pow(2)).mean()
            else:
                raise ValueError(f"bc: expected 'periodic', a callable or None, got {bc!r}")
        terms["residual"] = (self.residual(tx_colloc) / s).pow(2).mean()
        return terms

    def hidden_samples(self, tx: Tensor) -> tuple[Tensor, Tensor]:
        """(z, F(z)) from the surrogate at points tx (B, 2): shapes (B, m) and (B,)."""
        f = self.fields(tx, create_graph=False)
        z = self.hidden_features(f).detach()
        with torch.no_grad():
            return z, _hidden_out(self.hidden, z, 1)[:, 0]

    def replace_hidden(self, module: nn.Module) -> None:
        """Use ``module`` (raw inputs (B, m) -> (B,) or (B, 1)) as the hidden term from now on."""
        if not isinstance(module, nn.Module):
            raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
        self.hidden = module
