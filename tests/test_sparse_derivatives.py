"""Sparse Jacobians and Hessians by colouring: each equals the dense one, the pattern read
off the staged program never misses a nonzero, and the colouring is valid."""

import numpy as onp
import pytest
import scipy.sparse as sp

import matdiff
import matdiff.numpy as np
from matdiff import grad, hessian, jacobian, sparse_hessian, sparse_jacobian
from matdiff.compile import StagingError, make_program
from matdiff.compile.sparsity import hessian_pattern, jacobian_pattern
from matdiff.extend import defjvp, defvjp, primitive
from matdiff.sparse_derivatives import _direct_take, column_colouring, star_colouring

# Sums of a few products of O(1) numbers in float64: a few ulps of the entries' size.
RTOL = 1e-12


def _same(a, dense):
    assert isinstance(a, sp.csr_array)
    a = a.toarray()
    assert a.shape == dense.shape
    onp.testing.assert_allclose(a, dense, rtol=RTOL, atol=RTOL * max(1.0, abs(dense).max()))


def _rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _banded(x):
    # Couplings two apart and one apart: a pentadiagonal Hessian.
    return np.sum(np.sin(x[:-2] * x[2:])) + np.sum(np.exp(x[1:] - x[:-1]) ** 2)


def _stencil(u):
    # A finite-difference Laplacian with a nonlinear reaction term: a tridiagonal Jacobian.
    lap = u[:-2] - 2.0 * u[1:-1] + u[2:]
    return np.concatenate([u[:1], lap + np.sin(u[1:-1]), u[-1:]])


X = onp.random.default_rng(0).standard_normal(12)


@pytest.mark.parametrize(
    "f, colours",
    [(_rosen, 3), (_banded, 5), (lambda x: np.sum(np.sin(x) * x**3), 1)],
    ids=["chain", "banded", "separable"],
)
def test_sparse_hessian_equals_the_dense_one(f, colours):
    h = sparse_hessian(f)
    _same(h(X), hessian(f)(X))
    assert h.plan(X).n_colours == colours


def test_an_arrow_hessian_takes_few_products_by_star_colouring():
    # Column 0 meets every row: a distance-2 colouring needs n colours, a star colouring 2.
    f = lambda x: np.sum(x[0] * np.sin(x[1:])) + np.sum(x**4)
    h = sparse_hessian(f)
    _same(h(X), hessian(f)(X))
    assert h.plan(X).n_colours == 2
    assert column_colouring(h.plan(X).pattern).max() + 1 == X.size


_IDX = onp.array([[2, 0, 1], [1, 2, 0]])
MOVES = {
    "pad": lambda x: np.pad(x, (2, 1)),
    "flip": lambda x: np.flip(x),
    "roll": lambda x: np.roll(x, 3),
    "diag": lambda x: np.ravel(np.diag(x[:4])),
    "tril": lambda x: np.ravel(np.tril(np.reshape(x, (3, 4)))),
    "broadcast_to": lambda x: np.ravel(np.broadcast_to(x[:4], (2, 4))),
    "expand_squeeze": lambda x: np.squeeze(np.expand_dims(x, 0)),
    "moveaxis": lambda x: np.ravel(np.moveaxis(np.reshape(x, (2, 3, 2)), 0, -1)),
    "repeat": lambda x: np.repeat(x[:4], 2),
    "tile": lambda x: np.tile(x[:4], 2),
    "take_along_axis": lambda x: np.ravel(
        np.take_along_axis(np.reshape(x[:6], (2, 3)), _IDX, axis=1)
    ),
    "vstack": lambda x: np.ravel(np.vstack([x[:3], x[3:6]])),
    "fancy index": lambda x: x[onp.array([3, 3, 0, 7])],
    "mask": lambda x: x[onp.arange(12) % 3 == 0],
    "swapaxes": lambda x: np.ravel(np.swapaxes(np.reshape(x, (3, 4)), 0, 1)),
}


# Moves that put in zeros: sin(0) * 0 still counts sin's own interaction, so there the
# pattern holds every nonzero and some more.
FILLS_ZEROS = {"pad", "diag", "tril"}


@pytest.mark.parametrize("name", MOVES)
def test_data_movement_keeps_the_pattern_exact(name):
    # Products of neighbours after the move: every nonzero, and only those, is found.
    move = MOVES[name]
    vector = lambda x: move(x)[1:] * np.sin(move(x)[:-1])
    f = lambda x: np.sum(vector(x))
    H = hessian(f)(X)
    J = jacobian(vector)(X)
    hp = hessian_pattern(make_program(f)(X)).toarray()
    jp = jacobian_pattern(make_program(vector)(X)).toarray()
    assert not (H != 0)[~hp].any() and not (J != 0)[~jp].any()
    if name not in FILLS_ZEROS:
        assert (hp == (H != 0)).all() and (jp == (J != 0)).all()
    _same(sparse_hessian(f)(X), H)
    _same(sparse_jacobian(vector)(X), J)


def test_dense_hessian():
    A = onp.random.default_rng(1).standard_normal((12, 12))
    f = lambda x: np.sum(np.tanh(x @ A)) + np.sum(x) ** 2
    h = sparse_hessian(f)
    _same(h(X), hessian(f)(X))
    assert h.plan(X).n_colours == X.size


def test_stencil_jacobian():
    j = sparse_jacobian(_stencil)
    _same(j(X), jacobian(_stencil)(X))
    assert j.plan(X).n_colours == 3


def test_jacobian_of_a_matrix_output_numbers_its_elements_in_c_order():
    f = lambda x: np.reshape(x[:6] * x[6:], (2, 3))
    _same(sparse_jacobian(f)(X), jacobian(f)(X).reshape(6, 12))


_sorted_max = primitive(lambda x: onp.sort(x)[-1])
defvjp(_sorted_max, lambda ans, x: lambda g: g * (x == ans))
defjvp(_sorted_max, lambda g, ans, x: onp.sum(g * (x == ans), axis=-1))


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sum(x[:-1] * x[1:]) + np.sort(x[:4])[2] ** 3,
        lambda x: np.sum(x[:-1] * x[1:]) + _sorted_max(x[4:8]) ** 2,
    ],
    ids=["library primitive without a rule", "user primitive"],
)
def test_the_dense_fallback_covers_what_has_no_rule(f):
    h = sparse_hessian(f)
    _same(h(X), hessian(f)(X))
    pattern = h.plan(X).pattern.toarray()
    # The fallback block is dense; the chain around it stays sparse.
    assert pattern[:4, :4].all() or pattern[4:8, 4:8].all()
    assert not pattern[0, 11]


def test_scipy_ufuncs_act_elementwise():
    from matdiff.scipy.special import expit, logsumexp

    f = lambda x: np.sum(expit(x[1:] * x[:-1])) + logsumexp(x[:3])
    h = sparse_hessian(f)
    _same(h(X), hessian(f)(X))
    assert h.plan(X).n_colours == 4  # the tridiagonal band and a 3 x 3 block at its top


def test_pattern_and_colouring_are_made_once_per_shape():
    h = sparse_hessian(_rosen)
    h(X)
    h(X + 1.0)
    assert len(h.plans) == 1
    assert h.plan(X).compressed.jitted.trace_count == 1
    _same(h(X[:5]), hessian(_rosen)(X[:5]))
    assert len(h.plans) == 2


def test_editing_a_result_in_place_leaves_later_results_whole():
    h = sparse_hessian(_rosen)
    H = h(onp.zeros(12))  # off-diagonal entries -400 x[i] are zeros here
    H.eliminate_zeros()
    H.data[:] = 0.0
    assert H.nnz == 12
    _same(h(X), hessian(_rosen)(X))
    assert h(X).nnz == 34


def test_array_arguments_are_read_at_every_call():
    f = lambda x, w: np.sum(w[:-1] * x[:-1] ** 2 * x[1:])
    h = sparse_hessian(f)
    for w in (onp.ones(12), onp.arange(12.0)):
        _same(h(X, w), hessian(f)(X, w))


def test_argnum_and_static_arguments():
    f = lambda k, x: np.sum(x[:-k] * x[k:] ** 2)
    for k in (1, 3):
        _same(sparse_hessian(f, argnum=1)(k, X), hessian(f, 1)(k, X))
        assert sparse_hessian(f, argnum=1).plan(k, X).n_colours <= 2 * k + 1


def test_unhashable_arguments_are_planned_at_every_call():
    f = lambda x, ks: np.sum(x[ks[0] :] ** 2 * x[: -ks[0]])
    h = sparse_hessian(f)
    _same(h(X, [2]), hessian(f)(X, [2]))
    assert h.plans == {}


def test_a_hessian_that_is_zero():
    H = sparse_hessian(lambda x: np.sum(3.0 * x))(X)
    assert H.shape == (12, 12) and H.nnz == 0


def test_errors():
    with pytest.raises(ValueError, match="must be a 1-D float array, got shape \\(2, 6\\)"):
        sparse_hessian(_rosen)(X.reshape(2, 6))
    with pytest.raises(StagingError, match="Use the dense matdiff.hessian"):
        sparse_hessian(lambda x: np.sum(x) if x[0] > 0 else np.sum(x**2))(X)
    with pytest.raises(TypeError, match="the function must return a scalar"):
        sparse_hessian(lambda x: x**2)(X)
    with pytest.raises(TypeError, match="called on a traced value"):
        grad(lambda x: sparse_hessian(_rosen)(x).sum())(X)
    with pytest.raises(TypeError, match="called on a traced value"):
        matdiff.jit(sparse_hessian(_rosen))(X)
    with pytest.raises(TypeError, match="argnum=2 but the function was called with 1"):
        sparse_jacobian(_stencil, argnum=2)(X)
    with pytest.raises(TypeError, match="the function must return one array"):
        sparse_jacobian(lambda x: (x, x))(X)


def test_exported():
    assert matdiff.sparse_hessian is sparse_hessian
    assert "sparse_jacobian" in matdiff.__all__


# ---------------------------------------------------------------- colouring


def _valid(pattern, colours):
    p = sp.csr_array(pattern, dtype=bool)
    for i in range(p.shape[0]):
        cols = p.indices[p.indptr[i] : p.indptr[i + 1]]
        assert len(set(colours[cols])) == len(cols)


@pytest.mark.parametrize("seed", range(20))
def test_star_colourings_read_every_entry_back_directly(seed):
    rng = onp.random.default_rng(seed)
    n = int(rng.integers(5, 40))
    a = rng.random((n, n)) < rng.uniform(0.02, 0.3)
    a = a | a.T | onp.eye(n, dtype=bool)
    colours = star_colouring(a)
    assert _direct_take(sp.csr_array(a), colours, True) is not None
    # Distance 1: no two neighbours share a colour.
    i, j = onp.nonzero(a & ~onp.eye(n, dtype=bool))
    assert (colours[i] != colours[j]).all()


@pytest.mark.parametrize("seed", range(5))
def test_colourings_separate_columns_that_share_a_row(seed):
    rng = onp.random.default_rng(seed)
    p = rng.random((30, 40)) < 0.08
    colours = column_colouring(p)
    _valid(p, colours)
    band = sp.diags_array([onp.ones(39)] * 2 + [onp.ones(40)], offsets=[-1, 1, 0])
    _valid(band, column_colouring(band))
    assert column_colouring(band).max() == 2


# ---------------------------------------------------------------- soundness


N = 6


def _ops(rng):
    """Length-6 vectors from two length-6 vectors, through every primitive with a rule."""
    M = onp.where(rng.random((N, N)) < 0.3, rng.standard_normal((N, N)), 0.0)
    return [
        lambda a, b: np.sin(a),
        lambda a, b: np.exp(0.3 * a) - b,
        lambda a, b: a * b,
        lambda a, b: a / (1.0 + b**2),
        lambda a, b: a**3 + 2.0 * b,
        lambda a, b: np.concatenate([a[1:], b[:1]]),
        lambda a, b: a[::-1] * 2.0,
        lambda a, b: np.reshape(np.reshape(a, (2, 3)).T, (N,)),
        lambda a, b: np.cumsum(a),
        lambda a, b: np.where(a > 0, a, b),
        lambda a, b: np.concatenate([np.sum(np.reshape(a, (2, 3)), axis=0), b[3:]]),
        lambda a, b: np.concatenate([np.prod(np.reshape(a, (3, 2)), axis=1), b[:3]]),
        lambda a, b: np.concatenate([np.mean(np.reshape(a, (2, 3)), axis=1), b[2:]]),
        lambda a, b: M @ a,
        lambda a, b: np.concatenate([np.reshape(a, (2, 3)) @ b[:3], b[2:]]),
        lambda a, b: np.sum(np.stack([a, b]), axis=0),
        lambda a, b: np.concatenate([np.max(np.reshape(a, (3, 2)), axis=1), b[3:]]),
        lambda a, b: np.concatenate([a[:2] @ b[2:4] + b[:1], b[1:]]),
        lambda a, b: np.tanh(np.diff(np.concatenate([a, b[:1]]))),
        lambda a, b: np.reshape(np.outer(a[:2], b[:3]), (N,)),
        lambda a, b: np.maximum(a, b) + np.abs(b),
    ]


def _random_function(seed):
    rng = onp.random.default_rng(seed)
    ops = _ops(rng)
    steps = [(rng.integers(len(ops)), rng.integers(0, 10, 2)) for _ in range(5)]

    def vector(x):
        pool = [x, x[::-1]]
        for k, (i, j) in steps:
            pool.append(ops[k](pool[i % len(pool)], pool[j % len(pool)]))
        return pool[-1] + pool[-2]

    return vector


@pytest.mark.parametrize("seed", range(40))
def test_patterns_of_random_functions_hold_every_nonzero(seed):
    vector = _random_function(seed)
    # A plain sum keeps the Hessian as sparse as the function's own interactions.
    outer = np.sin if seed % 2 else (lambda v: v)
    scalar = lambda x: np.sum(outer(vector(x)))
    x = onp.random.default_rng(100 + seed).standard_normal(N)
    J = jacobian(vector)(x)
    H = hessian(scalar)(x)
    jp = jacobian_pattern(make_program(vector)(x)).toarray()
    hp = hessian_pattern(make_program(scalar)(x)).toarray()
    assert not (J != 0)[~jp].any()
    assert not (H != 0)[~hp].any()
    _same(sparse_jacobian(vector)(x), J)
    _same(sparse_hessian(scalar)(x), H)
