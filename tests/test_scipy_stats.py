"""matdiff.scipy.stats: every density and distribution function, in every argument.

One table drives check_grads (both modes, order 2); values are compared with
scipy.stats, including SciPy's NaN / -inf conventions, and those edge entries must not
leak NaN into the derivatives of the others.
"""

import numpy as onp
import pytest
import scipy.stats as sst

import matdiff.numpy as np
from matdiff import NotDifferentiableError, grad, hessian, jvp
from matdiff.scipy import stats
from matdiff.test_util import check_grads


def U(lo, hi, shape=()):
    def make(rng):
        return rng.uniform(lo, hi, shape) if shape else float(rng.uniform(lo, hi))

    return make


def C(value):
    return lambda rng: onp.array(value, dtype=float)


M, V, S, COL, ROW = (2, 3), (3,), (), (2, 1), (1, 3)
DIR_X = onp.array([0.2, 0.3, 0.5])
DIR_XS = onp.array([[0.2, 0.6], [0.3, 0.1], [0.5, 0.3]])

# (id, function, argument makers); each row exercises broadcasting between its arguments
SPECS = [
    ("norm.logpdf", stats.norm.logpdf, [U(-2, 2, M), U(-1, 1, V), U(0.5, 2)]),
    ("norm.logpdf_default", stats.norm.logpdf, [U(-2, 2, M)]),
    ("norm.pdf", stats.norm.pdf, [U(-2, 2, COL), U(-1, 1, ROW), U(0.5, 2, ROW)]),
    ("norm.cdf", stats.norm.cdf, [U(-2, 2, M), U(-1, 1), U(0.5, 2, V)]),
    ("norm.logcdf", stats.norm.logcdf, [U(-4, 4, M), U(-1, 1, V), U(0.5, 2)]),
    ("norm.sf", stats.norm.sf, [U(-2, 2, M), U(-1, 1), U(0.5, 2)]),
    ("norm.logsf", stats.norm.logsf, [U(-4, 4, V), U(-1, 1), U(0.5, 2)]),
    ("norm.ppf", stats.norm.ppf, [U(0.05, 0.95, M), U(-1, 1, V), U(0.5, 2)]),
    ("norm.isf", stats.norm.isf, [U(0.05, 0.95, V), U(-1, 1), U(0.5, 2)]),
    ("t.logpdf", stats.t.logpdf, [U(-3, 3, M), U(0.5, 5, V), U(-1, 1), U(0.5, 2)]),
    ("t.pdf", stats.t.pdf, [U(-3, 3, COL), U(0.5, 5, ROW)]),
    ("gamma.logpdf", stats.gamma.logpdf, [U(0.5, 3, M), U(0.5, 4, V), U(-0.4, 0.4), U(0.5, 2)]),
    ("gamma.pdf", stats.gamma.pdf, [U(0.5, 3, V), U(0.5, 4)]),
    ("chi2.logpdf", stats.chi2.logpdf, [U(0.5, 3, M), U(1, 6, V), U(-0.4, 0.4), U(0.5, 2)]),
    ("chi2.pdf", stats.chi2.pdf, [U(0.5, 3, COL), U(1, 6, ROW)]),
    (
        "beta.logpdf",
        stats.beta.logpdf,
        [U(0.1, 0.9, M), U(0.5, 4, V), U(0.5, 4), C(0.0), U(1.0, 1.1)],
    ),
    ("beta.pdf", stats.beta.pdf, [U(0.1, 0.9, V), U(0.5, 4), U(0.5, 4, V)]),
    (
        "laplace.logpdf",
        stats.laplace.logpdf,
        [C([[-1.5, 0.7, 2.0], [0.9, -0.8, 1.2]]), U(-0.3, 0.3, V), U(0.5, 2)],
    ),
    ("laplace.pdf", stats.laplace.pdf, [C([-1.5, 0.7, 2.0]), U(-0.3, 0.3), U(0.5, 2)]),
    (
        "laplace.cdf",
        stats.laplace.cdf,
        [C([[-1.5, 0.7, 2.0], [0.9, -0.8, 1.2]]), U(-0.3, 0.3, V), U(0.5, 2)],
    ),
    ("laplace.sf", stats.laplace.sf, [C([-1.5, 0.7, 2.0]), U(-0.3, 0.3), U(0.5, 2)]),
    ("logistic.logpdf", stats.logistic.logpdf, [U(-3, 3, M), U(-1, 1, V), U(0.5, 2)]),
    ("logistic.pdf", stats.logistic.pdf, [U(-3, 3, V), U(-1, 1), U(0.5, 2)]),
    ("logistic.cdf", stats.logistic.cdf, [U(-3, 3, M), U(-1, 1), U(0.5, 2, V)]),
    ("logistic.logcdf", stats.logistic.logcdf, [U(-3, 3, V), U(-1, 1), U(0.5, 2)]),
    ("logistic.sf", stats.logistic.sf, [U(-3, 3, V), U(-1, 1), U(0.5, 2)]),
    ("logistic.logsf", stats.logistic.logsf, [U(-3, 3, V), U(-1, 1), U(0.5, 2)]),
    ("logistic.ppf", stats.logistic.ppf, [U(0.05, 0.95, M), U(-1, 1, V), U(0.5, 2)]),
    (
        "poisson.logpmf",
        lambda mu: stats.poisson.logpmf(onp.array([[0, 1, 4], [2, 7, 3]]), mu),
        [U(0.5, 5, V)],
    ),
    ("poisson.pmf", lambda mu: stats.poisson.pmf(onp.array([0, 1, 4]), mu, loc=-1), [U(0.5, 5)]),
    # x on the simplex: differentiated through the k - 1 free components (the last is implied)
    ("dirichlet.logpdf", lambda a: stats.dirichlet.logpdf(DIR_X, a), [U(0.5, 3, V)]),
    ("dirichlet.logpdf_points", lambda a: stats.dirichlet.logpdf(DIR_XS, a), [U(0.5, 3, V)]),
    ("dirichlet.pdf_k_minus_1", stats.dirichlet.pdf, [C([0.2, 0.3]), U(0.5, 3, V)]),
    (
        "dirichlet.logpdf_k_minus_1_points",
        stats.dirichlet.logpdf,
        [C([[0.2, 0.6], [0.3, 0.1]]), U(0.5, 3, V)],
    ),
]


@pytest.mark.parametrize("name, f, makers", SPECS, ids=[s[0] for s in SPECS])
def test_rules_against_finite_differences(name, f, makers):
    rng = onp.random.default_rng(sum(map(ord, name)))
    args = [m(rng) for m in makers]
    check_grads(f, modes=("fwd", "rev"), order=2)(*args)


@pytest.mark.parametrize("name, f, makers", SPECS, ids=[s[0] for s in SPECS])
def test_values_are_scipys(name, f, makers):
    rng = onp.random.default_rng(sum(map(ord, name)))
    args = [m(rng) for m in makers]
    dist, method = name.split("_")[0].split(".")
    if dist == "poisson":
        k = onp.array([[0, 1, 4], [2, 7, 3]]) if method == "logpmf" else onp.array([0, 1, 4])
        loc = 0 if method == "logpmf" else -1
        expected = getattr(sst.poisson, method)(k, args[0], loc)
    elif dist == "dirichlet" and len(args) == 1:
        x = DIR_X if name == "dirichlet.logpdf" else DIR_XS
        expected = getattr(sst.dirichlet, method)(x, *args)
    else:
        expected = getattr(getattr(sst, dist), method)(*args)
    onp.testing.assert_allclose(f(*args), expected, rtol=1e-12, atol=1e-300)


# CDFs through the incomplete gamma / beta functions: differentiable in x, loc and scale;
# their shape parameters are constants here. (id, ours, SciPy's, argument makers)
CDF_SPECS = [
    (f"{dist}.{method}", ours, theirs, makers)
    for dist, shapes, makers in [
        ("t", (onp.array([1.5, 3.0, 10.0]),), [U(-3, 3, M), U(-0.5, 0.5), U(0.5, 2)]),
        ("gamma", (onp.array([0.7, 2.0, 3.5]),), [U(0.2, 4, M), U(-0.1, 0.1), U(0.5, 2)]),
        ("chi2", (onp.array([1.0, 3.0, 6.0]),), [U(0.2, 4, V), U(-0.1, 0.1), U(0.5, 2, V)]),
        ("beta", (2.0, onp.array([0.5, 1.5, 3.0])), [U(0.1, 0.8, M), U(-0.05, 0.05), U(1.0, 1.1)]),
    ]
    for method in ("cdf", "sf")
    for ours, theirs in [
        (
            lambda x, loc, scale, d=dist, m=method, s=shapes: getattr(getattr(stats, d), m)(
                x, *s, loc, scale
            ),
            lambda x, loc, scale, d=dist, m=method, s=shapes: getattr(getattr(sst, d), m)(
                x, *s, loc, scale
            ),
        )
    ]
]


@pytest.mark.parametrize("name, ours, theirs, makers", CDF_SPECS, ids=[s[0] for s in CDF_SPECS])
def test_cdfs_against_finite_differences_and_scipy(name, ours, theirs, makers):
    rng = onp.random.default_rng(sum(map(ord, name)))
    args = [m(rng) for m in makers]
    onp.testing.assert_allclose(ours(*args), theirs(*args), rtol=1e-12, atol=1e-300)
    check_grads(ours, modes=("fwd", "rev"), order=2)(*args)


def test_cdfs_outside_the_support_match_scipy():
    x = onp.array([-1.0, 0.5, 1.5])
    onp.testing.assert_allclose(stats.gamma.cdf(x, 2.0), sst.gamma.cdf(x, 2.0))
    onp.testing.assert_allclose(stats.gamma.sf(x, 2.0), sst.gamma.sf(x, 2.0))
    onp.testing.assert_allclose(stats.beta.cdf(x, 2.0, 3.0), sst.beta.cdf(x, 2.0, 3.0))
    onp.testing.assert_allclose(stats.beta.sf(x, 2.0, 3.0), sst.beta.sf(x, 2.0, 3.0))
    g = grad(lambda x: np.sum(stats.beta.cdf(x, 2.0, 3.0)))(x)
    onp.testing.assert_allclose(g, [0.0, sst.beta.pdf(0.5, 2.0, 3.0), 0.0])


@pytest.mark.parametrize(
    "f, where",
    [
        (lambda df: stats.t.cdf(0.5, df), "t.cdf: argument 'df'"),
        (lambda df: stats.t.sf(0.5, df), "t.sf: argument 'df'"),
        (lambda a: stats.gamma.cdf(0.5, a), "gamma.cdf: argument 'a'"),
        (lambda a: stats.gamma.sf(0.5, a), "gamma.sf: argument 'a'"),
        (lambda df: stats.chi2.sf(0.5, df), "chi2.sf: argument 'df'"),
        (lambda df: stats.chi2.cdf(0.5, df), "chi2.cdf: argument 'df'"),
        (lambda a: stats.beta.cdf(0.5, a, 2.0), "beta.cdf: argument 'a'"),
        (lambda b: stats.beta.sf(0.5, 2.0, b), "beta.sf: argument 'b'"),
    ],
)
def test_cdf_shape_parameters_are_refused(f, where):
    for transform in (grad(f), lambda v: jvp(f, (v,), (1.0,))):
        with pytest.raises(NotDifferentiableError, match=f"{where}.*stop_gradient"):
            transform(2.0)


# ---------------------------------------------------------------- multivariate

RNG = onp.random.default_rng(7)
L3 = onp.tril(RNG.standard_normal((3, 3))) + 2.0 * onp.eye(3)
COV = L3 @ L3.T
X43 = RNG.standard_normal((4, 3))
MEAN = RNG.standard_normal(3)


def cov_from(L):
    return L @ L.T + 0.5 * onp.eye(3)


MV_SPECS = [
    ("mvn.logpdf_x_mean_cov", stats.multivariate_normal.logpdf, (X43, MEAN, COV)),
    ("mvn.logpdf_one_point", stats.multivariate_normal.logpdf, (X43[0], MEAN, COV)),
    (
        "mvn.logpdf_via_factor",
        lambda x, L: stats.multivariate_normal.logpdf(x, MEAN, cov_from(L)),
        (X43, L3),
    ),
    (
        "mvn.pdf_diag_cov",
        lambda x, d: stats.multivariate_normal.pdf(x, MEAN, d),
        (X43[:2], onp.array([1.0, 2.0, 0.5])),
    ),
    (
        "mvn.logpdf_scalar_cov",
        lambda m, c: stats.multivariate_normal.logpdf(X43, m, c),
        (MEAN, 1.7),
    ),
    ("mvt.logpdf", stats.multivariate_t.logpdf, (X43, MEAN, COV, 3.5)),
    (
        "mvt.pdf_via_factor",
        lambda x, L, df: stats.multivariate_t.pdf(x, MEAN, cov_from(L), df),
        (X43[:2], L3, 5.0),
    ),
]


@pytest.mark.parametrize("name, f, args", MV_SPECS, ids=[s[0] for s in MV_SPECS])
def test_multivariate_rules_against_finite_differences(name, f, args):
    check_grads(f, modes=("fwd", "rev"), order=2)(*args)


def test_multivariate_values_are_scipys():
    onp.testing.assert_allclose(
        stats.multivariate_normal.logpdf(X43, MEAN, COV),
        sst.multivariate_normal.logpdf(X43, MEAN, COV),
        rtol=1e-12,
    )
    onp.testing.assert_allclose(
        stats.multivariate_normal.pdf(X43[0], MEAN, COV),
        sst.multivariate_normal.pdf(X43[0], MEAN, COV),
        rtol=1e-12,
    )
    onp.testing.assert_allclose(
        stats.multivariate_normal.logpdf(onp.array([0.5, 1.0]), 0.0, 2.0),
        sst.multivariate_normal.logpdf(onp.array([0.5, 1.0]), 0.0, 2.0),
        rtol=1e-12,
    )
    onp.testing.assert_allclose(
        stats.multivariate_t.logpdf(X43, MEAN, COV, 3.5),
        sst.multivariate_t.logpdf(X43, MEAN, COV, 3.5),
        rtol=1e-12,
    )


def test_only_the_lower_triangle_is_read_as_in_scipy():
    upper_junk = COV + onp.triu(onp.ones((3, 3)), 1)
    onp.testing.assert_allclose(
        stats.multivariate_normal.logpdf(X43, MEAN, upper_junk),
        sst.multivariate_normal.logpdf(X43, MEAN, upper_junk),
        rtol=1e-12,
    )
    g = grad(lambda c: np.sum(stats.multivariate_normal.logpdf(X43, MEAN, c)))(COV)
    assert onp.all(onp.triu(g, 1) == 0.0)


def test_mvn_cov_gradient_is_the_textbook_one():
    # For a symmetric direction dC: d logpdf = 1/2 tr((P d d^T P - P) dC), P = cov^-1.
    x = X43[0]
    P = onp.linalg.inv(COV)
    d = x - MEAN
    G = 0.5 * (P @ onp.outer(d, d) @ P - P)
    dC = RNG.standard_normal((3, 3))
    dC = dC + dC.T
    _, t = jvp(lambda c: stats.multivariate_normal.logpdf(x, MEAN, c), (COV,), (dC,))
    assert t == pytest.approx(onp.sum(G * dC), rel=1e-10)
    h = hessian(lambda m: stats.multivariate_normal.logpdf(x, m, COV))(MEAN)
    onp.testing.assert_allclose(h, -P, rtol=1e-10)


def test_hessian_forward_over_reverse_of_a_likelihood():
    # Student-t log-likelihood in (loc, log scale) at fixed df: compare with a
    # finite-difference Hessian of the analytic gradient.
    x = onp.array([-1.2, 0.3, 0.8, 2.5])
    df = 4.0

    def nll(theta):
        return -np.sum(stats.t.logpdf(x, df, theta[0], np.exp(theta[1])))

    def analytic_grad(theta):
        loc, s = theta[0], onp.exp(theta[1])
        z = (x - loc) / s
        w = (df + 1) * z / (df + z**2)
        return onp.array([-onp.sum(w) / s, onp.sum(1.0 - w * z)])

    theta = onp.array([0.2, -0.1])
    onp.testing.assert_allclose(grad(nll)(theta), analytic_grad(theta), rtol=1e-12)
    h = 1e-6
    fd = onp.stack(
        [
            (analytic_grad(theta + h * e) - analytic_grad(theta - h * e)) / (2 * h)
            for e in onp.eye(2)
        ]
    )
    onp.testing.assert_allclose(hessian(nll)(theta), fd, rtol=1e-7, atol=1e-8)


# ---------------------------------------------------------------- edges and stability


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # SciPy's own, at scale 0
def test_edge_conventions_match_scipy_and_do_not_poison_gradients():
    x = onp.array([-1.0, 0.5, 2.0])
    onp.testing.assert_allclose(stats.gamma.logpdf(x, 2.5), sst.gamma.logpdf(x, 2.5))
    g = grad(lambda a: np.sum(np.where(x > 0, stats.gamma.logpdf(x, a), 0.0)))(2.5)
    assert onp.isfinite(g)
    gx = grad(lambda x: np.sum(np.where(x > 0, stats.gamma.logpdf(x, 2.5), 0.0)))(x)
    onp.testing.assert_allclose(gx, [0.0, 1.5 / 0.5 - 1.0, 1.5 / 2.0 - 1.0])
    xb = onp.array([-0.5, 0.3, 1.5])
    onp.testing.assert_allclose(stats.beta.logpdf(xb, 2.0, 3.0), sst.beta.logpdf(xb, 2.0, 3.0))
    assert onp.isfinite(grad(lambda a: stats.beta.logpdf(xb, a, 3.0)[1])(2.0))
    # invalid parameters give NaN, as in SciPy, only in their own entries
    scale = onp.array([1.0, -1.0, 0.0])
    onp.testing.assert_allclose(
        stats.norm.logpdf(0.3, 0.0, scale), sst.norm.logpdf(0.3, 0.0, scale)
    )
    gs = grad(lambda s: stats.norm.logpdf(0.3, 0.0, s)[0])(scale)
    onp.testing.assert_allclose(gs, [0.3**2 - 1.0, 0.0, 0.0])
    for dist, args in [(stats.t, (-1.0,)), (stats.gamma, (-2.0,)), (stats.chi2, (0.0,))]:
        assert onp.isnan(dist.logpdf(1.0, *args))
    assert onp.isnan(stats.poisson.logpmf(1, -2.0))
    k = onp.array([1.5, -1.0, 2.0])
    onp.testing.assert_allclose(stats.poisson.logpmf(k, 2.0), sst.poisson.logpmf(k, 2.0))
    onp.testing.assert_allclose(grad(lambda m: np.sum(stats.poisson.logpmf(k[2:], m)))(2.0), 0.0)
    assert stats.dirichlet.logpdf(
        onp.array([0.0, 0.5, 0.5]), onp.array([1.5, 2.0, 3.0])
    ) == sst.dirichlet.logpdf(onp.array([0.0, 0.5, 0.5]), onp.array([1.5, 2.0, 3.0]))


@pytest.mark.parametrize(
    "f, x, expected",
    [
        (stats.norm.logcdf, -1000.0, 1000.001),
        (stats.norm.logsf, 1000.0, -1000.001),
        (stats.norm.logcdf, 1000.0, 0.0),
        (stats.logistic.logpdf, 1000.0, -1.0),
        (stats.logistic.logpdf, -1000.0, 1.0),
        (stats.logistic.logcdf, -1000.0, 1.0),
        (stats.laplace.cdf, 1000.0, 0.0),
        (stats.laplace.cdf, -1000.0, 0.0),
    ],
)
def test_tails_are_finite(f, x, expected):
    assert onp.isfinite(f(x))
    onp.testing.assert_allclose(grad(f)(x), expected, rtol=1e-6)
    assert onp.isfinite(grad(grad(f))(x))


def test_laplace_kink_takes_the_minimum_norm_subgradient():
    assert grad(stats.laplace.logpdf)(0.0) == 0.0
    assert grad(stats.laplace.cdf)(0.0) == pytest.approx(0.5)  # the cdf is smooth there


# ---------------------------------------------------------------- errors


def test_poisson_counts_are_not_differentiable():
    with pytest.raises(NotDifferentiableError, match="poisson.logpmf: argument 'k'.*count"):
        grad(lambda k: stats.poisson.logpmf(k, 2.0))(1.0)
    with pytest.raises(NotDifferentiableError, match="poisson.logpmf: argument 'loc'"):
        grad(lambda loc: stats.poisson.logpmf(1.0, 2.0, loc))(0.0)


@pytest.mark.parametrize(
    "x, alpha",
    [
        (onp.array([0.2, 0.3, 0.6]), onp.array([1.5, 2.0, 3.0])),  # not on the simplex
        (onp.array([-0.1, 0.6, 0.5]), onp.array([1.5, 2.0, 3.0])),  # negative entry
        (onp.array([0.2, 0.3, 0.5]), onp.array([-1.5, 2.0, 3.0])),  # negative parameter
        (onp.array([0.2, 0.3, 0.2, 0.3]), onp.array([1.5, 2.0])),  # too many components
    ],
)
def test_dirichlet_invalid_input_raises_as_scipy(x, alpha):
    with pytest.raises(ValueError) as ours:
        grad(lambda a: stats.dirichlet.logpdf(x, a))(alpha)
    with pytest.raises(ValueError) as theirs:
        sst.dirichlet.logpdf(x, alpha)
    assert (
        str(ours.value).split(",")[0].split(".")[0] == str(theirs.value).split(",")[0].split(".")[0]
    )


def test_multivariate_invalid_covariance_raises():
    bad = onp.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="positive semidefinite"):
        sst.multivariate_normal.logpdf(onp.zeros(2), onp.zeros(2), bad)
    with pytest.raises(
        ValueError, match="multivariate_normal.logpdf: The input matrix must be symmetric positive"
    ):
        grad(lambda x: stats.multivariate_normal.logpdf(x, onp.zeros(2), bad))(onp.zeros(2))
    with pytest.raises(ValueError, match="Dimension mismatch"):
        stats.multivariate_normal.logpdf(onp.zeros(3), onp.zeros(3), onp.eye(2))
    with pytest.raises(ValueError, match="last axis of x has length 3"):
        stats.multivariate_normal.logpdf(onp.zeros(3), onp.zeros(2), onp.eye(2))
    with pytest.raises(ValueError, match="'df' must be greater than zero"):
        stats.multivariate_t.logpdf(onp.zeros(2), onp.zeros(2), onp.eye(2), -1.0)
