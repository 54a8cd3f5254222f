import numpy as np
import pytest
import torch

from neurode import ADAPTIVE_METHODS, PIController, SolveError, Status, solve_ode
from tests.neurode.problems import (
    kepler,
    kepler_y0,
    linear,
    lotka,
    np_field,
    scipy_ref,
    vdp,
)

F64 = torch.float64
RTOL = {"heun_euler": 1e-5, "bosh3": 1e-7, "dopri5": 1e-9, "tsit5": 1e-9}


def _cases():
    mus = [0.5, 1.0, 2.0]
    return [
        ("linear", linear, [[1.0, 0.0], [0.5, -1.0], [0.0, 2.0]], (), 0.0, 8.0),
        ("lotka", lotka, [[5.0, 1.0], [3.0, 2.0], [1.0, 1.0]], (), 0.0, 4.0),
        ("vdp", vdp, [[2.0, 0.0]] * 3, (mus,), 0.0, 6.0),
        ("kepler", kepler, [kepler_y0(0.3), kepler_y0(0.5), kepler_y0(0.1)], (), 0.0, 6.3),
    ]


@pytest.mark.parametrize("method", ADAPTIVE_METHODS)
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_matches_dop853(method, case, direction, per_sample):
    name, f, y0, args, t0, t1 = case
    B = len(y0)
    y0 = torch.tensor(y0, dtype=F64)
    if direction == "backward" and name == "vdp":
        t1 = 1.0  # backward in time the limit cycle repels: errors grow like exp(mu t)
    args = tuple(torch.tensor(a, dtype=F64) for a in args)
    if per_sample:  # each sample its own output times and end time
        t_eval = torch.stack([torch.linspace(t0, t1 * (1 - 0.15 * b), 7, dtype=F64) for b in range(B)])
    else:
        t_eval = torch.linspace(t0, t1, 9, dtype=F64).expand(B, -1)
    if direction == "backward":  # start from the forward end state, integrate back
        t_eval = t_eval.flip(-1)
        starts = []
        for b in range(B):
            fa = np_field(f, *[a[b].item() for a in args])
            starts.append(scipy_ref(fa, y0[b].numpy(), t_eval[b].flip(0).numpy())[-1])
        y0 = torch.tensor(np.array(starts), dtype=F64)
    rtol = RTOL[method]
    te_arg = t_eval if per_sample else t_eval[0]
    sol = solve_ode(f, y0, te_arg, method=method, rtol=rtol, atol=rtol * 1e-2, args=args)
    assert sol.ys.shape == (B, t_eval.shape[1], y0.shape[1])
    assert bool(sol.success.all())
    for b in range(B):
        fa = np_field(f, *[a[b].item() for a in args])
        ref = scipy_ref(fa, y0[b].numpy(), t_eval[b].numpy())
        err = np.abs(sol.ys[b].numpy() - ref) / (rtol * 1e-2 + rtol * np.abs(ref).max(0))
        assert err.max() < 300, (b, err.max())


@pytest.mark.parametrize("method", ["dopri5", "tsit5", "bosh3"])
def test_batch_equals_alone(method):
    mu = torch.tensor([0.3, 1.0, 2.5, 4.0], dtype=F64)
    y0 = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.5, -1.0], [2.0, 2.0]], dtype=F64)
    t = torch.linspace(0, 5, 6, dtype=F64)
    batch = solve_ode(vdp, y0, t, method=method, args=(mu,))
    for b in range(4):
        alone = solve_ode(vdp, y0[b : b + 1], t, method=method, args=(mu[b : b + 1],))
        assert alone.stats["n_accepted"].item() == batch.stats["n_accepted"][b].item()
        assert alone.stats["n_rejected"].item() == batch.stats["n_rejected"][b].item()
        torch.testing.assert_close(alone.ys[0], batch.ys[b], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(alone.error_estimate[0], batch.error_estimate[b], rtol=1e-8, atol=0)


def test_float32_default_path():
    mu = torch.linspace(0.1, 5, 16)
    y0 = torch.tensor([2.0, 0.0]).expand(16, 2)
    t = torch.linspace(0, 10, 11)
    s32 = solve_ode(vdp, y0, t, args=(mu,), rtol=1e-5, atol=1e-7)
    s64 = solve_ode(vdp, y0.double(), t.double(), args=(mu.double(),), rtol=1e-10, atol=1e-12)
    assert s32.ys.dtype == torch.float32 and s32.error_estimate.dtype == torch.float32
    assert (s32.ys.double() - s64.ys).abs().max() < 1e-3


def test_pi_controller():
    mu = torch.tensor([1.0, 3.0], dtype=F64)
    y0 = torch.tensor([[2.0, 0.0]] * 2, dtype=F64)
    t = torch.linspace(0, 6, 4, dtype=F64)
    s_i = solve_ode(vdp, y0, t, args=(mu,), rtol=1e-8, atol=1e-10)
    s_pi = solve_ode(vdp, y0, t, args=(mu,), rtol=1e-8, atol=1e-10, controller=PIController())
    assert (s_i.ys - s_pi.ys).abs().max() < 1e-5
    assert not torch.equal(s_i.stats["n_accepted"], s_pi.stats["n_accepted"]) or not torch.equal(
        s_i.stats["n_rejected"], s_pi.stats["n_rejected"]
    )


def test_state_shape_preserved():
    y0 = torch.randn(3, 2, 4, dtype=F64)
    sol = solve_ode(lambda t, y: -y * t[:, None, None], y0, [0.0, 1.0])
    assert sol.ys.shape == (3, 2, 2, 4)
    torch.testing.assert_close(sol.ys[:, 1], y0 * np.exp(-0.5), rtol=1e-6, atol=1e-8)


def test_estimates_on_linear_problem():
    """y' = a y: E_j <= 1 on accepted steps and lambda_j = S_j size / |dt_j| recovers |a|."""
    a = torch.tensor([-0.5, -3.0, 2.0], dtype=F64)
    y0 = torch.ones(3, 1, dtype=F64)
    for method, size in (("dopri5", 3.25), ("tsit5", 3.5068)):
        sol = solve_ode(lambda t, y, a: a[:, None] * y, y0, [0.0, 2.0], method=method, args=(a,),
                        record_steps=True)
        st = sol.steps
        m = st.mask
        assert bool((st.error_ratio[m] <= 1).all())
        lam = st.stiffness / st.dt.abs().clamp_min(1e-300) * size
        for b in range(3):
            torch.testing.assert_close(lam[b][m[b]], a[b].abs().expand(int(m[b].sum())), rtol=1e-9, atol=0)
        # the accumulated estimates are the sums over the record
        torch.testing.assert_close(sol.error_estimate, (st.error_ratio * st.dt.abs() * m).sum(1))
        torch.testing.assert_close(sol.stiffness_estimate, (st.stiffness * st.dt.abs() * m).sum(1))
        assert torch.equal(m.sum(1), sol.stats["n_accepted"])


def test_stiffness_grows_with_mu():
    """Near (2, 0) the Van der Pol Jacobian has a fast eigenvalue ~ -3 mu: the estimate finds it,
    and both the per-step estimate and the accumulated R_S grow with mu."""
    mu = torch.tensor([0.5, 2.0, 8.0, 30.0], dtype=F64)
    y0 = torch.tensor([[2.0, 0.0]] * 4, dtype=F64)
    sol = solve_ode(vdp, y0, [0.0, 1.0], args=(mu,), record_steps=True)
    st = sol.steps
    lam = st.stiffness / st.dt.abs().clamp_min(1e-300) * 3.5068
    med = torch.stack([lam[b][st.mask[b]].median() for b in range(4)])
    assert bool((med.diff() > 0).all()), med
    torch.testing.assert_close(med[1:], 3 * mu[1:], rtol=0.1, atol=0)
    assert bool((sol.stiffness_estimate.diff() > 0).all())
    assert bool((sol.stats["n_accepted"].diff() > 0).all())


def test_compaction_counts_active_rows_only():
    calls = []

    def f(t, y):
        calls.append(y.shape[0])
        return -y

    B = 8
    t_end = torch.tensor([1.0] * 4 + [10.0] * 4, dtype=F64)
    t_eval = torch.stack([torch.zeros(B, dtype=F64), t_end], 1)
    sol = solve_ode(f, torch.ones(B, 1, dtype=F64), t_eval)
    rows_evaluated = sum(calls)
    assert rows_evaluated == int(sol.stats["nfe"].sum())  # nfe counts real evaluations per sample
    assert min(calls) == 4 and calls[-1] == 4  # after the short ones finish, only 4 rows remain
    assert rows_evaluated < B * int(sol.stats["nfe"].max())
    assert bool((sol.stats["nfe"][:4] < sol.stats["nfe"][4:]).all())


def test_blow_up_gives_failure_status():
    y0 = torch.tensor([[1.0], [0.2], [0.1]], dtype=F64)  # y = y0 / (1 - y0 t): blows up at t = 1/y0
    f = lambda t, y: y**2  # noqa: E731
    t = torch.tensor([0.0, 2.0], dtype=F64)
    sol = solve_ode(f, y0, t, raise_on_failure=False)
    assert sol.status[0].item() != Status.SUCCESS
    assert sol.status[1:].tolist() == [Status.SUCCESS, Status.SUCCESS]
    assert abs(sol.t_final[0].item() - 1.0) < 1e-3
    assert torch.isnan(sol.ys[0, -1]).all()
    torch.testing.assert_close(sol.ys[1:, -1, 0], y0[1:, 0] / (1 - 2 * y0[1:, 0]), rtol=1e-5, atol=0)
    with pytest.raises(SolveError, match=r"1 of 3 samples[\s\S]*sample 0: stopped at t=1"):
        solve_ode(f, y0, t)


def test_max_steps_status():
    sol = solve_ode(lambda t, y: -y, torch.ones(2, 1, dtype=F64), [0.0, 100.0], max_steps=5,
                    raise_on_failure=False)
    assert sol.status.tolist() == [Status.MAX_STEPS] * 2
    assert sol.stats["n_accepted"].tolist() == [5, 5]


def test_nonfinite_vector_field_status():
    def f(t, y):  # NaN once y < 0.5
        return torch.where(y > 0.5, -y, torch.full_like(y, float("nan")))

    sol = solve_ode(f, torch.ones(2, 1, dtype=F64), [0.0, 2.0], raise_on_failure=False)
    assert set(sol.status.tolist()) <= {Status.NONFINITE, Status.DT_UNDERFLOW}
    assert bool((sol.status != 0).all())
    assert abs(sol.t_final[0].item() - np.log(2)) < 1e-3


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_fixed_step_methods(method):
    sol = solve_ode(lambda t, y: -y, torch.ones(2, 1, dtype=F64), torch.linspace(0, 1, 3, dtype=F64),
                    method=method, dt=0.01)
    assert sol.error_estimate is None and sol.stiffness_estimate is None
    assert sol.stats["n_accepted"].tolist() == [100, 100]
    tol = {"euler": 1e-2, "midpoint": 1e-4, "rk4": 1e-9}[method]
    assert (sol.ys[:, -1, 0] - np.exp(-1)).abs().max() < tol


def test_nfe_counts_evaluations():
    calls = []

    def f(t, y):
        calls.append(y.shape[0])
        return -y

    for method in ADAPTIVE_METHODS:
        calls.clear()
        sol = solve_ode(f, torch.ones(1, 1, dtype=F64), [0.0, 1.0], method=method)
        assert sol.stats["nfe"].item() == len(calls) - 0, method


def test_step_landing_on_t_end_by_rounding_finishes():
    """A step with dt < t_end - t whose sum t + dt rounds to t_end (float32) ends the solve there
    instead of failing with a zero-length next step (step size underflow)."""
    t_end = torch.tensor(18.849556, dtype=torch.float32)
    t_prev = torch.nextafter(t_end, torch.tensor(0.0)) - 4 * (t_end - torch.nextafter(t_end, torch.tensor(0.0)))
    remaining = t_end - t_prev
    dt = remaining * 0.9  # shorter than the remaining interval, yet t_prev + dt == t_end in float32
    assert float(dt) < float(remaining) and float(t_prev + dt) == float(t_end)
    t_eval = torch.stack([t_prev, t_end]).expand(3, 2)
    y0 = torch.ones(3, 1)
    sol = solve_ode(lambda t, y: -y, y0, t_eval, dt0=dt.expand(3), rtol=1e-3, atol=1e-3)
    assert bool(sol.success.all())
    torch.testing.assert_close(sol.ys[:, -1], y0 * torch.exp(-remaining), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["tsit5", "dopri5", "bosh3"])
def test_interpolate_many_matches_interpolate(method):
    """The batched dense output (A, M) equals M separate single-output evaluations."""
    from neurode.solvers.rk import interpolate, interpolate_many, rk_step
    from neurode.solvers.tableaus import get_tableau

    tab = get_tableau(method)
    g = torch.Generator().manual_seed(0)
    A, N, M = 5, 3, 4
    W = torch.randn(N, N, generator=g, dtype=torch.float64)

    def f(t, y):
        return torch.tanh(y @ W) + t[:, None]

    t = torch.rand(A, generator=g, dtype=torch.float64)
    y = torch.randn(A, N, generator=g, dtype=torch.float64)
    dt = 0.1 + 0.2 * torch.rand(A, generator=g, dtype=torch.float64)
    y1, _, ks, _, K = rk_step(f, tab, t, y, dt, f(t, y))
    k_end = f(t + dt, y1)
    theta = torch.rand(A, M, generator=g, dtype=torch.float64)
    many = interpolate_many(tab, theta, dt, y, y1, ks, k_end, K)
    one = torch.stack([interpolate(tab, theta[:, m], dt, y, y1, ks, k_end, K) for m in range(M)], dim=1)
    torch.testing.assert_close(many, one, rtol=1e-12, atol=1e-12)
