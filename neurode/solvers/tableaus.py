"""Butcher tableaus as data.

A Runge-Kutta method is a :class:`ButcherTableau`: its nodes ``c``, stage matrix ``a``, solution
weights ``b``, embedded-error weights ``b_err`` (``b - b_hat``, ``None`` for fixed-step methods),
orders, FSAL flag, dense-output polynomials and the pair of stages that share a node (for
Shampine's stiffness estimate). One generic step in :mod:`neurode.solvers.rk` consumes them.

Sources of the coefficients: Dormand & Prince (1980) with Shampine's (1986) dense output;
Tsitouras (2011) "Runge-Kutta pairs of order 5(4) satisfying only the first column simplifying
assumption" with its free interpolant; Bogacki & Shampine (1989); Heun-Euler; classic RK4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ButcherTableau", "TABLEAUS", "get_tableau"]


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta method as data.

    Attributes:
        name: method name used by ``solve_ode(method=...)``.
        c: (s,) nodes.
        a: (s, s) strictly lower-triangular stage matrix.
        b: (s,) weights of the propagated solution.
        b_err: (s,) weights of the embedded difference ``y1 - y1_low`` or ``None`` (fixed step).
        order: order of the propagated solution.
        error_order: order of the embedded (lower) solution; the I controller uses the exponent
            ``-1 / (error_order + 1)``.
        fsal: whether the last stage is ``f(t + dt, y1)`` (first same as last).
        dense: (s, P) monomial coefficients of the interpolant weights,
            ``b_i(theta) = sum_p dense[i, p] * theta**(p + 1)``; ``None`` means cubic Hermite.
        stiffness_pair: two stage indices (i, j) with ``c_i == c_j`` for the stiffness estimate.
        stability_size: extent of the stability region on the negative real axis.
    """

    name: str
    c: np.ndarray
    a: np.ndarray
    b: np.ndarray
    b_err: np.ndarray | None
    order: int
    error_order: int | None
    fsal: bool = False
    dense: np.ndarray | None = None
    stiffness_pair: tuple[int, int] | None = None
    stability_size: float | None = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        return self.b_err is not None

    def tensors(self, dtype, device) -> dict:
        """The coefficients as Python floats and tensors of ``dtype`` on ``device`` (cached)."""
        key = (dtype, device)
        if key not in self._cache:
            import torch

            self._cache[key] = {
                "c": [float(x) for x in self.c],
                "a": [[float(x) for x in row] for row in self.a],
                "b": [float(x) for x in self.b],
                "b_err": None if self.b_err is None else [float(x) for x in self.b_err],
                "a_rows": [torch.as_tensor(row[:i], dtype=dtype, device=device) for i, row in enumerate(self.a)],
                "b_t": torch.as_tensor(self.b, dtype=dtype, device=device),
                "b_err_t": None if self.b_err is None else torch.as_tensor(self.b_err, dtype=dtype, device=device),
                "dense": None
                if self.dense is None
                else torch.as_tensor(self.dense, dtype=dtype, device=device),
            }
        return self._cache[key]


def _lower(rows: list[list[float]]) -> np.ndarray:
    s = len(rows) + 1
    a = np.zeros((s, s))
    for i, row in enumerate(rows, start=1):
        a[i, : len(row)] = row
    return a


def _poly_mul(*polys: np.ndarray) -> np.ndarray:
    out = np.array([1.0])
    for p in polys:
        out = np.polynomial.polynomial.polymul(out, p)
    return out


# --------------------------------------------------------------------------- Dormand-Prince 5(4)
_DP_A = _lower(
    [
        [1 / 5],
        [3 / 40, 9 / 40],
        [44 / 45, -56 / 15, 32 / 9],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
        [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
    ]
)
_DP_B = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0])
_DP_BHAT = np.array(
    [5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]
)
# Shampine's midpoint weights: y(t + dt/2) ~ y0 + dt * sum_i _DP_MID[i] k_i.
_DP_MID = np.array(
    [
        6025192743 / 30085553152,
        0.0,
        51252292925 / 65400821598,
        -2691868925 / 45128329728,
        187940372067 / 1594534317056,
        -1776094331 / 19743644256,
        11237099 / 235043384,
    ]
) / 2.0


def _dopri5_dense() -> np.ndarray:
    """Quartic interpolant through y0, y1, y_mid with slopes f0, f1, as weights on the stages.

    p(theta) - y0 = dt * sum_i (sum_p D[i, p] theta^(p+1)) k_i with p'(0) = dt k_1,
    p(1) = y1, p(1/2) = y_mid, p'(1) = dt k_7.
    """
    s = 7
    e1 = np.eye(s)[0]
    e7 = np.eye(s)[6]
    # unknowns a2, a3, a4 (vectors over stages); a1 = e1
    m = np.array([[1.0, 1.0, 1.0], [1 / 4, 1 / 8, 1 / 16], [2.0, 3.0, 4.0]])
    rhs = np.stack([_DP_B - e1, _DP_MID - e1 / 2, e7 - e1])  # (3, s)
    a234 = np.linalg.solve(m, rhs)  # (3, s)
    return np.stack([e1, a234[0], a234[1], a234[2]], axis=1)  # (s, 4)


DOPRI5 = ButcherTableau(
    name="dopri5",
    c=np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]),
    a=_DP_A,
    b=_DP_B,
    b_err=_DP_B - _DP_BHAT,
    order=5,
    error_order=4,
    fsal=True,
    dense=_dopri5_dense(),
    stiffness_pair=(5, 6),
    stability_size=3.25,
)

# --------------------------------------------------------------------------- Tsitouras 5(4)
_TS_A = _lower(
    [
        [0.161],
        [-0.008480655492356988544426874250230774675121177393430391537369234245294192976164141156943,
         0.3354806554923569885444268742502307746751211773934303915373692342452941929761641411569],
        [2.897153057105493432130432594192938764924887287701866490314866693455023795137503079289,
         -6.359448489975074843148159912383825625952700647415626703305928850207288721235210244366,
         4.362295432869581411017727318190886861027813359713760212991062156752264926097707165077],
        [5.325864828439256604428877920840511317836476253097040101202360397727981648835607691791,
         -11.74888356406282787774717033978577296188744178259862899288666928009020615663593781589,
         7.495539342889836208304604784564358155658679161518186721010132816213648793440552049753,
         -0.09249506636175524925650207933207191611349983406029535244034750452930469056411389539635],
        [5.861455442946420028659251486982647890394337666164814434818157239052507339770711679748,
         -12.92096931784710929170611868178335939541780751955743459166312250439928519268343184452,
         8.159367898576158643180400794539253485181918321135053305748355423955009222648673734986,
         -0.07158497328140099722453054252582973869127213147363544882721139659546372402303777878835,
         -0.02826905039406838290900305721271224146717633626879770007617876201276764571291579142206],
        [0.09646076681806522951816731316512876333711995238157997181903319145764851595234062815396,
         0.01,
         0.4798896504144995747752495322905965199130404621990332488332634944254542060153074523509,
         1.379008574103741893192274821856872770756462643091360525934940067397245698027561293331,
         -3.290069515436080679901047585711363850115683290894936158531296799594813811049925401677,
         2.324710524099773982415355918398765796109060233222962411944060046314465391054716027841],
    ]
)
_TS_B = np.append(_TS_A[6, :6], 0.0)
_TS_BHAT = np.array(
    [
        0.09468075576583945807478876255758922856117527357724631226139574065785592789071067303271,
        0.009183565540343253096776363936645313759813746240984095238905939532922955247253608687270,
        0.4877705284247615707855642599631228241516691959761363774365216240304071651579571959813,
        1.234297566930478985655109673884237654035539930748192848315425833500484878378061439761,
        -2.707712349983525454881109975059321670689605166938197378763992255714444407154902012702,
        1.866628418170587035753719399566211498666255505244122593996591602841258328965767580089,
        1 / 66,
    ]
)


def _tsit5_dense() -> np.ndarray:
    """Tsitouras' free 4th-order interpolant b_i(theta), expanded into monomials."""
    t = np.array([0.0, 1.0])  # theta
    t2 = np.array([0.0, 0.0, 1.0])

    def lin(r: float) -> np.ndarray:  # theta - r
        return np.array([-r, 1.0])

    def quad(p: float, q: float) -> np.ndarray:  # theta^2 + p theta + q
        return np.array([q, p, 1.0])

    polys = [
        -1.0530884977290216 * _poly_mul(t, lin(1.3299890189751412), quad(-1.4364028541716351, 0.7139816917074209)),
        0.1017 * _poly_mul(t2, quad(-2.1966568338249754, 1.2949852507374631)),
        2.490627285651252793 * _poly_mul(t2, quad(-2.38535645472061657, 1.57803468208092486)),
        -16.54810288924490272 * _poly_mul(lin(1.21712927295533244), lin(0.61620406037800089), t2),
        47.37952196281928122 * _poly_mul(lin(1.203071208372362603), lin(0.658047292653547382), t2),
        -34.87065786149660974 * _poly_mul(lin(1.2), lin(2 / 3), t2),
        2.5 * _poly_mul(lin(1.0), lin(0.6), t2),
    ]
    dense = np.zeros((7, 4))
    for i, p in enumerate(polys):
        p = np.pad(p, (0, 5 - len(p)))
        assert abs(p[0]) < 1e-14
        dense[i] = p[1:5]
    return dense


TSIT5 = ButcherTableau(
    name="tsit5",
    c=np.array([0.0, 0.161, 0.327, 0.9, 0.9800255409045096857298102862870245954942137979563024768854764293221195950761080302604, 1.0, 1.0]),
    a=_TS_A,
    b=_TS_B,
    b_err=_TS_B - _TS_BHAT,
    order=5,
    error_order=4,
    fsal=True,
    dense=_tsit5_dense(),
    stiffness_pair=(5, 6),
    stability_size=3.5068,
)

# --------------------------------------------------------------------------- Bogacki-Shampine 3(2)
BOSH3 = ButcherTableau(
    name="bosh3",
    c=np.array([0.0, 1 / 2, 3 / 4, 1.0]),
    a=_lower([[1 / 2], [0.0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]]),
    b=np.array([2 / 9, 1 / 3, 4 / 9, 0.0]),
    b_err=np.array([2 / 9, 1 / 3, 4 / 9, 0.0]) - np.array([7 / 24, 1 / 4, 1 / 3, 1 / 8]),
    order=3,
    error_order=2,
    fsal=True,
)

# --------------------------------------------------------------------------- Heun-Euler 2(1)
HEUN_EULER = ButcherTableau(
    name="heun_euler",
    c=np.array([0.0, 1.0]),
    a=_lower([[1.0]]),
    b=np.array([1 / 2, 1 / 2]),
    b_err=np.array([1 / 2, 1 / 2]) - np.array([1.0, 0.0]),
    order=2,
    error_order=1,
)

# --------------------------------------------------------------------------- fixed step
EULER = ButcherTableau(name="euler", c=np.array([0.0]), a=np.zeros((1, 1)), b=np.array([1.0]),
                       b_err=None, order=1, error_order=None)
MIDPOINT = ButcherTableau(name="midpoint", c=np.array([0.0, 1 / 2]), a=_lower([[1 / 2]]),
                          b=np.array([0.0, 1.0]), b_err=None, order=2, error_order=None)
RK4 = ButcherTableau(
    name="rk4",
    c=np.array([0.0, 1 / 2, 1 / 2, 1.0]),
    a=_lower([[1 / 2], [0.0, 1 / 2], [0.0, 0.0, 1.0]]),
    b=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    b_err=None,
    order=4,
    error_order=None,
)

TABLEAUS: dict[str, ButcherTableau] = {
    t.name: t for t in (HEUN_EULER, BOSH3, DOPRI5, TSIT5, EULER, MIDPOINT, RK4)
}
ADAPTIVE_METHODS = tuple(n for n, t in TABLEAUS.items() if t.adaptive)
FIXED_METHODS = tuple(n for n, t in TABLEAUS.items() if not t.adaptive)


def get_tableau(method: str | ButcherTableau) -> ButcherTableau:
    """Look up a method by name (or pass a :class:`ButcherTableau` through)."""
    if isinstance(method, ButcherTableau):
        return method
    if not isinstance(method, str) or method not in TABLEAUS:
        raise ValueError(
            f"method: expected one of {sorted(TABLEAUS)} or a ButcherTableau, got {method!r}"
        )
    return TABLEAUS[method]
