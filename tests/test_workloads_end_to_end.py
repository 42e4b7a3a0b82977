"""Realistic user programs, end to end, checked against autograd and finite differences.

Each workload is written once, the way users write it (Python loops, ``sum()`` over
boxes, dict parameters, closures, ``x.shape[0]``), against a namespace ``L`` holding
``np``, ``special``, ``linalg`` (SciPy's) and ``integrate``. It then runs unchanged
on matdiff and on autograd: the two gradients must agree to 1e-8 relative, matdiff's
must pass ``check_grads`` in both modes, and where cheap the Hessians must agree too.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as mnp
import matdiff.scipy.integrate as m_integrate
import matdiff.scipy.linalg as m_linalg
import matdiff.scipy.special as m_special
from matdiff import grad, hessian, hvp, jit
from matdiff.test_util import check_grads

MD = SimpleNamespace(np=mnp, special=m_special, linalg=m_linalg, integrate=m_integrate)


def _autograd():
    ag = pytest.importorskip("autograd")
    import autograd.numpy as anp
    import autograd.scipy.integrate as a_integrate
    import autograd.scipy.linalg as a_linalg
    import autograd.scipy.special as a_special

    return ag, SimpleNamespace(np=anp, special=a_special, linalg=a_linalg, integrate=a_integrate)


def _jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.experimental.ode as j_ode
    import jax.numpy as jnp
    import jax.scipy.linalg as j_linalg
    import jax.scipy.special as j_special

    return jax, SimpleNamespace(np=jnp, special=j_special, linalg=j_linalg, integrate=j_ode)


def _reference(name):
    """(grad, hessian, namespace) of the reference library: autograd unless it lacks a rule."""
    if name in JAX_REFERENCE:
        jax, ns = _jax()
        return jax.grad, jax.hessian, ns
    ag, ns = _autograd()
    return ag.grad, ag.hessian, ns


def _rng(seed=0):
    return onp.random.default_rng(seed)


# ---------------------------------------------------------------- workloads


def tanh_readme(L):
    np = L.np

    def tanh(x):
        y = np.exp(-2.0 * x)
        return (1.0 - y) / (1.0 + y)

    return tanh


def tanh_args():
    return (0.7,)


def mlp_classifier(L):
    np = L.np
    rng = _rng(1)
    X = rng.normal(size=(6, 3))
    labels = onp.array([0, 2, 1, 1, 0, 2])
    Y = onp.eye(3)[labels]

    def predict(params, x):
        h = np.tanh(np.dot(x, params["W1"]) + params["b1"])
        logits = np.dot(h, params["W2"]) + params["b2"]
        return logits - L.special.logsumexp(logits, axis=1, keepdims=True)

    def loss(params):
        logp = predict(params, X)
        return -np.sum(logp * Y) / X.shape[0]

    return loss


def mlp_args():
    rng = _rng(2)
    return (
        {
            "W1": rng.normal(size=(3, 4)) * 0.5,
            "b1": rng.normal(size=4) * 0.1,
            "W2": rng.normal(size=(4, 3)) * 0.5,
            "b2": rng.normal(size=3) * 0.1,
        },
    )


def logistic_l1_l2(L):
    np = L.np
    rng = _rng(3)
    X = rng.normal(size=(8, 3))
    y = (rng.uniform(size=8) > 0.5).astype(float)

    def loss(w):
        z = np.dot(X, w)
        nll = np.sum(np.logaddexp(0.0, z) - y * z)
        # L1 away from the kink: the weights below have no zero entry
        return nll + 0.1 * np.sum(np.abs(w)) + 0.05 * np.dot(w, w)

    return loss


def logistic_args():
    return (onp.array([0.3, -0.8, 1.1]),)


def gmm_loglik(L):
    np = L.np
    rng = _rng(4)
    data = rng.normal(size=(7, 2))

    def loglik(params):
        means, log_stds, logits = params
        log_w = logits - L.special.logsumexp(logits)
        diffs = data[:, None, :] - means[None, :, :]
        stds = np.exp(log_stds)
        comp = -0.5 * np.sum((diffs / stds) ** 2, axis=-1)
        comp = comp - np.sum(log_stds, axis=-1) - data.shape[1] * 0.5 * np.log(2 * np.pi)
        return np.sum(L.special.logsumexp(comp + log_w, axis=1))

    return loglik


def gmm_args():
    rng = _rng(5)
    return ((rng.normal(size=(3, 2)), rng.normal(size=(3, 2)) * 0.2, rng.normal(size=3)),)


def gp_marginal_likelihood(L):
    np = L.np
    rng = _rng(6)
    x = onp.linspace(-1.0, 1.0, 6)
    y = onp.sin(3 * x) + 0.1 * rng.normal(size=6)

    def neg_log_marginal(hyp):
        log_amp, log_len, log_noise = hyp[0], hyp[1], hyp[2]
        sq = (x[:, None] - x[None, :]) ** 2
        K = np.exp(2 * log_amp) * np.exp(-0.5 * sq / np.exp(2 * log_len))
        K = K + (np.exp(2 * log_noise) + 1e-6) * np.eye(x.shape[0])
        C = np.linalg.cholesky(K)
        alpha = L.linalg.solve_triangular(C, y, lower=True)
        return 0.5 * np.dot(alpha, alpha) + np.sum(np.log(np.diag(C)))

    return neg_log_marginal


def gp_args():
    return (onp.array([0.1, -0.5, -1.0]),)


def bayes_linreg_evidence(L):
    np = L.np
    rng = _rng(7)
    Phi = rng.normal(size=(9, 3))
    t = rng.normal(size=9)

    def neg_evidence(log_ab):
        alpha, beta = np.exp(log_ab[0]), np.exp(log_ab[1])
        n, m = Phi.shape
        A = alpha * np.eye(m) + beta * np.dot(Phi.T, Phi)
        mean = beta * np.linalg.solve(A, np.dot(Phi.T, t))
        resid = t - np.dot(Phi, mean)
        E = 0.5 * beta * np.sum(resid**2) + 0.5 * alpha * np.dot(mean, mean)
        sign, logdet = np.linalg.slogdet(A)
        return E + 0.5 * logdet - 0.5 * m * np.log(alpha) - 0.5 * n * np.log(beta)

    return neg_evidence


def bayes_args():
    return (onp.array([0.2, 0.4]),)


def rnn_unrolled(L):
    np = L.np
    rng = _rng(8)
    xs = [rng.normal(size=2) for _ in range(4)]
    target = rng.normal(size=3)

    def loss(params):
        Wh, Wx, b = params
        h = np.zeros(3)
        outputs = []
        for x in xs:
            h = np.tanh(np.dot(Wh, h) + np.dot(Wx, x) + b)
            outputs.append(h)
        hs = np.stack(outputs)
        return np.sum((hs[-1] - target) ** 2) + 0.01 * sum(np.sum(o**2) for o in outputs)

    return loss


def rnn_args():
    rng = _rng(9)
    return ((rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(3, 2)), rng.normal(size=3) * 0.1),)


def conv1d_convolve(L):
    np = L.np
    rng = _rng(10)
    signal = rng.normal(size=9)
    target = rng.normal(size=7)

    def loss(kernel):
        out = np.convolve(signal, kernel, mode="valid")
        return np.sum((out - target) ** 2)

    return loss


def conv1d_einsum(L):
    np = L.np
    rng = _rng(11)
    signal = rng.normal(size=9)
    windows = onp.stack([signal[i : i + 3] for i in range(7)])

    def loss(kernel):
        out = np.einsum("tk,k->t", windows, kernel)
        return np.sum(np.tanh(out) ** 2)

    return loss


def kernel_args():
    return (onp.array([0.5, -0.2, 0.9]),)


def bbvi_reparam(L):
    np = L.np
    eps = _rng(12).normal(size=(5, 2))

    def log_density(z):
        return -0.5 * np.sum(z**2, axis=1) - 0.1 * np.sum(z**4, axis=1)

    def neg_elbo(var_params):
        mean, log_std = var_params[:2], var_params[2:]
        samples = eps * np.exp(log_std) + mean
        entropy = np.sum(log_std)
        return -(np.mean(log_density(samples)) + entropy)

    return neg_elbo


def bbvi_args():
    return (onp.array([0.3, -0.2, -0.5, 0.1]),)


def spring_network(L):
    np = L.np
    edges = [(0, 1), (1, 2), (2, 0), (2, 3)]
    rest = [1.0, 1.2, 0.9, 1.1]

    def energy(pos):
        total = 0.0
        for (i, j), r in zip(edges, rest):
            d = np.linalg.norm(pos[i] - pos[j])
            total = total + 0.5 * (d - r) ** 2
        return total

    return energy


def spring_args():
    return (onp.array([[0.0, 0.0], [1.1, 0.1], [0.5, 0.9], [1.4, 1.6]]),)


def lennard_jones(L):
    np = L.np

    def energy(pos):
        n = pos.shape[0]
        diff = pos[:, None, :] - pos[None, :, :]
        eye = np.eye(n, dtype=bool)
        # Put 1 on the diagonal before the square root so no NaN reaches the gradient.
        r2 = np.where(eye, 1.0, np.sum(diff**2, axis=-1))
        inv6 = 1.0 / r2**3
        pair = 4.0 * (inv6**2 - inv6)
        return 0.5 * np.sum(np.where(eye, 0.0, pair))

    return energy


def lj_args():
    return (onp.array([[0.0, 0.0, 0.0], [1.1, 0.0, 0.1], [0.1, 1.2, 0.0], [0.9, 1.0, 0.8]]),)


def matrix_factorisation(L):
    np = L.np
    rng = _rng(13)
    R = rng.normal(size=(5, 4))
    mask = rng.uniform(size=(5, 4)) > 0.3

    def loss(U, V):
        pred = np.dot(U, V.T)
        err = np.where(mask, R - pred, 0.0)
        return np.sum(err**2) + 0.1 * (np.sum(U**2) + np.sum(V**2))

    return loss


def mf_args():
    rng = _rng(14)
    return (rng.normal(size=(5, 2)), rng.normal(size=(4, 2)))


def attention(L):
    np = L.np
    rng = _rng(15)
    X = rng.normal(size=(4, 3))

    def softmax(z):
        z = z - np.max(z, axis=-1, keepdims=True)
        e = np.exp(z)
        return e / np.sum(e, axis=-1, keepdims=True)

    def block(Wq, Wk, Wv):
        Q, K, V = X @ Wq, X @ Wk, X @ Wv
        scores = Q @ K.T / np.sqrt(Q.shape[-1])
        out = softmax(scores) @ V
        return np.sum(out**2)

    return block


def attention_args():
    rng = _rng(16)
    return tuple(rng.normal(size=(3, 2)) * 0.7 for _ in range(3))


def lp_log_barrier(L):
    np = L.np
    A = onp.array([[1.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [1.0, -2.0]])
    b = onp.array([2.0, 0.0, 0.0, 1.0])
    c = onp.array([-1.0, -0.5])

    def barrier(x, t=10.0):
        slack = b - np.dot(A, x)
        return t * np.dot(c, x) - np.sum(np.log(slack))

    return barrier


def lp_args():
    return (onp.array([0.5, 0.6]),)


def rosenbrock(L):
    # plain Python arithmetic on indexed scalars and the builtin sum: no library call at all
    def f(x):
        return sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))

    return f


def rosenbrock_args():
    return (onp.array([-1.2, 1.0, 0.8, 1.3]),)


def concat_traced_untraced(L):
    np = L.np

    def f(x):
        padded = np.concatenate([np.zeros(2), x, np.ones(1)])
        base = np.zeros(padded.shape[0]) + padded
        return np.sum(np.cumsum(base) ** 2) + np.prod(x[:2])

    return f


def concat_args():
    return (onp.array([0.4, -1.3, 0.7]),)


def ode_fit(L):
    np = L.np
    ts = onp.linspace(0.0, 1.0, 4)
    target = onp.array([[1.0, 0.0], [0.8, -0.5], [0.5, -0.8], [0.1, -0.9]])

    def dynamics(y, t, theta):
        return np.array([theta[0] * y[1], -theta[1] * y[0]])

    def loss(theta):
        ys = L.integrate.odeint(dynamics, onp.array([1.0, 0.0]), ts, theta, rtol=1e-11, atol=1e-11)
        return np.sum((ys - target) ** 2)

    return loss


def ode_args():
    return (onp.array([1.1, 0.9]),)


def softplus_norm_regression(L):
    np = L.np
    rng = _rng(17)
    X = rng.normal(size=(6, 3))
    y = rng.normal(size=6)

    def loss(w, b):
        pred = np.log1p(np.exp(X @ w + b))
        return np.linalg.norm(pred - y) + np.linalg.norm(w, 1) * 0.01

    return loss


def softplus_args():
    return (onp.array([0.2, -0.4, 0.6]), 0.3)


def tuple_params_scan(L):
    np = L.np

    def f(params):
        a, (b, c) = params
        acc = np.zeros_like(b)
        for k in range(3):
            acc = acc * a + np.sin(b * (k + 1)) * c
        return np.mean(acc) + np.var(acc) + np.max(np.abs(acc))

    return f


def tuple_args():
    return ((0.7, (onp.array([0.3, 1.2, -0.5]), onp.array([1.5, -0.7, 0.4]))),)


def kron_trace_logdet(L):
    np = L.np

    def f(A):
        S = np.dot(A, A.T) + np.eye(A.shape[0])
        inv = np.linalg.inv(S)
        return np.trace(inv @ np.outer(A[0], A[1])) + np.log(np.linalg.det(S))

    return f


def kron_args():
    return (_rng(18).normal(size=(3, 3)),)


# name, builder, args, hessian compared too
WORKLOADS = [
    ("tanh_readme", tanh_readme, tanh_args, True),
    ("mlp_classifier", mlp_classifier, mlp_args, False),
    ("logistic_l1_l2", logistic_l1_l2, logistic_args, True),
    ("gmm_loglik", gmm_loglik, gmm_args, False),
    ("gp_marginal_likelihood", gp_marginal_likelihood, gp_args, True),
    ("bayes_linreg_evidence", bayes_linreg_evidence, bayes_args, True),
    ("rnn_unrolled", rnn_unrolled, rnn_args, False),
    ("conv1d_convolve", conv1d_convolve, kernel_args, True),
    ("conv1d_einsum", conv1d_einsum, kernel_args, True),
    ("bbvi_reparam", bbvi_reparam, bbvi_args, True),
    ("spring_network", spring_network, spring_args, True),
    ("lennard_jones", lennard_jones, lj_args, True),
    ("matrix_factorisation", matrix_factorisation, mf_args, False),
    ("attention", attention, attention_args, False),
    ("lp_log_barrier", lp_log_barrier, lp_args, True),
    ("rosenbrock", rosenbrock, rosenbrock_args, True),
    ("concat_traced_untraced", concat_traced_untraced, concat_args, True),
    ("softplus_norm_regression", softplus_norm_regression, softplus_args, False),
    ("tuple_params_scan", tuple_params_scan, tuple_args, False),
    ("kron_trace_logdet", kron_trace_logdet, kron_args, True),
]
SLOW = [("ode_fit", ode_fit, ode_args, False)]
IDS = [w[0] for w in WORKLOADS]
# autograd has no VJP for np.convolve nor for norm(ord=1), and its odeint adjoint
# rejects the reversed time grid under current SciPy
JAX_REFERENCE = {"conv1d_convolve", "softplus_norm_regression", "ode_fit"}


def _assert_tree_close(a, b, rtol=1e-8, atol=1e-10):
    la, ta = matdiff.tree_flatten(a)
    lb, tb = matdiff.tree_flatten(b)
    assert len(la) == len(lb), (ta, tb)
    for x, y in zip(la, lb):
        onp.testing.assert_allclose(onp.asarray(x), onp.asarray(y), rtol=rtol, atol=atol)


def _argnums(args):
    return tuple(range(len(args))) if len(args) > 1 else 0


@pytest.mark.parametrize("name,build,make_args,_h", WORKLOADS, ids=IDS)
def test_grad_matches_autograd(name, build, make_args, _h):
    ref_grad, _, REF = _reference(name)
    args = make_args()
    argnums = _argnums(args)
    ours = grad(build(MD), argnums)(*args)
    theirs = ref_grad(build(REF), argnums)(*args)
    _assert_tree_close(ours, theirs)
    onp.testing.assert_allclose(build(MD)(*args), build(REF)(*args), rtol=1e-12)


@pytest.mark.parametrize("name,build,make_args,_h", WORKLOADS, ids=IDS)
def test_check_grads_order_2(name, build, make_args, _h):
    check_grads(build(MD), modes=("fwd", "rev"), order=2)(*make_args())


HESS = [w for w in WORKLOADS if w[3]]


@pytest.mark.parametrize("name,build,make_args,_h", HESS, ids=[w[0] for w in HESS])
def test_hessian_matches_autograd(name, build, make_args, _h):
    _, ref_hessian, REF = _reference(name)
    (x,) = make_args()
    ours = hessian(build(MD))(x)
    theirs = onp.asarray(ref_hessian(build(REF))(x))
    onp.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    v = _rng(99).normal(size=onp.shape(x))
    onp.testing.assert_allclose(
        hvp(build(MD), x, v), onp.tensordot(theirs, v, onp.ndim(x)), rtol=1e-8, atol=1e-10
    )


def test_tanh_higher_derivatives_match_autograd():
    ag, AG = _autograd()
    ours, theirs = tanh_readme(MD), tanh_readme(AG)
    for _ in range(6):
        ours, theirs = grad(ours), ag.grad(theirs)
        for x in (-1.3, 0.0, 0.4, 2.0):
            onp.testing.assert_allclose(ours(x), theirs(x), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name,build,make_args,_h", WORKLOADS, ids=IDS)
def test_jit_grad_matches_eager(name, build, make_args, _h):
    args = make_args()
    g = grad(build(MD), _argnums(args))
    jitted = jit(g)
    _assert_tree_close(jitted(*args), g(*args), rtol=1e-12, atol=1e-14)
    _assert_tree_close(jitted(*args), g(*args), rtol=1e-12, atol=1e-14)


def test_newton_on_convex_function():
    ag, AG = _autograd()

    def make(L):
        np = L.np
        A = onp.array([[3.0, 0.5], [0.5, 2.0]])

        def f(x):
            return np.dot(x, A @ x) / 2 + np.sum(np.exp(x)) - x[0]

        return f

    f = make(MD)
    x = onp.array([1.0, -1.0])
    for _ in range(8):
        x = x - mnp.linalg.solve(hessian(f)(x), grad(f)(x))
    assert onp.linalg.norm(grad(f)(x)) < 1e-12
    onp.testing.assert_allclose(ag.grad(make(AG))(x), 0.0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name,build,make_args,_h", SLOW, ids=[w[0] for w in SLOW])
def test_slow_workloads(name, build, make_args, _h):
    ref_grad, _, REF = _reference(name)
    args = make_args()
    _assert_tree_close(grad(build(MD))(*args), ref_grad(build(REF))(*args), rtol=1e-6)
    check_grads(build(MD), modes=("fwd", "rev"), order=1)(*args)


# ---------------------------------------------------------------- idioms

X4 = onp.array([0.3, -1.2, 0.8, 1.5])
M34 = onp.arange(1.0, 13.0).reshape(3, 4) / 7 - 0.6  # rank 2
# (id, builder of f from the namespace, argument): one user idiom each, all compared with
# autograd, checked by check_grads to order 2 and compiled by jit(grad)
IDIOMS = [
    ("array_of_boxes", lambda L: lambda x: L.np.sum(L.np.array([x[0] * x[1], x[2], 3.0]) ** 2), X4),
    (
        "box_methods",
        lambda L: (
            lambda x: (
                (x.reshape(2, 2).T @ x.reshape(2, 2)).sum()
                + x.mean()
                + x.var()
                + x.std()
                + x.prod()
            )
        ),
        X4,
    ),
    ("fancy_index", lambda L: lambda x: L.np.sum(x[[0, 2, 2]] ** 2), X4),
    ("index_by_argmax", lambda L: lambda x: x[L.np.argmax(x)] * x[L.np.argmin(x)] + x.max(), X4),
    ("abs_of_row", lambda L: lambda M: L.np.sum(L.np.abs(M[1])), M34),
    ("sum_of_generator", lambda L: lambda x: sum(xi**2 for xi in x) + sum(L.np.sin(x)), X4),
    ("rpow_rsub_rdiv", lambda L: lambda x: L.np.sum(2.0**x - 1 / x + (3 - x) ** 2), X4),
    (
        "norms",
        lambda L: (
            lambda M: (
                L.np.sum(L.np.linalg.norm(M, axis=1)) + L.np.linalg.norm(M) + L.np.linalg.norm(M[0])
            )
        ),
        M34,
    ),
    (
        "svd_values_of_rank_deficient",
        lambda L: lambda M: L.np.sum(L.np.linalg.svd(M, full_matrices=False)[1] ** 2),
        M34,
    ),
    (
        "standardise_columns",
        lambda L: lambda M: L.np.sum((M - M.mean(axis=0, keepdims=True)) ** 2 / M.std(axis=0)),
        M34,
    ),
    (
        "concat_axis1",
        lambda L: lambda M: L.np.sum(L.np.concatenate([M, L.np.zeros((3, 1)), M**2], axis=1) ** 2),
        M34,
    ),
    ("gamma_logpdf", lambda L: lambda x: L.np.sum(L.stats.gamma.logpdf(x**2 + 0.5, 2.0)), X4),
    ("beta_logpdf", lambda L: lambda x: L.np.sum(L.stats.beta.logpdf(0.3, L.np.exp(x), 2.0)), X4),
    (
        "logsumexp_weights",
        lambda L: lambda x: L.special.logsumexp(x, b=L.np.array([1.0, 2.0, 3.0, 4.0])),
        X4,
    ),
]


def _with_stats(ns, stats):
    return SimpleNamespace(**vars(ns), stats=stats)


# The singular vectors of a rank-deficient matrix are not determined: its values have a
# gradient, but their tangent and second derivative need the vectors, which are refused.
FIRST_ORDER_REVERSE = {"svd_values_of_rank_deficient"}


@pytest.mark.parametrize("name, build, x", IDIOMS, ids=[i[0] for i in IDIOMS])
def test_idiom(name, build, x):
    import matdiff.scipy.stats as m_stats

    ag, AG = _autograd()
    import autograd.scipy.stats as a_stats

    ours_ns, theirs_ns = _with_stats(MD, m_stats), _with_stats(AG, a_stats)
    f = build(ours_ns)
    g = grad(f)(x)
    onp.testing.assert_allclose(g, ag.grad(build(theirs_ns))(x), rtol=1e-8, atol=1e-10)
    if name in FIRST_ORDER_REVERSE:
        check_grads(f, modes=("rev",), order=1)(x)
    else:
        check_grads(f, modes=("fwd", "rev"), order=2)(x)
    jg = jit(grad(f))
    onp.testing.assert_allclose(jg(x), g, rtol=1e-12, atol=1e-14)
    moved = x[::-1].copy()  # the run point differs from the compile point
    onp.testing.assert_allclose(jg(moved), grad(f)(moved), rtol=1e-12, atol=1e-14)
