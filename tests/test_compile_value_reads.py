"""Functions whose rules look at the values (masks, segments, signs) compile without
freezing them: the values seen at compile time decide nothing at run time.

Each test compiles at one point and runs at another whose values differ where it matters
(NaN appearing, points leaving the sample range, a piece owning entries or not), and
checks the compiled function, and the compiled gradient, against eager evaluation.
``real_if_close`` on complex input cannot be compiled: its result dtype depends on the
values, and the error says so.
"""

from __future__ import annotations

import warnings

import numpy as onp
import pytest

import matdiff.numpy as np
import matdiff.scipy.stats as st
from matdiff import grad, hessian, jvp
from matdiff.compile import StagingError, jit
from matdiff.test_util import check_grads


def _same(got, want):
    if isinstance(want, tuple):  # gradients in several arguments
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    got, want = onp.asarray(got), onp.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
    onp.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _loss(f):
    return lambda *a: np.sum(np.sin(f(*a)))


def _compiled_agrees(f, compile_at, run_at, argnums=0):
    """jit(f) and jit(grad) compiled at one point agree with eager at another, run compiled."""
    jf = jit(f)
    jf(*compile_at)
    _same(jf(*run_at), f(*run_at))
    g = grad(_loss(f), argnums=argnums)
    jg = jit(g)
    jg(*compile_at)
    _same(jg(*run_at), g(*run_at))
    assert (jf.trace_count, jf.fallback_count, jg.trace_count, jg.fallback_count) == (1, 0, 1, 0)


# ---------------------------------------------------------------- nan_to_num

NON_FINITE = onp.array([0.0, onp.nan, onp.inf, -onp.inf])


def test_nan_to_num_compiled_on_finite_values_cleans_later_ones():
    f = lambda x, y: np.nan_to_num(x + y, nan=-1.0, posinf=9.0)
    finite, bad = onp.array([1.0, 2.0, 3.0, 4.0]), NON_FINITE + 1.0
    _compiled_agrees(f, (finite, finite), (finite, bad), argnums=(0, 1))
    _compiled_agrees(f, (finite, bad), (finite, finite), argnums=(0, 1))
    # The compiled program selects; it has no branch on the values.
    assert "fallback" not in jit(f).lower(finite, finite).source


def test_nan_to_num_complex_under_jit():
    shift = onp.array([0.0, onp.inf, 1j * onp.nan, -1j * onp.inf])
    f = lambda z: np.nan_to_num(z + shift)
    jf = jit(f)
    for z in (onp.array([1 + 2j, 0.5j, 1.0, -1j]), onp.array([2 - 1j, 1.0, 3j, 1 + 1j])):
        _same(jf(z), onp.nan_to_num(z + shift))
    assert (jf.trace_count, jf.fallback_count) == (1, 0)


# ---------------------------------------------------------------- real_if_close


def test_real_if_close_on_real_input_compiles():
    jf = jit(lambda x: np.real_if_close(2.0 * x))
    _same(jf(onp.array([1.0, -2.0])), onp.array([2.0, -4.0]))


def test_real_if_close_on_complex_input_says_its_dtype_depends_on_values():
    def f(z):
        return np.real_if_close(z * 2.0)

    with pytest.raises(StagingError) as e:
        jit(f)(onp.array([1.0 + 1e-20j, 2.0]))
    msg = str(e.value)
    assert "real_if_close" in msg
    assert "the dtype of its result depends on the values" in msg
    assert "return np.real_if_close(z * 2.0)" in msg  # the user's line
    assert "np.real(a)" in msg  # the fix
    # Eager evaluation is unaffected, whichever dtype the values give.
    assert f(onp.array([1.0 + 1e-20j, 2.0])).dtype == onp.float64
    assert f(onp.array([1.0 + 1e-3j, 2.0])).dtype == onp.complex128


# ---------------------------------------------------------------- piecewise

X = onp.array([-2.0, -0.3, 0.4, 1.5, 3.0])


def _pw_log_sqrt(x, m):
    # Each function is undefined where the other condition holds: a function fed a value
    # its condition does not own would put NaN in the result or in the gradient.
    return m.piecewise(x, [x > 0, x <= 0], [lambda t: m.log(t), lambda t: m.sqrt(-t)])


# (id, function of (x, numpy module), x)
PIECEWISE = [
    ("bare-condition", lambda x, m: m.piecewise(x, x < 0, [lambda t: -t, lambda t: t**2]), X),
    ("value-for-the-rest", lambda x, m: m.piecewise(x, [x < 0], [lambda t: -t, 7]), X),
    ("undefined-elsewhere", _pw_log_sqrt, X),
    ("later-wins", lambda x, m: m.piecewise(x, [x > -1, x > 0], [m.sin, m.exp]), X),
    ("list-condition", lambda x, m: m.piecewise(x, [[True, False] * 2 + [True]], [m.cos]), X),
    ("0d", lambda x, m: m.piecewise(x, x > 0, [lambda t: t**3]), onp.array(2.0)),
    ("0d-rest", lambda x, m: m.piecewise(x, [x > 0], [m.exp, m.cos]), onp.array(-2.0)),
    (
        "2d-conditions",
        lambda x, m: m.piecewise(x, [x > 0, x < -1], [lambda t: t**3, lambda t: -t]),
        onp.linspace(-2.0, 2.0, 6).reshape(2, 3),
    ),
]


@pytest.mark.parametrize("f, x", [(f, x) for _, f, x in PIECEWISE], ids=[p[0] for p in PIECEWISE])
def test_piecewise_eager_and_compiled(f, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no function may see a value outside its domain
        _same(f(x, np), f(x, onp))
        check_grads(lambda x: f(x, np), modes=("fwd", "rev"), order=2)(x)
        g = grad(_loss(lambda x: f(x, np)))(x)
        assert onp.all(onp.isfinite(g))
        _compiled_agrees(lambda x: f(x, np), (x,), (onp.asarray(x * 1.1),))


def test_piecewise_piece_owning_nothing_at_compile_time():
    # NumPy does not call a function whose condition holds nowhere; the compiled function
    # recorded that for its example and falls back to eager evaluation when it changes.
    f = lambda x: _pw_log_sqrt(x, np)
    jf = jit(f)
    positive = onp.array([0.5, 1.0, 2.0])
    _same(jf(positive), f(positive))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(jf(-positive), f(-positive))
    assert (jf.trace_count, jf.fallback_count) == (1, 1)


def test_piecewise_traced_function_value():
    f = lambda x, a: np.piecewise(x, [x < 0], [a, np.exp])
    _compiled_agrees(f, (X, 2.0), (-X, 3.0), argnums=(0, 1))


# ---------------------------------------------------------------- interp

XP = onp.array([0.0, 1.0, 1.5, 2.25, 3.0])


def test_interp_points_leaving_the_range_after_compiling():
    f = lambda x, xp, fp: np.interp(x, xp, fp)
    fp = onp.array([1.0, -1.0, 0.5, 2.0, 0.0])
    inside, outside = onp.array([0.2, 1.7, 2.9]), onp.array([-1.0, 1.7, 4.0])
    _compiled_agrees(f, (inside, XP, fp), (outside, XP + 0.1, fp * 2), argnums=(0, 1, 2))
    _compiled_agrees(f, (outside, XP, fp), (inside, XP, fp), argnums=(0, 1, 2))


def test_interp_compiled_second_derivatives():
    # The segment index is traced at every level: its gathers' transposes must not try
    # to differentiate it.
    x, fp = onp.array([-1.0, 0.2, 1.7, 2.9]), onp.array([1.0, -1.0, 0.5, 2.0, 0.0])
    f = lambda x, xp, fp: np.sum(np.sin(np.interp(x, xp, fp)) ** 2)
    for argnum, at in ((0, x), (1, XP), (2, fp)):
        h = hessian(lambda a, argnum=argnum: f(*[(x, XP, fp), (x, a, fp), (x, XP, a)][argnum]))
        jh = jit(h)
        _same(jh(at), h(at))
        _same(jh(at * 1.5), h(at * 1.5))
        assert (jh.trace_count, jh.fallback_count) == (1, 0)


def test_interp_traced_left_and_right():
    f = lambda x, fp, lo, hi: np.interp(x, XP, fp, left=lo, right=hi)
    fp = onp.array([1.0, -1.0, 0.5, 2.0, 0.0])
    at = (onp.array([-1.0, 1.7, 4.0]), fp, -3.0, 5.0)
    _compiled_agrees(f, at, (onp.array([-2.0, 0.1, 3.5]), fp + 1.0, 1.0, 2.0), argnums=(0, 1, 2, 3))
    check_grads(f, modes=("fwd", "rev"), order=2)(*at)


# ---------------------------------------------------------------- geomspace and full


def test_geomspace_signs_are_read_at_run_time():
    f = lambda a, b: np.geomspace(a, b, 5)
    pos, neg = (onp.array([1.0, 2.0]), onp.array([8.0, 3.0])), (onp.array([-1.0, 2.0]),) * 2
    _compiled_agrees(f, pos, (-pos[0], -pos[1]), argnums=(0, 1))
    _compiled_agrees(f, neg, (onp.array([-2.0, 1.0]), onp.array([-5.0, 7.0])), argnums=(0, 1))


def test_geomspace_sign_change_refused_under_compiled_grad():
    # The checks run on every call: a compiled gradient refuses a sequence through zero
    # exactly as the eager one does.
    jg = jit(grad(lambda a, b: np.sum(np.geomspace(a, b, 4))))
    jg(1.0, 8.0)
    with pytest.raises(ValueError, match="geomspace: start and stop must have the same sign"):
        jg(-1.0, 8.0)
    with pytest.raises(ValueError, match="geomspace: a geometric sequence cannot include zero"):
        jg(0.0, 8.0)


def test_full_integer_dtype_is_not_frozen():
    jf = jit(lambda v: np.full((2,), v, dtype=int))
    _same(jf(2.7), onp.full((2,), 2.7, dtype=int))
    _same(jf(3.2), onp.full((2,), 3.2, dtype=int))
    assert jf.trace_count == 1


@pytest.mark.parametrize("dtype", [None, onp.float32, onp.complex128, int, bool])
def test_full_traced_fill_has_numpys_dtype(dtype):
    # A traced fill value gives the dtype numpy.full gives, eager and compiled.
    v = onp.float64(2.5)
    want = onp.full((2, 3), v, dtype=dtype)
    out, tangent = jvp(lambda v: np.full((2, 3), v, dtype=dtype), (v,), (1.0,))
    _same(out, want)
    if want.dtype.kind in "fc":
        onp.testing.assert_array_equal(tangent, onp.ones(want.shape))
    _same(jit(lambda v: np.full((2, 3), v, dtype=dtype))(v), want)


# ---------------------------------------------------------------- indices computed from values

# (id, function, compile point, run point): the selected entries move between the two
TRACED_INDEX = [
    ("argmax", lambda x: x[np.argmax(x)] * x, onp.array([0.3, -1.2, 1.5]), onp.array([2.0, 0, 1])),
    (
        "argmin-row",
        lambda x: x[np.argmin(x[:, 0])] ** 2,
        onp.array([[0.3, 1.0], [-1.2, 2.0]]),
        onp.array([[-0.3, 1.0], [1.2, 2.0]]),
    ),
]


@pytest.mark.parametrize("f, a, b", [t[1:] for t in TRACED_INDEX], ids=[t[0] for t in TRACED_INDEX])
def test_index_computed_from_traced_values(f, a, b):
    _compiled_agrees(f, (a,), (b,))


# ---------------------------------------------------------------- scipy.stats parameter masks

# (id, function, compile point, run point): the run point leaves the support or the valid
# parameters, where the densities are -inf or NaN, as SciPy's are
STATS_MASKS = [
    (
        "gamma-support",
        lambda x: st.gamma.logpdf(x, 2.0),
        onp.array([0.5, 1.0, 2.0]),
        onp.array([-0.5, 1.0, 2.0]),
    ),
    (
        "beta-parameter",
        lambda a: st.beta.logpdf(0.3, a, 2.0),
        onp.array([0.5, 1.0, 2.0]),
        onp.array([0.5, -1.0, 2.0]),
    ),
    (
        "poisson-rate",
        lambda mu: st.poisson.logpmf(3, mu),
        onp.array([0.5, 1.0, 2.0]),
        onp.array([0.5, -1.0, 2.0]),
    ),
]


@pytest.mark.parametrize("f, a, b", [t[1:] for t in STATS_MASKS], ids=[t[0] for t in STATS_MASKS])
def test_stats_masks_are_recorded_not_frozen(f, a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the invalid points divide by zero, as SciPy does
        for fun in (f, grad(lambda x: np.sum(f(x))), hessian(lambda x: np.sum(f(x)))):
            jf = jit(fun)
            _same(jf(a), fun(a))
            _same(jf(b), fun(b))
            _same(jf(a), fun(a))


def test_logsumexp_sign_of_weighted_sum_is_recorded():
    from matdiff.scipy.special import logsumexp

    b = onp.array([1.0, -2.0, 3.0])
    f = lambda a: logsumexp(a, b=b)  # noqa: E731
    a_pos, a_neg = onp.array([0.1, 0.2, 0.3]), onp.array([0.1, 3.0, 0.3])
    for fun in (f, grad(f), hessian(f)):
        jf = jit(fun)
        _same(jf(a_pos), fun(a_pos))
        _same(jf(a_neg), fun(a_neg))  # the weighted sum is negative: NaN, as in SciPy
    assert onp.isnan(jit(f)(a_neg))
    value, sign = jit(lambda a: logsumexp(a, b=b, return_sign=True))(a_neg)
    onp.testing.assert_allclose(value, onp.log(2 * onp.exp(3.0) - onp.exp(0.1) - 3 * onp.exp(0.3)))
    assert sign == -1.0


def test_multivariate_densities_compile_and_keep_their_checks():
    mean = onp.array([0.1, -0.2])
    cov = onp.array([[2.0, 0.3], [0.3, 1.0]])

    def mvn(x, m, c):
        return np.sum(st.multivariate_normal.logpdf(x, m, c))

    xs = onp.array([[0.3, -1.2], [0.8, 1.5], [0.0, 0.1]])
    for fun in (mvn, grad(mvn, argnums=(0, 1, 2))):
        jf = jit(fun)
        _same(jf(xs, mean, cov), fun(xs, mean, cov))
        _same(jf(xs[::-1] * 2, -mean, cov + onp.eye(2)), fun(xs[::-1] * 2, -mean, cov + onp.eye(2)))
    # A covariance that stops being positive definite after compiling is still refused.
    with pytest.raises(ValueError, match="positive semidefinite"):
        jit(mvn)(xs, mean, -cov)

    x = onp.array([0.2, 0.3, 0.5])
    dirichlet = lambda a: st.dirichlet.logpdf(x, np.exp(a))  # noqa: E731
    a0, a1 = onp.array([0.1, -0.3, 0.4]), onp.array([1.0, 0.2, -2.0])
    for fun in (dirichlet, grad(dirichlet), hessian(dirichlet)):
        jf = jit(fun)
        _same(jf(a0), fun(a0))
        _same(jf(a1), fun(a1))


# ---------------------------------------------------------------- scatters of staged cotangents

# abs and max give cotangents computed from values alone (a sign, a tie mask, times the
# constant seed); the scatters of these functions' rules must record them, not write them
SCATTERED = {
    "getitem": lambda M: M[1],
    "take_along_axis": lambda M: np.take_along_axis(M, onp.array([[0, 1], [2, 3], [1, 1]]), 1),
    "sort": lambda M: np.sort(M, axis=1),
    "sort_flat": lambda M: np.sort(M.ravel()),
    "partition": lambda M: np.partition(M.ravel(), 3)[:3],
    "percentile": lambda M: np.percentile(M, 30, axis=1),
}
M34 = onp.arange(1.0, 13.0).reshape(3, 4) / 7 - 0.6


@pytest.mark.parametrize("outer", ["abs", "max"])
@pytest.mark.parametrize("name", sorted(SCATTERED))
def test_scatter_of_a_cotangent_computed_from_values(name, outer):
    op = SCATTERED[name]
    if outer == "abs":
        f = lambda M: np.sum(np.abs(op(M)))  # noqa: E731
    else:
        f = lambda M: np.max(op(M))  # noqa: E731
    g = grad(f)  # not through _loss: its sin would make the cotangent a traced value
    jg = jit(g)
    moved = -M34[::-1].copy()
    _same(jg(M34), g(M34))
    _same(jg(moved), g(moved))
    assert (jg.trace_count, jg.fallback_count) == (1, 0)
