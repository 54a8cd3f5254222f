import math

import pytest
import torch

from pinn.sampling import (
    Interval,
    PeriodicEmbedding,
    Rectangle,
    SpaceTime,
    check_points,
    grid,
    periodic_embedding,
    sample,
    sample_boundary,
    sample_initial,
)

DOM = SpaceTime(Interval(0.0, 2 * math.pi, periodic=True), (0.0, 1.0))


@pytest.mark.parametrize("method", ["uniform", "sobol", "lhs"])
def test_sample_in_domain_and_seeded(method):
    pts = sample(DOM, 100, method, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert pts.shape == (100, 2) and pts.dtype == torch.float64
    assert (pts[:, 0] >= 0).all() and (pts[:, 0] <= 2 * math.pi).all()
    assert (pts[:, 1] >= 0).all() and (pts[:, 1] <= 1).all()
    again = sample(DOM, 100, method, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.equal(pts, again)


def test_lhs_stratified_and_rectangle():
    rect = Rectangle((0.0, -1.0, 2.0), (1.0, 1.0, 3.0))
    pts = sample(rect, 50, "lhs", generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert pts.shape == (50, 3)
    bins = torch.floor(pts[:, 0] * 50).long()
    assert sorted(bins.tolist()) == list(range(50))


def test_grid_periodic_excludes_endpoint():
    g = grid(DOM, (4, 3), dtype=torch.float64).reshape(4, 3, 2)
    torch.testing.assert_close(g[:, 0, 0], torch.arange(4, dtype=torch.float64) * math.pi / 2)
    torch.testing.assert_close(g[0, :, 1], torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert sample(Interval(0, 1), 10, "grid").shape == (10, 1)


def test_initial_and_boundary():
    x0 = sample_initial(DOM, 10, generator=torch.Generator().manual_seed(0))
    assert x0.shape == (10, 2) and (x0[:, 1] == 0).all()
    lo, hi = sample_boundary(DOM, 8, generator=torch.Generator().manual_seed(0))
    assert (lo[:, 0] == 0).all() and torch.allclose(hi[:, 0], torch.tensor(2 * math.pi))
    assert torch.equal(lo[:, 1], hi[:, 1])


def test_periodic_embedding():
    x = torch.tensor([[0.0, 0.3], [math.pi / 2, 0.7]], dtype=torch.float64)
    e = periodic_embedding(x, DOM)
    torch.testing.assert_close(e, torch.tensor([[1.0, 0.0, 0.3], [0.0, 1.0, 0.7]], dtype=torch.float64), atol=1e-12, rtol=0)
    e2 = periodic_embedding(x, DOM, harmonics=2)
    assert e2.shape == (2, 5)
    mod = PeriodicEmbedding(DOM)
    assert mod.out_dim == 3 and torch.equal(mod(x), e)
    # periodicity
    shifted = x + torch.tensor([2 * math.pi, 0.0], dtype=torch.float64)
    torch.testing.assert_close(periodic_embedding(shifted, DOM), e)


def test_bad_input():
    nonper = SpaceTime(Interval(-1.0, 1.0), (0.0, 1.0))
    with pytest.raises(ValueError, match="domain: expected at least one periodic axis"):
        periodic_embedding(torch.zeros(3, 2), nonper)
    with pytest.raises(ValueError, match="dims: expected periodic axes only, got axis 1"):
        periodic_embedding(torch.zeros(3, 2), DOM, dims=(1,))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 2\), got \(3, 3\)"):
        periodic_embedding(torch.zeros(3, 3), DOM)
    with pytest.raises(ValueError, match=r"pts: expected finite values, got NaN"):
        check_points(torch.tensor([[0.0, float("nan")]]), 2, "pts")
    with pytest.raises(TypeError, match="pts: expected a torch.Tensor"):
        check_points([[0.0, 1.0]], 2, "pts")
    with pytest.raises(ValueError, match="method: expected one of"):
        sample(DOM, 10, "halton")
    with pytest.raises(ValueError, match="n: expected a positive int, got 0"):
        sample(DOM, 0)
    with pytest.raises(ValueError, match=r"lows\[0\], highs\[0\]: expected finite low < high"):
        Interval(1.0, 0.0)
    with pytest.raises(ValueError, match="t_span"):
        SpaceTime(Interval(0, 1), (1.0, 0.0))
