"""autograd's public ``scipy.stats`` behaviour, restated: samplers, entropies, the
singular multivariate normal, ``t.logcdf`` and ``poisson.cdf`` under ``grad``, compared
with SciPy and with the installed autograd where it runs.

Derivatives are checked by ``check_grads`` (finite differences, both modes, order 2).
"""

from __future__ import annotations

import numpy as onp
import pytest
import scipy.stats as sst

import matdiff.numpy as np
from matdiff import NotDifferentiableError, grad
from matdiff.scipy import stats
from matdiff.test_util import check_grads

autograd = pytest.importorskip("autograd")
import autograd.numpy as anp  # noqa: E402
import autograd.scipy.stats as a_stats  # noqa: E402

ORDER2 = {"modes": ("fwd", "rev"), "order": 2}


def rng(seed=0):
    return onp.random.default_rng(seed)


# ---------------------------------------------------------------- stats: samplers


RVS_CASES = [
    ("norm", (1.0, 2.0), {"size": 4}),
    ("t", (3.0, 0.5, 2.0), {"size": 4}),
    ("gamma", (2.0,), {"size": 4}),
    ("beta", (2.0, 3.0), {"size": 4}),
    ("chi2", (3.0,), {"size": 4}),
    ("laplace", (0.0, 1.0), {"size": 4}),
    ("logistic", (0.0, 1.0), {"size": 4}),
    ("poisson", (2.5,), {"size": 4}),
    ("dirichlet", (onp.array([1.0, 2.0, 3.0]),), {"size": 2}),
    ("multivariate_normal", (onp.zeros(2), onp.eye(2)), {"size": 3}),
    ("multivariate_t", (onp.zeros(2), onp.eye(2), 4.0), {"size": 3}),
]


@pytest.mark.parametrize("name, args, kwargs", RVS_CASES, ids=[c[0] for c in RVS_CASES])
def test_stats_rvs_are_scipys_samplers(name, args, kwargs):
    ours = getattr(stats, name).rvs(*args, random_state=7, **kwargs)
    theirs = getattr(sst, name).rvs(*args, random_state=7, **kwargs)
    onp.testing.assert_array_equal(ours, theirs)


def test_dirichlet_rvs_matches_autograd():
    alpha = onp.array([0.5, 1.0, 4.0])
    ours = stats.dirichlet.rvs(alpha, size=5, random_state=3)
    theirs = a_stats.dirichlet.rvs(alpha, size=5, random_state=3)
    onp.testing.assert_array_equal(ours, theirs)


def test_stats_rvs_refuses_a_traced_parameter():
    with pytest.raises(NotDifferentiableError, match=r"norm\.rvs: a parameter is being differ"):
        grad(lambda s: np.sum(stats.norm.rvs(0.0, s, size=3, random_state=0)))(1.0)
    with pytest.raises(NotDifferentiableError, match=r"dirichlet\.rvs: .*loc \+ scale \* z"):
        grad(lambda a: stats.dirichlet.rvs(a, random_state=0)[0, 0])(onp.ones(3))


# ---------------------------------------------------------------- stats: entropies

ENTROPY_CASES = [
    ("norm", (0.5, 1.7)),
    ("logistic", (0.5, 1.7)),
    ("laplace", (0.5, 1.7)),
    ("t", (0.7, 0.5, 1.7)),
    ("t", (4.5, 0.0, 0.6)),
    ("t", (60.0, 0.0, 2.0)),
    ("gamma", (0.4, 0.0, 1.7)),
    ("gamma", (6.0, 1.0, 0.5)),
    ("chi2", (3.0, 0.0, 1.7)),
    ("beta", (0.6, 2.5, 0.0, 1.7)),
    ("poisson", (0.3,)),
    ("poisson", (7.5,)),
    ("poisson", (80.0,)),
    ("dirichlet", (onp.array([0.5, 2.0, 3.0]),)),
    (
        "multivariate_normal",
        (onp.zeros(3), onp.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 1.5]])),
    ),
    ("multivariate_t", (onp.zeros(2), onp.array([[2.0, 0.3], [0.3, 1.0]]), 3.5)),
]
ENTROPY_IDS = [f"{n}-{i}" for i, (n, _) in enumerate(ENTROPY_CASES)]


@pytest.mark.parametrize("name, args", ENTROPY_CASES, ids=ENTROPY_IDS)
def test_stats_entropy_values_are_scipys(name, args):
    ours = getattr(stats, name).entropy(*args)
    theirs = getattr(sst, name).entropy(*args)
    # Closed forms against SciPy's (its asymptotic series, or its summed pmf for poisson):
    # a few ulps of the terms, which reach 1e3 in the sums.
    onp.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, args", ENTROPY_CASES, ids=ENTROPY_IDS)
def test_stats_entropy_derivatives(name, args):
    dist = getattr(stats, name)
    floats = [i for i, a in enumerate(args) if not (onp.ndim(a) == 1 and not onp.any(a))]

    def f(*dyn):
        full = list(args)
        for i, d in zip(floats, dyn):
            full[i] = d
        if name in ("multivariate_normal", "multivariate_t"):
            full[1] = 0.5 * (full[1] + np.transpose(full[1]))
        return dist.entropy(*full)

    check_grads(f, **ORDER2)(*[onp.asarray(args[i], dtype=float) for i in floats])


def test_stats_entropy_broadcasts_and_marks_invalid_parameters():
    onp.testing.assert_allclose(
        stats.norm.entropy(onp.zeros(3), onp.array([0.5, 1.0, 2.0])),
        sst.norm.entropy(onp.zeros(3), onp.array([0.5, 1.0, 2.0])),
        rtol=1e-15,
    )
    assert onp.isnan(stats.gamma.entropy(-1.0))
    assert onp.isnan(stats.norm.entropy(0.0, -1.0))
    assert stats.poisson.entropy(0.0) == 0.0


def test_multivariate_normal_entropy_gradient_matches_autograd():
    cov = onp.array([[2.0, 0.3], [0.3, 1.0]])
    ours = grad(lambda c: stats.multivariate_normal.entropy(onp.zeros(2), 0.5 * (c + c.T)))(cov)
    theirs = autograd.grad(lambda c: a_stats.multivariate_normal.entropy(onp.zeros(2), c))(cov)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_poisson_entropy_for_a_large_rate_follows_the_normal_limit():
    # SciPy's own sum stops converging here; the Poisson entropy's expansion does not:
    # 0.5 log(2 pi e mu) - 1/(12 mu) - 1/(24 mu^2) + O(mu^-3).
    mu = 1e4
    expansion = 0.5 * onp.log(2 * onp.pi * onp.e * mu) - 1 / (12 * mu) - 1 / (24 * mu**2)
    # Each log-pmf k log(mu) - mu - gammaln(k + 1) cancels terms of size mu log(mu), so it
    # carries an absolute error of a few mu log(mu) eps; the pmf-weighted sum keeps it.
    tol = 10 * mu * onp.log(mu) * onp.finfo(float).eps
    onp.testing.assert_allclose(stats.poisson.entropy(mu), expansion, rtol=0, atol=tol)


# ---------------------------------------------------------------- multivariate_normal, singular


def _singular(seed=1, k=4, r=2, m=5):
    g = rng(seed)
    b = g.standard_normal((k, r))
    mean = g.standard_normal(k)
    z = g.standard_normal((r, m))
    return b, mean, z


def test_multivariate_normal_allow_singular_values_are_scipys():
    b, mean, z = _singular()
    cov = b @ b.T
    x = mean + (b @ z).T
    off = x + rng(2).standard_normal(x.shape)
    for pts in (x, x[0], off):
        for fn in ("logpdf", "pdf"):
            ours = getattr(stats.multivariate_normal, fn)(pts, mean, cov, allow_singular=True)
            theirs = getattr(sst.multivariate_normal, fn)(pts, mean, cov, allow_singular=True)
            onp.testing.assert_allclose(ours, theirs, rtol=1e-10)
    # autograd computes the values with SciPy.
    onp.testing.assert_allclose(
        stats.multivariate_normal.logpdf(x, mean, cov, True),
        a_stats.multivariate_normal.logpdf(x, mean, cov, True),
        rtol=1e-10,
    )
    onp.testing.assert_allclose(
        stats.multivariate_normal.entropy(mean, cov), sst.multivariate_normal.entropy(mean, cov)
    )


def test_multivariate_normal_allow_singular_derivatives_along_the_support():
    # cov = B B^T of rank 2 and x = mean + B z: every direction keeps x in the support.
    b, mean, z = _singular()

    def f(b, z, mean):
        x = mean + np.transpose(b @ z)
        return stats.multivariate_normal.logpdf(x, mean, b @ np.transpose(b), allow_singular=True)

    check_grads(f, **ORDER2)(b, z, mean)
    check_grads(lambda b: stats.multivariate_normal.entropy(None, b @ np.transpose(b)), **ORDER2)(b)


def test_multivariate_normal_allow_singular_off_support_is_minus_inf_with_zero_derivative():
    b, mean, _ = _singular()
    x = mean + 1.0
    assert stats.multivariate_normal.logpdf(x, mean, b @ b.T, allow_singular=True) == -onp.inf
    g = grad(lambda x: stats.multivariate_normal.pdf(x, mean, b @ b.T, allow_singular=True))(x)
    onp.testing.assert_array_equal(g, onp.zeros(4))


def test_multivariate_normal_singular_without_allow_singular_names_the_option():
    b, mean, _ = _singular()
    with pytest.raises(ValueError, match="positive definite unless allow_singular=True"):
        grad(lambda m: stats.multivariate_normal.logpdf(mean, m, b @ b.T))(mean)


def test_multivariate_normal_allow_singular_on_a_regular_cov_is_the_usual_density():
    cov = onp.array([[2.0, 0.3], [0.3, 1.0]])
    x = onp.array([0.3, -0.2])
    ours = grad(lambda x: stats.multivariate_normal.logpdf(x, onp.zeros(2), cov, True))(x)
    theirs = autograd.grad(lambda x: a_stats.multivariate_normal.logpdf(x, onp.zeros(2), cov))(x)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-12)


# ---------------------------------------------------------------- t.logcdf and poisson.cdf


def test_t_logcdf_under_grad_matches_scipy_and_autograd():
    x = onp.array([-40.0, -2.0, 0.3, 3.0])
    onp.testing.assert_allclose(
        stats.t.logcdf(x, 2.5, 0.4, 1.3), sst.t.logcdf(x, 2.5, 0.4, 1.3), rtol=1e-13
    )
    ours = grad(lambda x: np.sum(stats.t.logcdf(x, 2.5, 0.4, 1.3)))(x)
    theirs = autograd.grad(lambda x: anp.sum(a_stats.t.logcdf(x, 2.5, 0.4, 1.3)))(x)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-10)
    ours = grad(lambda m: np.sum(stats.t.logcdf(x, 2.5, m, 1.3)))(0.4)
    theirs = autograd.grad(lambda m: anp.sum(a_stats.t.logcdf(x, 2.5, m, 1.3)))(0.4)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-10)
    check_grads(lambda x, m, s: stats.t.logcdf(x, 2.5, m, s), **ORDER2)(x, 0.4, 1.3)


def test_t_logcdf_refuses_a_traced_df():
    with pytest.raises(NotDifferentiableError, match="t.logcdf: argument 'df'"):
        grad(lambda d: stats.t.logcdf(0.5, d))(3.0)


def test_poisson_cdf_under_grad_matches_scipy_and_autograd():
    k = onp.array([-1.0, 0.0, 1.0, 2.5, 4.0, 9.0])
    mu = 2.3
    onp.testing.assert_allclose(stats.poisson.cdf(k, mu), sst.poisson.cdf(k, mu), rtol=1e-14)
    onp.testing.assert_allclose(
        stats.poisson.cdf(k, mu, loc=1), sst.poisson.cdf(k, mu, loc=1), rtol=1e-14
    )
    ours = grad(lambda m: np.sum(stats.poisson.cdf(k, m)))(mu)
    theirs = autograd.grad(lambda m: anp.sum(a_stats.poisson.cdf(k, m)))(mu)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-12)
    check_grads(lambda m: stats.poisson.cdf(k, m), **ORDER2)(
        onp.array([0.4, 1.0, 2.3, 3.0, 5.0, 8.0])
    )
    assert onp.isnan(stats.poisson.cdf(1.0, -1.0))


def test_poisson_cdf_refuses_a_traced_count():
    with pytest.raises(NotDifferentiableError, match="poisson.cdf: argument 'k'"):
        grad(lambda k: stats.poisson.cdf(k, 1.0))(2.0)
