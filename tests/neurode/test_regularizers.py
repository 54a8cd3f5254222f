"""Regularizers against hand-computable answers (y' = a y), finite differences in float64, the
local regularizer's gradient path, adjoint and torchdiffeq compatibility, and bad input."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from neurode import get_tableau, solve_ode, step_estimates
from neurode.layers import NeuralODE
from neurode.regularizers import (
    RNODE,
    STEER,
    ConstantWeight,
    ExponentialAnnealing,
    GlobalError,
    GlobalStiffness,
    LocalError,
    LocalStiffness,
    StateRecorder,
    as_schedule,
    global_error,
    global_stiffness,
    heuristic_step,
    local_error,
    local_stiffness,
    rnode_augment,
    sample_step_times,
    sample_uniform_times,
)

F64 = torch.float64


def _linear_factors(method: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For y' = a y and z = a dt: y1 = R(z) y0 and err = Q(z) y0, from the tableau by hand:
    stages g = (I - z A)^-1 1 y0, so R = 1 + z b.g and Q = z b_err.g."""
    tab = get_tableau(method)
    A, b, be = np.asarray(tab.a), np.asarray(tab.b), np.asarray(tab.b_err)
    s = len(b)
    R, Q = [], []
    for zz in np.atleast_1d(z):
        g = np.linalg.solve(np.eye(s) - zz * A, np.ones(s))
        R.append(1 + zz * b @ g)
        Q.append(zz * be @ g)
    return np.array(R), np.array(Q)


# ------------------------------------------------------------------------------------ schedules
def test_schedules():
    assert ConstantWeight(0.3)(0) == 0.3 and ConstantWeight(0.3)(10**6) == 0.3
    s = ExponentialAnnealing(100.0, 10.0, n_steps=4)
    assert s(0) == pytest.approx(100.0)
    assert s(2) == pytest.approx(math.sqrt(1000.0))
    assert s(4) == pytest.approx(10.0) and s(40) == pytest.approx(10.0)
    assert s(-3) == pytest.approx(100.0)
    assert isinstance(as_schedule(2), ConstantWeight)
    assert as_schedule(s) is s
    assert GlobalError(ExponentialAnnealing(2.5, 1.0, 10)).weight_at(10) == pytest.approx(1.0)


@pytest.mark.parametrize("make", [
    lambda: ConstantWeight(-1.0),
    lambda: ExponentialAnnealing(-1.0, 1.0, 5),
    lambda: ExponentialAnnealing(1.0, -0.5, 5),
    lambda: GlobalError(-0.1),
    lambda: LocalError(-2.0),
    lambda: GlobalStiffness(float("nan")),
    lambda: RNODE(kinetic_weight=-0.01),
    lambda: STEER(b=-0.5),
])
def test_negative_weights_raise(make):
    with pytest.raises(ValueError, match="weight|w0|w1|b:"):
        make()


def test_schedule_returning_negative_raises():
    reg = GlobalError(lambda step: -1.0)
    with pytest.raises(ValueError, match="weight"):
        reg.weight_at(0)


# ------------------------------------------------------------------------------------ y' = a y
A_VALUES = torch.tensor([-0.5, -3.0, 2.0], dtype=F64)


def _lin(t, y, a):
    return a[:, None] * y


@pytest.mark.parametrize("method", ["tsit5", "dopri5"])
def test_global_error_by_hand(method):
    """E_j from the tableau by hand on y' = a y; the three aggregations of sum_j E_j |dt_j|."""
    rtol, atol = 1e-6, 1e-8
    y0 = torch.ones(3, 1, dtype=F64)
    sol = solve_ode(_lin, y0, [0.0, 2.0], method=method, rtol=rtol, atol=atol, args=(A_VALUES,), record_steps=True)
    st = sol.steps
    for b in range(3):
        m = st.mask[b]
        a = float(A_VALUES[b])
        dts = st.dt[b][m].numpy()
        ts = st.t[b][m].numpy()
        R, Q = _linear_factors(method, a * dts)
        y_start = np.exp(a * ts)  # the solver's states agree to ~rtol; E depends on them smoothly
        y_end = R * y_start
        E = np.abs(Q * y_start) / (atol + rtol * np.maximum(np.abs(y_start), np.abs(y_end)))
        np.testing.assert_allclose(st.error_ratio[b][m].numpy(), E, rtol=1e-4)
        q = E * np.abs(dts)
        np.testing.assert_allclose(float(global_error(sol, "sum")[b]), q.sum(), rtol=1e-4)
        np.testing.assert_allclose(float(global_error(sol, "mean")[b]), q.mean(), rtol=1e-4)
        np.testing.assert_allclose(float(global_error(sol, "max")[b]), q.max(), rtol=1e-4)


def test_global_stiffness_by_hand():
    """Shampine's estimate recovers |a|: S_j = |dt_j| |a| / 3.5068 for tsit5."""
    y0 = torch.ones(3, 1, dtype=F64)
    sol = solve_ode(_lin, y0, [0.0, 2.0], args=(A_VALUES,), record_steps=True)
    st = sol.steps
    size = get_tableau("tsit5").stability_size
    for b in range(3):
        m = st.mask[b]
        adt = st.dt[b][m].abs()
        S = adt * A_VALUES[b].abs() / size
        torch.testing.assert_close(global_stiffness(sol, "sum")[b], (S * adt).sum(), rtol=1e-9, atol=0)
        torch.testing.assert_close(global_stiffness(sol, "mean")[b], (S * adt).mean(), rtol=1e-9, atol=0)
        torch.testing.assert_close(global_stiffness(sol, "max")[b], S.max(), rtol=1e-9, atol=0)


def test_local_estimates_by_hand():
    """One fresh step on y' = a y from y at t: E |dt| from the tableau, S = |dt| |a| / size."""
    rtol, atol = 1e-6, 1e-8
    y = torch.tensor([[1.0], [0.3], [-2.0]], dtype=F64)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    est = step_estimates(_lin, t, y, rtol=rtol, atol=atol, args=(A_VALUES,))
    dts = est.dt.numpy()
    R, Q = _linear_factors("tsit5", A_VALUES.numpy() * dts)
    y_np = y[:, 0].numpy()
    E = np.abs(Q * y_np) / (atol + rtol * np.maximum(np.abs(y_np), np.abs(R * y_np)))
    le = local_error(_lin, t, y, rtol=rtol, atol=atol, args=(A_VALUES,))
    np.testing.assert_allclose(le.numpy(), E * np.abs(dts), rtol=1e-5)  # cancellation in b_err
    ls = local_stiffness(_lin, t, y, rtol=rtol, atol=atol, args=(A_VALUES,))
    np.testing.assert_allclose(ls.numpy(), np.abs(dts) * np.abs(A_VALUES.numpy()) / 3.5068, rtol=1e-9)


def test_rnode_by_hand():
    """y' = a y, scalar: kinetic int_0^T a^2 y^2 = a y0^2 (e^{2aT} - 1) / 2, Jacobian term a^2 T."""
    a, T = -0.7, 1.5
    y0 = torch.tensor([[1.0], [2.0]], dtype=F64)
    g, z0, eps = rnode_augment(lambda t, y: a * y, y0, generator=torch.Generator().manual_seed(0))
    assert z0.shape == (2, 3) and set(eps.abs().flatten().tolist()) == {1.0}
    sol = solve_ode(g, z0, [0.0, T], args=(eps,), rtol=1e-10, atol=1e-12)
    zT = sol.ys[:, -1]
    kin = a * y0[:, 0] ** 2 * (math.exp(2 * a * T) - 1) / 2
    torch.testing.assert_close(zT[:, 1], kin, rtol=1e-7, atol=0)
    torch.testing.assert_close(zT[:, 2], torch.full((2,), a * a * T, dtype=F64), rtol=1e-7, atol=0)
    reg = RNODE(kinetic_weight=0.5, jacobian_weight=2.0)
    torch.testing.assert_close(reg.value(zT), 0.5 * kin + 2.0 * a * a * T, rtol=1e-7, atol=0)


# ------------------------------------------------------------------------------------ gradients
def _w():
    return (0.6 * torch.randn(2, 2, dtype=F64, generator=torch.Generator().manual_seed(3))).requires_grad_()


Y0 = torch.tensor([[1.0, 0.5], [-0.3, 0.8], [0.2, -1.0]], dtype=F64)


def _fd_check(fn, w, eps=1e-5, rtol=2e-3, n_dirs=3):
    """Analytic directional derivatives of c . fn(w) against central differences (float64).

    The error estimates are differences of nearby stage combinations (cancellation at ~1e-7
    relative), so gradcheck's eps=1e-6 is too small; eps=1e-5 with a relative check is robust."""
    out = fn(w)
    assert torch.isfinite(out).all()
    gen = torch.Generator().manual_seed(11)
    c = torch.rand(out.shape, dtype=F64, generator=gen) + 0.5
    (g,) = torch.autograd.grad((c * out).sum(), w)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    for _ in range(n_dirs):
        v = torch.randn(w.shape, dtype=F64, generator=gen)
        with torch.no_grad():
            num = ((c * fn(w + eps * v)).sum() - (c * fn(w - eps * v)).sum()) / (2 * eps)
        ana = (g * v).sum()
        assert abs(float(num - ana)) <= rtol * abs(float(ana)) + 1e-9, (float(num), float(ana))


def _field(w):
    return lambda t, y: torch.tanh(y @ w) - 0.1 * y


@pytest.mark.parametrize("aggregate", ["sum", "mean", "max"])
@pytest.mark.parametrize("kind", ["error", "stiffness"])
def test_global_gradcheck(kind, aggregate):
    fn_reg = global_error if kind == "error" else global_stiffness

    def fn(w):
        sol = solve_ode(_field(w), Y0, [0.0, 1.0], rtol=1e-7, atol=1e-9, record_steps=aggregate != "sum")
        return fn_reg(sol, aggregate)

    _fd_check(fn, _w())


@pytest.mark.parametrize("fn_reg", [local_error, local_stiffness])
def test_local_gradcheck(fn_reg):
    """The step size is the heuristic's at the current parameters, held constant for the gradient."""
    t = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    w = _w()
    # loose tolerances: a larger step, so the embedded difference loses fewer digits to cancellation
    dt = heuristic_step(_field(w), t, Y0, rtol=1e-3, atol=1e-5)
    assert not dt.requires_grad
    torch.testing.assert_close(fn_reg(_field(w), t, Y0, rtol=1e-3, atol=1e-5),
                               fn_reg(_field(w), t, Y0, rtol=1e-3, atol=1e-5, dt=dt))
    _fd_check(lambda w: fn_reg(_field(w), t, Y0, rtol=1e-3, atol=1e-5, dt=dt), w, eps=1e-4)


def test_rnode_gradcheck():
    gen_seed = 5

    def fn(w):
        g, z0, eps = rnode_augment(_field(w), Y0, generator=torch.Generator().manual_seed(gen_seed))
        sol = solve_ode(g, z0, [0.0, 1.0], args=(eps,), rtol=1e-9, atol=1e-11)
        return RNODE(1.0, 1.0).value(sol.ys[:, -1])

    assert torch.autograd.gradcheck(fn, (_w(),), eps=1e-6, atol=1e-6, rtol=1e-4)
    _fd_check(fn, _w(), rtol=1e-5)


def test_local_gradient_reaches_parameters_not_state():
    w = _w()
    y0 = Y0.clone().requires_grad_()
    sol = solve_ode(_field(w), y0, torch.tensor([0.0, 0.4, 1.0], dtype=F64))
    t_r = torch.full((3,), 0.4, dtype=F64)
    for fn_reg in (local_error, local_stiffness):
        val = fn_reg(_field(w), t_r, sol.ys[:, 1]).sum()
        g_w, g_y0 = torch.autograd.grad(val, (w, y0), allow_unused=True)
        assert g_y0 is None
        assert torch.isfinite(g_w).all() and g_w.abs().sum() > 0


class _Field(nn.Module):
    def __init__(self, d=2, h=16, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, d))

    def forward(self, t, y):
        return self.net(y)


@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_layer_local_gradient_not_into_state(sampling):
    node = NeuralODE(_Field().double(), regularizers=(LocalError(1.0, sampling),),
                     generator=torch.Generator().manual_seed(0))
    y0 = Y0.clone().requires_grad_()
    node(y0)
    params = tuple(node.parameters())
    grads = torch.autograd.grad(node.regularization, (y0, *params), allow_unused=True)
    assert grads[0] is None
    assert all(g is not None and torch.isfinite(g).all() for g in grads[1:])


@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_local_adjoint_matches_direct(sampling):
    """Same seed -> same t_r: the gradients of task + local regularization agree across gradient modes."""
    grads = {}
    for mode in ("direct", "adjoint"):
        node = NeuralODE(_Field().double(), gradient=mode, rtol=1e-9, atol=1e-11,
                         regularizers=(LocalError(1.0, sampling),))
        y0 = Y0.clone().requires_grad_()
        y1 = node(y0, generator=torch.Generator().manual_seed(7))
        ((y1**2).sum() + node.regularization).backward()
        grads[mode] = [y0.grad] + [p.grad for p in node.parameters()]
    for a, b in zip(grads["direct"], grads["adjoint"]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-8)


def test_local_with_torchdiffeq_odeint_adjoint():
    """The main solve is torchdiffeq's black-box adjoint; the local regularizer only needs (f, t_r, u(t_r))."""
    torchdiffeq = pytest.importorskip("torchdiffeq")
    field = _Field().double()
    B = Y0.shape[0]
    t_r = sample_uniform_times(0.0, 1.0, B, generator=torch.Generator().manual_seed(1), dtype=F64)
    grid, inv = torch.unique(torch.cat([torch.tensor([0.0, 1.0], dtype=F64), t_r]), sorted=True, return_inverse=True)
    reg = LocalError(1.0)

    def td_field(t, y):  # torchdiffeq passes a scalar t
        return field(t.expand(y.shape[0]), y)

    ys = torchdiffeq.odeint_adjoint(td_field, Y0, grid, rtol=1e-10, atol=1e-12, method="dopri5",
                                    adjoint_params=tuple(field.parameters()))  # (T, B, D)
    y_r = ys[inv[2:], torch.arange(B)]
    loss = (ys[-1] ** 2).sum() + reg(field, t_r, y_r, method="tsit5", rtol=1e-6, atol=1e-8)
    loss.backward()
    g_td = [p.grad.clone() for p in field.parameters()]
    assert all(torch.isfinite(g).all() for g in g_td)
    # the regularizer's gradient alone equals the one computed from neurode's states at t_r
    field.zero_grad()
    r_td = reg(field, t_r, y_r.detach(), method="tsit5", rtol=1e-6, atol=1e-8)
    g_r_td = torch.autograd.grad(r_td, tuple(field.parameters()))
    te = torch.stack([torch.zeros(B, dtype=F64), t_r], dim=1)
    y_ours = solve_ode(field, Y0, te, rtol=1e-10, atol=1e-12, gradient="adjoint").ys[:, -1]
    r_ours = reg(field, t_r, y_ours, method="tsit5", rtol=1e-6, atol=1e-8)
    g_r_ours = torch.autograd.grad(r_ours, tuple(field.parameters()))
    for a, b in zip(g_r_td, g_r_ours):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-10)


# ------------------------------------------------------------------------------------ sampling
def test_samplers():
    g = torch.Generator().manual_seed(0)
    t = sample_uniform_times(0.5, 2.0, 1000, generator=g, dtype=F64)
    assert t.shape == (1000,) and bool(((t > 0.5) & (t < 2.0)).all())
    assert abs(float(t.mean()) - 1.25) < 0.05
    sol = solve_ode(_lin, torch.ones(3, 1, dtype=F64), [0.0, 2.0], args=(A_VALUES,), record_steps=True)
    t_r, j = sample_step_times(sol.steps, generator=g)
    assert bool((j < sol.stats["n_accepted"]).all())
    torch.testing.assert_close(t_r, sol.steps.t.gather(1, j[:, None])[:, 0])


def test_state_recorder_matches_resolve():
    """States looked up at accepted step times equal those of a second solve up to tolerance."""
    rec = StateRecorder(_lin)
    y0 = torch.ones(3, 1, dtype=F64)
    sol = solve_ode(rec.field, y0, [0.0, 2.0], args=(rec.rows(y0), A_VALUES), record_steps=True, rtol=1e-9, atol=1e-11)
    rec.stop()
    for seed in range(3):
        t_r, _ = sample_step_times(sol.steps, generator=torch.Generator().manual_seed(seed))
        y_r, found = rec.lookup(t_r)
        assert bool(found.all())
        torch.testing.assert_close(y_r[:, 0], torch.exp(A_VALUES * t_r), rtol=1e-7, atol=0)


# ------------------------------------------------------------------------------------ bad input
def test_stiffness_without_stage_pair_raises():
    with pytest.raises(ValueError, match="method: .*stiffness.*bosh3"):
        NeuralODE(_Field(), method="bosh3", regularizers=(GlobalStiffness(0.1),))
    with pytest.raises(ValueError, match="method: .*bosh3"):
        NeuralODE(_Field(), method="bosh3", regularizers=(LocalStiffness(0.1),))
    with pytest.raises(ValueError, match="method"):
        LocalStiffness(0.1, method="heun_euler")
    with pytest.raises(ValueError, match="method"):
        local_stiffness(_lin, torch.zeros(3, dtype=F64), torch.ones(3, 1, dtype=F64), method="bosh3", args=(A_VALUES,))
    sol = solve_ode(_lin, torch.ones(3, 1, dtype=F64), [0.0, 1.0], method="bosh3", args=(A_VALUES,))
    with pytest.raises(ValueError, match="stiffness"):
        global_stiffness(sol)


@pytest.mark.parametrize("reg", [GlobalError(1.0), GlobalStiffness(1.0), LocalError(1.0), STEER(0.2), RNODE()])
def test_fixed_step_method_raises(reg):
    with pytest.raises(ValueError, match="method: .*fixed-step.*rk4"):
        NeuralODE(_Field(), method="rk4", dt=0.1, regularizers=(reg,))


def test_other_bad_input():
    with pytest.raises(ValueError, match="t_span: expected t0 != t1"):
        NeuralODE(_Field(), t_span=(1.0, 1.0))
    with pytest.raises(ValueError, match="gradient: .*direct"):
        NeuralODE(_Field(), gradient="adjoint", regularizers=(GlobalError(1.0),))
    with pytest.raises(ValueError, match="aggregate"):
        GlobalError(1.0, aggregate="median")
    with pytest.raises(ValueError, match="sampling"):
        LocalError(1.0, sampling="importance")
    with pytest.raises(ValueError, match="STEER.b"):
        NeuralODE(_Field(), t_span=(0.0, 1.0), regularizers=(STEER(b=1.5),))
    with pytest.raises(TypeError, match="regularizers\\[0\\]"):
        NeuralODE(_Field(), regularizers=("error",))
    sol = solve_ode(_lin, torch.ones(3, 1, dtype=F64), [0.0, 1.0], args=(A_VALUES,))
    with pytest.raises(ValueError, match="record_steps=True"):
        global_error(sol, "mean")
