"""matdiff.scipy.special: every rule against finite differences, both modes, to order 2.

One table drives the derivative checks (each row: a name, the function of the traced
arguments, and the argument makers with the domain the function needs); the stability,
routing and error tests follow.
"""

import numpy as onp
import pytest
import scipy.special as ssp

import matdiff.numpy as np
from matdiff import NotDifferentiableError, grad, hessian, jvp
from matdiff.scipy import special as sp
from matdiff.test_util import check_grads


def U(lo, hi, shape=()):
    """An argument maker: uniform on (lo, hi), seeded by the shape so rows are stable."""

    def make(rng):
        return rng.uniform(lo, hi, shape) if shape else float(rng.uniform(lo, hi))

    return make


R = (-2.0, 2.0)
POS = (0.3, 3.0)
UNIT = (0.05, 0.95)
S, V, M, COL, ROW = (), (3,), (2, 3), (2, 1), (1, 3)

# (id, function of the traced arguments, argument makers)
UNARY_DOMAINS = [
    ("expit", sp.expit, R),
    ("logit", sp.logit, UNIT),
    ("log_expit", sp.log_expit, R),
    ("softplus", sp.softplus, R),
    ("log1p", sp.log1p, (-0.5, 2.0)),
    ("expm1", sp.expm1, R),
    ("erf", sp.erf, R),
    ("erfc", sp.erfc, R),
    ("erfinv", sp.erfinv, (-0.9, 0.9)),
    ("erfcinv", sp.erfcinv, (0.1, 1.9)),
    ("erfcx", sp.erfcx, R),
    ("ndtr", sp.ndtr, R),
    ("ndtri", sp.ndtri, UNIT),
    ("log_ndtr", sp.log_ndtr, (-4.0, 4.0)),
    ("gamma", sp.gamma, POS),
    ("gamma_negative", sp.gamma, (-1.8, -1.2)),
    ("rgamma", sp.rgamma, POS),
    ("rgamma_negative", sp.rgamma, (-1.8, -1.2)),
    ("gammaln", sp.gammaln, POS),
    ("gammasgn", sp.gammasgn, POS),
    ("gammasgn_negative", sp.gammasgn, (-1.8, -1.2)),
    ("digamma", sp.digamma, POS),
    ("psi", sp.psi, POS),
    ("entr", sp.entr, POS),
    ("i0", sp.i0, R),
    ("i1", sp.i1, R),
    ("i0e_pos", sp.i0e, (0.2, 2.0)),
    ("i0e_neg", sp.i0e, (-2.0, -0.2)),
    ("i1e_pos", sp.i1e, (0.2, 2.0)),
    ("i1e_neg", sp.i1e, (-2.0, -0.2)),
    ("j0", sp.j0, (-4.0, 4.0)),
    ("j1", sp.j1, (-4.0, 4.0)),
    ("y0", sp.y0, (0.5, 4.0)),
    ("y1", sp.y1, (0.5, 4.0)),
    ("k0", sp.k0, (0.3, 3.0)),
    ("k1", sp.k1, (0.3, 3.0)),
    ("k0e", sp.k0e, (0.3, 3.0)),
    ("k1e", sp.k1e, (0.3, 3.0)),
    ("sinc", sp.sinc, (-2.5, 2.5)),
    ("sinc_near0", sp.sinc, (-0.05, 0.05)),
]

SPECS = []
for _name, _f, _dom in UNARY_DOMAINS:
    SPECS.append((f"{_name}-scalar", _f, [U(*_dom)]))
    SPECS.append((f"{_name}-matrix", _f, [U(*_dom, M)]))

SPECS += [
    # functions with a static order or dimension
    ("polygamma0", lambda x: sp.polygamma(0, x), [U(*POS, V)]),
    ("polygamma2", lambda x: sp.polygamma(2, x), [U(*POS, V)]),
    ("polygamma_orders", lambda x: sp.polygamma(onp.array([0, 1, 3]), x), [U(*POS, V)]),
    ("multigammaln_d1", lambda a: sp.multigammaln(a, 1), [U(*POS, V)]),
    ("multigammaln_d3", lambda a: sp.multigammaln(a, 3), [U(1.5, 4.0, V)]),
    ("jv0", lambda x: sp.jv(0, x), [U(0.5, 4.0, V)]),
    ("jv_half", lambda x: sp.jv(1.5, x), [U(0.5, 4.0, M)]),
    ("jv_orders_col_x_row", lambda x: sp.jv(onp.array([[0.0], [2.0]]), x), [U(0.5, 4.0, ROW)]),
    ("yv1", lambda x: sp.yv(1, x), [U(0.5, 4.0, V)]),
    ("jn2", lambda x: sp.jn(2, x), [U(-4.0, 4.0, M)]),
    ("jn_orders_col_x_row", lambda x: sp.jn(onp.array([[0], [3]]), x), [U(0.5, 4.0, ROW)]),
    ("yn0", lambda x: sp.yn(0, x), [U(0.5, 4.0, V)]),
    ("yn_orders", lambda x: sp.yn(onp.array([1, 2, -1]), x), [U(0.8, 4.0, V)]),
    ("kv0", lambda x: sp.kv(0, x), [U(0.3, 3.0, V)]),
    ("kv_half_matrix", lambda x: sp.kv(1.5, x), [U(0.3, 3.0, M)]),
    ("kve2", lambda x: sp.kve(2, x), [U(0.3, 3.0, V)]),
    ("yv_half", lambda x: sp.yv(0.5, x), [U(0.5, 4.0, V)]),
    ("iv2", lambda x: sp.iv(2, x), [U(*R, V)]),
    ("iv_half", lambda x: sp.iv(0.5, x), [U(*POS, V)]),
    ("ive1_pos", lambda x: sp.ive(1, x), [U(0.2, 3.0, V)]),
    ("ive0_neg", lambda x: sp.ive(0, x), [U(-3.0, -0.2, V)]),
    # incomplete gamma / beta and the t CDF: derivatives in x, shapes static
    ("gammainc", lambda x: sp.gammainc(onp.array([0.5, 2.0, 3.5]), x), [U(0.2, 4.0, V)]),
    ("gammainc_col_row", lambda x: sp.gammainc(onp.array([[0.7], [2.5]]), x), [U(0.2, 4.0, ROW)]),
    ("gammaincc", lambda x: sp.gammaincc(2.5, x), [U(0.2, 4.0, M)]),
    ("betainc", lambda x: sp.betainc(onp.array([[0.5], [2.0]]), 3.0, x), [U(0.1, 0.9, ROW)]),
    ("betainc_scalar", lambda x: sp.betainc(1.5, 0.7, x), [U(0.1, 0.9)]),
    ("stdtr", lambda x: sp.stdtr(onp.array([1.5, 3.0, 10.0]), x), [U(-3.0, 3.0, V)]),
    ("stdtr_matrix", lambda x: sp.stdtr(4.0, x), [U(-3.0, 3.0, M)]),
    # binary, broadcasting: scalar with matrix, column with row, vector with matrix
    ("beta", sp.beta, [U(*POS, M), U(*POS, M)]),
    ("beta_scalar_matrix", sp.beta, [U(*POS), U(*POS, M)]),
    ("betaln_col_row", sp.betaln, [U(*POS, COL), U(*POS, ROW)]),
    ("betaln_vec_matrix", sp.betaln, [U(*POS, V), U(*POS, M)]),
    ("xlogy", sp.xlogy, [U(*R, M), U(*POS, M)]),
    ("xlogy_col_row", sp.xlogy, [U(*R, COL), U(*POS, ROW)]),
    ("xlog1py", sp.xlog1py, [U(*R, M), U(-0.5, 2.0, M)]),
    ("xlog1py_scalar_matrix", sp.xlog1py, [U(*R), U(-0.5, 2.0, M)]),
    ("rel_entr", sp.rel_entr, [U(*POS, M), U(*POS, M)]),
    ("rel_entr_col_row", sp.rel_entr, [U(*POS, COL), U(*POS, ROW)]),
    ("kl_div", sp.kl_div, [U(*POS, M), U(*POS, M)]),
    ("kl_div_vec_matrix", sp.kl_div, [U(*POS, V), U(*POS, M)]),
    # logsumexp: axes, keepdims, negative axes, weights b (broadcast and signed)
    ("logsumexp_all", sp.logsumexp, [U(*R, M)]),
    ("logsumexp_scalar", sp.logsumexp, [U(*R)]),
    ("logsumexp_axis0", lambda a: sp.logsumexp(a, axis=0), [U(*R, M)]),
    ("logsumexp_axis-1_keep", lambda a: sp.logsumexp(a, axis=-1, keepdims=True), [U(*R, M)]),
    ("logsumexp_tuple_axis", lambda a: sp.logsumexp(a, axis=(0, 2)), [U(*R, (2, 3, 2))]),
    ("logsumexp_b", lambda a, b: sp.logsumexp(a, axis=1, b=b), [U(*R, M), U(*POS, M)]),
    ("logsumexp_b_row", lambda a, b: sp.logsumexp(a, axis=0, b=b), [U(*R, M), U(*POS, ROW)]),
    ("logsumexp_b_keep", lambda a, b: sp.logsumexp(a, b=b, keepdims=True), [U(*R, M), U(*POS, M)]),
    (
        "logsumexp_negative_sum",
        lambda a: sp.logsumexp(a, b=onp.array([1.0, -3.0]), return_sign=True)[0],
        [U(-0.5, 0.5, (2,))],
    ),
    ("softmax_all", sp.softmax, [U(*R, M)]),
    ("softmax_axis-1", lambda x: sp.softmax(x, axis=-1), [U(*R, M)]),
    ("softmax_axis0", lambda x: sp.softmax(x, axis=0), [U(*R, (3, 2, 2))]),
    ("log_softmax_all", sp.log_softmax, [U(*R, V)]),
    ("log_softmax_axis1", lambda x: sp.log_softmax(x, axis=1), [U(*R, M)]),
    ("log_softmax_tuple_axis", lambda x: sp.log_softmax(x, axis=(0, -1)), [U(*R, (2, 2, 3))]),
]


def Z(shape):
    """Complex arguments near the origin, for the holomorphic functions."""

    def make(rng):
        return rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)

    return make


# Holomorphic on complex input, with the package's convention (transpose, no conjugate).
SPECS += [
    (f"{name}-complex", getattr(sp, name), [Z(V)])
    for name in ("erf", "erfc", "erfcx", "ndtr", "log1p", "expm1", "sinc")
] + [
    ("jv-complex", lambda z: sp.jv(1.0, z), [Z(V)]),
    ("iv-complex", lambda z: sp.iv(2.0, z), [Z(V)]),
    ("xlogy-complex", lambda z, w: sp.xlogy(z, w + 2.0), [Z(V), Z(V)]),
]


@pytest.mark.parametrize("name, f, makers", SPECS, ids=[s[0] for s in SPECS])
def test_rules_against_finite_differences(name, f, makers):
    rng = onp.random.default_rng(abs(hash(name)) % 2**32)
    args = [m(rng) for m in makers]
    check_grads(f, modes=("fwd", "rev"), order=2)(*args)


def test_every_public_function_is_in_the_table():
    tested = {s[1] for s in SPECS}
    names = " ".join(s[0] for s in SPECS)
    for name in sp.__all__:
        f = getattr(sp, name)
        assert f in tested or name in names, f"{name} has no row in the check_grads table"


# ---------------------------------------------------------------- values match SciPy


def test_values_of_static_order_functions_are_scipys():
    x = onp.array([1.2, 2.5, 3.1])
    onp.testing.assert_allclose(sp.polygamma(2, x), ssp.polygamma(2, x), rtol=1e-14)
    onp.testing.assert_allclose(sp.multigammaln(x, 3), ssp.multigammaln(x, 3), rtol=1e-14)


@pytest.mark.parametrize("name", [n for n in sp.__all__ if n not in ("polygamma", "multigammaln")])
def test_values_are_scipys(name):
    rng = onp.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, (4,))
    ours, theirs = getattr(sp, name), getattr(ssp, name)
    nargs = {"xlogy": 2, "xlog1py": 2, "rel_entr": 2, "kl_div": 2, "beta": 2, "betaln": 2}
    orders = {"iv", "ive", "jv", "yv", "kv", "kve", "gammainc", "gammaincc", "stdtr"}
    if name in orders:
        args = (1.5, x)
    elif name in ("jn", "yn"):
        args = (2, x)
    elif name == "betainc":
        args = (1.5, 2.5, x)
    else:
        args = (x,) * nargs.get(name, 1)
    onp.testing.assert_allclose(ours(*args), theirs(*args), rtol=1e-14)


# ---------------------------------------------------------------- stability


@pytest.mark.parametrize(
    "f, x, expected_grad",
    [
        (sp.log_expit, -1000.0, 1.0),
        (sp.log_expit, 1000.0, 0.0),
        (sp.softplus, 1000.0, 1.0),
        (sp.softplus, -1000.0, 0.0),
        (sp.expit, 1000.0, 0.0),
        (sp.expit, -1000.0, 0.0),
        (sp.log_ndtr, 1000.0, 0.0),
        (sp.log_ndtr, -1000.0, 1000.0009999980001),  # phi/Phi ~ -x - 1/x + 2/x^3
        (sp.erfcx, 1000.0, -5.641891e-07),
    ],
)
def test_value_and_gradients_finite_at_extremes(f, x, expected_grad):
    assert onp.isfinite(f(x))
    g = grad(f)(x)
    onp.testing.assert_allclose(g, expected_grad, rtol=1e-6, atol=1e-300)
    assert onp.isfinite(grad(grad(f))(x))
    assert onp.isfinite(jvp(grad(f), (x,), (1.0,))[1])


def test_logsumexp_and_log_softmax_at_extremes():
    a = np.array([1000.0, 1000.0, -1000.0])
    assert sp.logsumexp(a) == pytest.approx(1000.0 + onp.log(2.0))
    onp.testing.assert_allclose(grad(sp.logsumexp)(a), [0.5, 0.5, 0.0])
    h = hessian(sp.logsumexp)(a)
    onp.testing.assert_allclose(
        h, onp.diag([0.5, 0.5, 0.0]) - onp.outer([0.5, 0.5, 0], [0.5, 0.5, 0])
    )
    g = grad(lambda x: sp.log_softmax(x)[2])(a)
    onp.testing.assert_allclose(g, [-0.5, -0.5, 1.0])


def test_log_ndtr_gradient_matches_tail_asymptotics():
    # phi(x)/Phi(x) = -x - 1/x + 2/x^3 - 10/x^5 + O(x^-7) as x -> -inf (Mills ratio).
    # The exponent x^2/2 + log Phi(x) cancels to ~1e-16 x^2 absolute: rtol 1e-9 at x = -3000.
    for x in (-30.0, -300.0, -3000.0):
        expected = -x - 1 / x + 2 / x**3 - 10 / x**5
        onp.testing.assert_allclose(grad(sp.log_ndtr)(x), expected, rtol=1e-9)


# ---------------------------------------------------------------- higher order and routing


def test_hessian_forward_over_reverse_of_composite():
    x = np.array([0.7, 1.3, 2.1])

    def f(x):
        return np.sum(sp.gammaln(x)) + sp.logsumexp(x)

    s = ssp.softmax(x)
    expected = onp.diag(ssp.polygamma(1, x)) + onp.diag(s) - onp.outer(s, s)
    onp.testing.assert_allclose(hessian(f)(x), expected, rtol=1e-12)


def test_raw_scipy_ufuncs_on_traced_values_use_the_rules():
    x = np.array([0.3, 1.1])
    g = grad(lambda x: np.sum(ssp.gammaln(x) * ssp.expit(x)))(x)
    expected = ssp.digamma(x) * ssp.expit(x) + ssp.gammaln(x) * ssp.expit(x) * ssp.expit(-x)
    onp.testing.assert_allclose(g, expected, rtol=1e-12)
    onp.testing.assert_allclose(
        grad(lambda v: ssp.jv(1.0, v))(0.4), sp.jv(0.0, 0.4) - sp.jv(1.0, 0.4) / 0.4
    )


def test_sinc_is_smooth_at_zero():
    # sinc(x) = 1 - (pi x)^2/6 + (pi x)^4/120 - ...: derivatives 0, -pi^2/3, 0, pi^4/5 at 0.
    d1 = grad(sp.sinc)
    d2 = grad(d1)
    d3 = grad(d2)
    d4 = grad(d3)
    values = [d(0.0) for d in (d1, d2, d3, d4)]
    onp.testing.assert_allclose(values, [0.0, -(onp.pi**2) / 3, 0.0, onp.pi**4 / 5], atol=1e-12)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "f, argname",
    [
        (lambda v: sp.jv(v, 1.5), "'v'"),
        (lambda v: sp.yv(v, 1.5), "'v'"),
        (lambda v: sp.iv(v, 1.5), "'v'"),
        (lambda v: sp.ive(v, 1.5), "'v'"),
        (lambda v: sp.kv(v, 1.5), "'v'"),
        (lambda v: sp.kve(v, 1.5), "'v'"),
        (lambda n: sp.jn(n, 1.5), "'n'"),
        (lambda n: sp.yn(n, 1.5), "'n'"),
        (lambda n: sp.polygamma(n, 1.5), "'n'"),
        (lambda d: sp.multigammaln(3.0, d), "'d'"),
        (lambda a: sp.gammainc(a, 1.5), "'a'"),
        (lambda a: sp.gammaincc(a, 1.5), "'a'"),
        (lambda a: sp.betainc(a, 2.0, 0.5), "'a'"),
        (lambda b: sp.betainc(2.0, b, 0.5), "'b'"),
        (lambda df: sp.stdtr(df, 0.5), "'df'"),
    ],
)
def test_orders_are_not_differentiable(f, argname):
    for transform in (grad(f), lambda v: jvp(f, (v,), (1.0,))):
        with pytest.raises(NotDifferentiableError, match=f"argument {argname}.*stop_gradient"):
            transform(1.0)


def test_yn_refuses_a_fractional_order_scipy_would_truncate():
    with pytest.raises(ValueError, match=r"yn: the order n=1.5 is not an integer.*Use yv"):
        grad(lambda x: sp.yn(1.5, x))(1.0)


def test_invalid_arguments_raise_what_scipy_raises():
    with pytest.raises(ValueError, match="condition a"):
        grad(lambda a: sp.multigammaln(a, 3))(0.2)
    with pytest.raises(ValueError):
        ssp.logsumexp(onp.ones(3), b=onp.ones(2))
    with pytest.raises(ValueError):
        grad(lambda a: sp.logsumexp(a, b=onp.ones(2)))(onp.ones(3))
    with pytest.raises(onp.exceptions.AxisError):
        grad(lambda x: sp.softmax(x, axis=2)[0])(onp.ones(3))


def test_logsumexp_signs():
    a = np.array([0.0, 0.0])
    b = np.array([1.0, -3.0])
    val, sign = sp.logsumexp(a, b=b, return_sign=True)
    assert sign == -1.0 and val == pytest.approx(onp.log(2.0))
    assert onp.isnan(ssp.logsumexp(a, b=b))
    assert onp.isnan(sp.logsumexp(a, b=b))
    # d log|sum b e^a| / da = b e^a / sum(b e^a): here [1, -3] / -2
    onp.testing.assert_allclose(
        grad(lambda a: sp.logsumexp(a, b=b, return_sign=True)[0])(a), [-0.5, 1.5]
    )
