import pytest
import torch

from neurode import solve_ode

F64 = torch.float64


def f(t, y):
    return -y


Y0 = torch.ones(3, 2, dtype=F64)
T = torch.linspace(0, 1, 5, dtype=F64)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(y0=torch.ones(3, 2, dtype=torch.long)), TypeError, r"y0: expected a floating-point tensor, got dtype torch.int64"),
        (dict(y0=torch.tensor([[1.0, float("nan")], [1.0, 1.0]])), ValueError, r"y0: expected finite values.*samples \[0\]"),
        (dict(y0=torch.tensor([[1.0, float("inf")]])), ValueError, r"y0: expected finite"),
        (dict(y0=torch.ones(3)), ValueError, r"y0: expected shape \(B, \*S\).*got shape \(3,\)"),
        (dict(t_eval=torch.zeros(2, 2, 2)), ValueError, r"t_eval: expected shape \(T,\) or \(B, T\), got shape \(2, 2, 2\)"),
        (dict(t_eval=torch.tensor([0.0, 1.0, 0.5])), ValueError, r"t_eval: expected strictly monotone"),
        (dict(t_eval=torch.tensor([0.0, 1.0, 1.0])), ValueError, r"t_eval: expected strictly monotone"),
        (dict(t_eval=torch.linspace(0, 1, 4).expand(2, 4)), ValueError, r"t_eval: expected batch size 3 .*got shape \(2, 4\)"),
        (dict(t_eval=torch.tensor([0.0])), ValueError, r"t_eval: expected at least 2 times"),
        (dict(rtol=-1e-3), ValueError, r"rtol: expected finite non-negative"),
        (dict(atol=-1.0), ValueError, r"atol: expected finite non-negative"),
        (dict(rtol=0.0, atol=0.0), ValueError, r"rtol, atol: .*both zero"),
        (dict(atol=torch.ones(4)), ValueError, r"atol: expected a float or a tensor broadcastable to y0's shape \(3, 2\), got shape \(4,\)"),
        (dict(method="rk45"), ValueError, r"method: expected one of \['bosh3', 'dopri5', 'euler', 'heun_euler', 'midpoint', 'rk4', 'tsit5'\]"),
        (dict(method="rk4"), ValueError, r"dt: the fixed-step method 'rk4' needs a step size dt"),
        (dict(method="rk4", dt=-0.1), ValueError, r"dt: expected the sign of the direction of integration"),
        (dict(dt0=-0.1), ValueError, r"dt0: expected the sign of the direction"),
        (dict(dt0=0.1, t_eval=torch.tensor([1.0, 0.0])), ValueError, r"dt0: expected the sign"),
        (dict(dt0=0.0), ValueError, r"dt0: expected finite non-zero"),
        (dict(dt=0.1), ValueError, r"dt: only for fixed-step methods"),
        (dict(gradient="backprop"), ValueError, r"gradient: expected 'direct' or 'adjoint', got 'backprop'"),
        (dict(max_steps=0), ValueError, r"max_steps: expected a positive int, got 0"),
        (dict(args=(torch.ones(2),)), ValueError, r"args\[0\]: expected a tensor with leading dimension B=3, got \(2,\)"),
        (dict(controller="pid"), ValueError, r"controller: expected 'i', 'pi'"),
    ],
)
def test_bad_input(kwargs, exc, pattern):
    call = dict(f=f, y0=Y0, t_eval=T)
    call.update(kwargs)
    with pytest.raises(exc, match=pattern):
        solve_ode(call.pop("f"), call.pop("y0"), call.pop("t_eval"), **call)


def test_f_wrong_shape_and_dtype():
    with pytest.raises(ValueError, match=r"f: expected f\(t, y\) to return shape \(3, 2\).*got \(3,\)"):
        solve_ode(lambda t, y: y.sum(1), Y0, T)
    with pytest.raises(TypeError, match=r"f: expected f\(t, y\) to return dtype torch.float64.*got torch.float32"):
        solve_ode(lambda t, y: y.float(), Y0, T)


def test_per_component_tolerances_accepted():
    sol = solve_ode(f, Y0, T, rtol=torch.tensor([1e-6, 1e-3], dtype=F64), atol=torch.full((3, 1), 1e-9))
    assert bool(sol.success.all())


def test_adjoint_refuses_inputs_it_cannot_differentiate():
    mu = torch.ones(3, dtype=F64, requires_grad=True)
    with pytest.raises(ValueError, match=r"gradient: 'adjoint' gives gradients to y0 and adjoint_params only"):
        solve_ode(lambda t, y, m: -m[:, None] * y, Y0, T, args=(mu,), gradient="adjoint")
