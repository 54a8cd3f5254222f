"""Tests of pinn.symbolic: backends, post-processing, export, console command and errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
import torch
from torch import nn

from pinn.cli import main
from pinn.symbolic import (
    MissingBackendError,
    OperonRegressor,
    PySRRegressor,
    SindyRegressor,
    SymbolicModule,
    drop_small_terms,
    extract,
    parse_ranges,
    refit_constants,
    save_for_extraction,
)
from pinn.training import fit

x, y = sympy.symbols("x y")
ROOT = Path(__file__).resolve().parents[2]


def _backend(name: str, trig: bool = False):
    if name == "sindy":
        return SindyRegressor(degree=2 if trig else 3, n_frequencies=1 if trig else 0)
    return OperonRegressor(population_size=300, generations=40, max_time=20)


def _coef(expr: sympy.Expr, term: sympy.Expr) -> float:
    return float(sympy.expand(expr).as_coefficients_dict().get(term, 0))


@pytest.mark.parametrize("backend", ["sindy", "operon"])
def test_recovers_product_from_callable(backend):
    res = extract(lambda X: 0.9 * X[:, 0] * X[:, 1], {"x": (0, 5), "y": (0, 5)},
                  backend=_backend(backend), n_samples=500)
    eq = res[0]
    assert sympy.expand(eq.expression - 0.9 * x * y).free_symbols == set() or sympy.simplify(
        eq.expression - 0.9 * x * y) == 0
    assert abs(_coef(eq.expression, x * y) - 0.9) < 1e-6
    assert eq.error < 1e-6 and eq.complexity <= 5


@pytest.mark.parametrize("backend", ["sindy", "operon"])
def test_recovers_sin_plus_square_from_callable(backend):
    res = extract(lambda X: torch.sin(X[:, 0]) + X[:, 0] ** 2, {"x": (-3, 3)},
                  backend=_backend(backend, trig=True), n_samples=500)
    expr = res[0].expression
    assert sympy.simplify(expr - (sympy.sin(x) + x**2)) == 0, expr


def _trained_net(f, lows, highs, steps=150, seed=0, width=24):
    torch.manual_seed(seed)
    d = len(lows)
    net = nn.Sequential(nn.Linear(d, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                        nn.Linear(width, 1)).double()
    g = torch.Generator().manual_seed(seed)
    lo, hi = torch.tensor(lows, dtype=torch.float64), torch.tensor(highs, dtype=torch.float64)
    X = lo + (hi - lo) * torch.rand(512, d, generator=g, dtype=torch.float64)
    Y = f(X)

    def loss():
        return {"data": ((net(X)[:, 0] - Y) ** 2).mean()}

    fit(net, loss, adam_steps=100, lbfgs_steps=steps, lr=1e-2, progress=False)
    return net


@pytest.mark.parametrize("backend", ["sindy", "operon"])
def test_recovers_product_from_trained_network(backend):
    net = _trained_net(lambda X: 0.9 * X[:, 0] * X[:, 1], [0.0, 0.0], [2.0, 2.0])
    res = extract(net, {"x": (0.1, 1.9), "y": (0.1, 1.9)}, backend=_backend(backend), n_samples=800)
    expr = sympy.expand(res[0].expression)
    # structure: the x*y term dominates; anything else is tiny after pruning
    assert abs(_coef(expr, x * y) - 0.9) < 0.02, expr
    assert len(sympy.Add.make_args(expr)) <= 2, expr


@pytest.mark.parametrize("backend", ["sindy", "operon"])
def test_recovers_sin_plus_square_from_trained_network(backend):
    net = _trained_net(lambda X: torch.sin(X[:, 0]) + X[:, 0] ** 2, [-2.0], [2.0])
    res = extract(net, {"x": (-1.9, 1.9)}, backend=_backend(backend, trig=True), n_samples=800)
    expr = res[0].expression
    X = np.linspace(-1.9, 1.9, 50)[:, None]
    ref = np.sin(X[:, 0]) + X[:, 0] ** 2
    assert np.max(np.abs(res[0](X) - ref)) < 0.02, expr
    if backend == "sindy":
        assert abs(_coef(expr, x**2) - 1) < 0.02 and abs(_coef(expr, sympy.sin(x)) - 1) < 0.02, expr


def test_auto_backend_multi_output_and_names():
    f = lambda X: torch.stack([0.9 * X[:, 0] * X[:, 1], -1.8 * X[:, 0] * X[:, 1] + 0.3 * X[:, 1]], 1)  # noqa: E731
    res = extract(f, {"x": (0, 5), "y": (0, 5)}, output_names=["F1", "F2"], n_samples=500)
    assert [e.name for e in res] == ["F1", "F2"]
    assert abs(_coef(res["F2"].expression, x * y) + 1.8) < 1e-8
    assert abs(_coef(res["F2"].expression, y) - 0.3) < 1e-8
    assert res.to_latex()[0] == "F_{1} = 0.9 x y"


def test_tensor_inputs_and_default_names():
    X = torch.rand(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3
    res = extract(lambda Z: 2.0 * Z[:, 0] - Z[:, 1] ** 2, X, backend="sindy")
    x0, x1 = sympy.symbols("x0 x1")
    assert sympy.simplify(res[0].expression - (2 * x0 - x1**2)) == 0
    res = extract(lambda Z: Z[:, 0] * Z[:, 1], X, feature_names=["u", "u_x"], backend="sindy")
    assert res[0].expression == sympy.Symbol("u") * sympy.Symbol("u_x")


def test_exported_module_reproduces_sympy_and_trains(tmp_path):
    expr = 0.9 * x * y - 1.3 * sympy.sin(2.0 * x) + sympy.exp(-0.5 * y) / (1.0 + x**2)
    mod = SymbolicModule(expr, ["x", "y"])
    X = torch.rand(64, 2, dtype=torch.float64) * 3
    ref = sympy.lambdify([x, y], expr, "numpy")(X[:, 0].numpy(), X[:, 1].numpy())
    np.testing.assert_allclose(mod(X).detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert mod.constants.requires_grad and mod.constants.numel() >= 4
    mod(X).sum().backward()
    assert torch.isfinite(mod.constants.grad).all()
    # multi-output module from an extraction, and torch.save round trip
    res = extract(lambda Z: torch.stack([0.9 * Z[:, 0] * Z[:, 1], Z[:, 0] + 0.5], 1),
                  {"x": (0, 5), "y": (0, 5)}, backend="sindy", n_samples=200)
    m2 = res.to_torch()
    assert m2(X).shape == (64, 2)
    torch.save(m2, tmp_path / "m.pt")
    m3 = torch.load(tmp_path / "m.pt", weights_only=False)
    np.testing.assert_allclose(m3(X).detach().numpy(), m2(X).detach().numpy())
    # fine-tuning changes the constants the sympy view reports
    with torch.no_grad():
        mod.constants.mul_(2)
    assert mod.to_sympy() != expr


def test_postprocess_drop_and_refit():
    X = np.random.default_rng(0).uniform(0, 2, (200, 2))
    target = 0.9 * X[:, 0] * X[:, 1]
    noisy = 0.88 * x * y + 1e-4 * x
    pruned = drop_small_terms(noisy, [x, y], X, tol=1e-2, y=target)
    assert pruned == 0.88 * x * y
    refit = refit_constants(pruned, [x, y], X, target)
    assert abs(_coef(refit, x * y) - 0.9) < 1e-10


def test_bad_inputs_raise_clear_errors():
    f = lambda X: X[:, 0]  # noqa: E731
    with pytest.raises(ValueError, match=r"inputs\['x'\].*lo < hi"):
        extract(f, {"x": (5, 0)}, backend="sindy")
    with pytest.raises(ValueError, match=r"inputs\['x'\].*lo < hi"):
        extract(f, {"x": (1, 1)}, backend="sindy")
    with pytest.raises(ValueError, match="feature_names"):
        extract(f, {"x": (0, 1), "y": (0, 1)}, feature_names=["a", "b"], backend="sindy")
    with pytest.raises(ValueError, match="feature_names"):
        extract(f, torch.rand(50, 2), feature_names=["a"], backend="sindy")
    with pytest.raises(ValueError, match="model_or_callable.*NaN"):
        extract(lambda X: torch.log(X[:, 0] - 0.5), {"x": (0, 1)}, backend="sindy")
    with pytest.raises(ValueError, match="backend"):
        extract(f, {"x": (0, 1)}, backend="eureqa")
    with pytest.raises(ValueError, match="output_names"):
        extract(f, {"x": (0, 1)}, output_names=["a", "b"], backend="sindy")
    with pytest.raises(ValueError, match="inputs"):
        parse_ranges("x=0:five")
    with pytest.raises(ValueError, match="inputs"):
        parse_ranges("x:0:1")
    assert parse_ranges("x=0:5, y=-1:1.5") == {"x": (0.0, 5.0), "y": (-1.0, 1.5)}


def test_nan_from_network_raises():
    net = nn.Linear(1, 1).double()
    with torch.no_grad():
        net.bias.fill_(float("nan"))
    with pytest.raises(ValueError, match="model_or_callable"):
        extract(net, {"x": (0, 1)}, backend="sindy")


def test_missing_pysr_gives_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pysr", None)  # makes `import pysr` raise ImportError
    X = np.random.default_rng(0).uniform(0, 1, (50, 1))
    with pytest.raises(MissingBackendError, match=r"pip install neurode\[pysr\].*Julia"):
        PySRRegressor().fit(X, X[:, 0])
    with pytest.raises(MissingBackendError, match="pysr"):
        extract(lambda Z: Z[:, 0], {"x": (0, 1)}, backend="pysr")


def _linear_checkpoint(tmp_path, with_meta=True):
    net = nn.Linear(2, 1).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[2.0, -1.0]]))
        net.bias.fill_(0.5)
    path = tmp_path / "net.pt"
    if with_meta:
        save_for_extraction(path, net, feature_names=["x", "y"], output_names=["F"],
                            inputs={"x": (0, 5), "y": (0, 5)})
    else:
        torch.save(net, path)
    return path


def test_cli_extract_prints_equation(tmp_path, capsys):
    path = _linear_checkpoint(tmp_path)
    rc = main(["extract", str(path), "--inputs", "x=0:5,y=0:5", "--backend", "sindy",
               "--latex", "--json", str(tmp_path / "eq.json")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "F = 2.0*x - 1.0*y + 0.5" in out or "F = 2*x - y + 0.5" in out, out
    assert (tmp_path / "eq.json").is_file()
    # defaults from the checkpoint; a bare module with names from --inputs
    assert main(["extract", str(path), "--backend", "sindy"]) == 0
    (tmp_path / "bare").mkdir()
    bare = _linear_checkpoint(tmp_path / "bare", with_meta=False)
    assert main(["extract", str(bare), "--inputs", "a=0:1,b=0:1", "--backend", "sindy", "--degree", "1"]) == 0
    assert "f0 = 2*a - b + 0.5" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys, monkeypatch):
    path = _linear_checkpoint(tmp_path)
    assert main(["extract", str(path), "--inputs", "x=5:0,y=0:5", "--backend", "sindy"]) == 2
    assert "lo < hi" in capsys.readouterr().err
    assert main(["extract", str(path), "--inputs", "a=0:1,b=0:1", "--backend", "sindy"]) == 2
    assert "--inputs" in capsys.readouterr().err
    assert main(["extract", str(tmp_path / "missing.pt")]) == 2
    monkeypatch.setitem(sys.modules, "pysr", None)
    assert main(["extract", str(path), "--backend", "pysr"]) == 3
    assert "pip install neurode[pysr]" in capsys.readouterr().err


def test_cli_as_module_subprocess(tmp_path):
    path = _linear_checkpoint(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pinn.cli", "extract", str(path), "--backend", "sindy", "--n-samples", "200"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "F = " in proc.stdout
