"""Batched forward mode equals a loop of ordinary JVPs, primitive by primitive.

Every batch rule (and every elementwise ufunc, which needs none) is checked against the
per-direction forward mode on shapes that exercise broadcasting, negative axes,
keepdims and the index kinds that make the rule decline and fall back to the loop.
"""

import warnings

import numpy
import pytest

import matdiff.numpy as np
from matdiff.batching import (
    ELEMENTWISE,
    BatchedForwardTrace,
    batch_jvp,
    batch_rules,
    identity_seed,
    register_batch_rule,
)
from matdiff.core import jvp_rules
from matdiff.extend import defjvp, defvjp, primitive
from matdiff.numpy._wrap import all_wrapped
from matdiff.operators import trace_jvp

B = 3


def _loop(f, primals, tangents):
    cols = [trace_jvp("loop", f, primals, tuple(t[b] for t in tangents))[1] for b in range(B)]
    return numpy.stack([numpy.asarray(c) for c in cols])


def _compare(f, *primals, seed=0):
    rng = numpy.random.default_rng(seed)
    tangents = tuple(rng.standard_normal((B,) + numpy.shape(p)) for p in primals)
    out, t = batch_jvp(f, primals, tangents)
    expected = _loop(f, primals, tangents)
    assert numpy.shape(t) == (B,) + numpy.shape(out)
    numpy.testing.assert_allclose(t, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert numpy.allclose(out, f(*primals), equal_nan=True)


def _ufuncs():
    out = []
    for name, f in sorted(all_wrapped.items()):
        raw = getattr(f, "fun", None)
        if getattr(f, "_is_primitive", False) and isinstance(raw, numpy.ufunc):
            if raw.signature is None:
                out.append(name)
    return out


UNARY_SHAPES = [(2, 3), ()]
BINARY_SHAPES = [((2, 3), (3,)), ((), (2, 1)), ((2, 1), (1, 3)), ((1, 3), ())]


@pytest.mark.parametrize("name", _ufuncs())
def test_elementwise_ufunc_batches_like_a_loop(name):
    f = all_wrapped[name]
    table = jvp_rules.get(f)
    if table is None:
        pytest.skip(f"{name} has no JVP rules to batch")
    nin = f.fun.nin
    shapes = UNARY_SHAPES if nin == 1 else BINARY_SHAPES if nin == 2 else None
    if shapes is None:
        pytest.skip(f"{name} takes {nin} arguments; only unary and binary ufuncs are tabled")
    rng = numpy.random.default_rng(1)
    with warnings.catch_warnings(), numpy.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for case in shapes:
            case = (case,) if nin == 1 else case
            args = [rng.uniform(0.2, 0.9, s) for s in case]
            for argnum in range(nin):
                if table[argnum] is None:
                    continue

                def g(x, _k=argnum, _args=args):
                    full = list(_args)
                    full[_k] = x
                    return f(*full)

                _compare(g, args[argnum])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_named_elementwise_primitives_batch_like_a_loop(name):
    f = all_wrapped[name]
    rng = numpy.random.default_rng(4)
    m = rng.uniform(0.2, 0.9, (2, 3))
    if name == "where":
        _compare(lambda a, b: f(m > 0.5, a, b), m, rng.uniform(size=(1, 3)))
    elif name == "clip":
        _compare(lambda a: f(a, 0.4, 0.7), m)
    else:
        _compare(f, m)


def _needs(name):
    return all_wrapped[name]


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_batch_rule_matches_loop(axis):
    _needs("concatenate")
    m = numpy.arange(6.0).reshape(2, 3)
    _compare(lambda a: np.concatenate([a, numpy.ones((2, 3)), a**2], axis=axis), m)
    _compare(lambda a: np.concatenate([a, a], axis=None), m)


@pytest.mark.parametrize(
    "xs,ys",
    [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((), (3,)), ((2, 2, 3), (3,))],
)
def test_dot_batch_rule_matches_loop(xs, ys):
    dot = _needs("dot")
    rng = numpy.random.default_rng(5)
    x, y = rng.standard_normal(xs), rng.standard_normal(ys)
    _compare(lambda a, b: dot(a, b), x, y)


@pytest.mark.parametrize("name", ["absolute", "conj", "real", "imag"])
def test_complex_elementwise_batches_like_a_loop(name):
    z = numpy.array([[1.0 + 2.0j, -0.5 + 0.3j, 2.0 - 1.0j]])
    rng = numpy.random.default_rng(2)
    tangents = (rng.standard_normal((B, 1, 3)) + 1j * rng.standard_normal((B, 1, 3)),)
    f = all_wrapped[name]
    _, t = batch_jvp(f, (z,), tangents)
    numpy.testing.assert_allclose(t, _loop(f, (z,), tangents), rtol=1e-12)


x234 = numpy.arange(24.0).reshape(2, 3, 4) / 10 + 0.1

STRUCTURAL = [
    ("sum all", lambda x: np.sum(x), x234),
    ("sum axis 0", lambda x: np.sum(x, axis=0), x234),
    ("sum axis -1 keepdims", lambda x: np.sum(x, axis=-1, keepdims=True), x234),
    ("sum axes (0, 2)", lambda x: np.sum(x, axis=(0, 2)), x234),
    ("sum positional axis", lambda x: np.sum(x, 1), x234),
    ("sum scalar", lambda x: np.sum(x), 2.0),
    ("mean axis -2", lambda x: np.mean(x, axis=-2), x234),
    ("mean keepdims", lambda x: np.mean(x, axis=None, keepdims=True), x234),
    ("reshape", lambda x: np.reshape(x, (6, 4)), x234),
    ("reshape -1", lambda x: np.reshape(x, (-1,)), x234),
    ("reshape F order", lambda x: np.reshape(x, (4, 6), order="F"), x234),
    ("transpose", lambda x: np.transpose(x), x234),
    ("transpose axes", lambda x: np.transpose(x, (1, 0, 2)), x234),
    ("transpose negative axes", lambda x: np.transpose(x, (-1, 0, 1)), x234),
    ("broadcast vector", lambda x: np.broadcast_to(x, (2, 3)), numpy.arange(3.0)),
    ("broadcast scalar", lambda x: np.broadcast_to(x, (2, 2)), 1.5),
    ("broadcast column", lambda x: np.broadcast_to(x, (2, 3)), numpy.ones((2, 1))),
    ("getitem int", lambda x: x[0], x234),
    ("getitem slice", lambda x: x[:, 1], x234),
    ("getitem ellipsis newaxis", lambda x: x[..., None, 1:3], x234),
    ("getitem negative", lambda x: x[-1, ::-1], x234),
    ("getitem int array", lambda x: x[numpy.array([0, 1, 0])], x234),
    ("getitem mask", lambda x: x[x > 1.0], x234),
    ("getitem slice then array", lambda x: x[:, [0, 2]], x234),
    ("getitem two arrays", lambda x: x[[0, 1], [1, 2]], x234),
    ("getitem separated arrays", lambda x: x[[0, 1], :, [1, 2]], x234),
    ("getitem int and array", lambda x: x[0, :, [1, 2]], x234),
    ("stack axis 0", lambda x: np.stack([x, 2.0 * numpy.ones(3), x]), numpy.arange(3.0)),
    ("stack axis -1", lambda x: np.stack([x, numpy.ones(3)], axis=-1), numpy.arange(3.0)),
    ("stack axis 1", lambda x: np.stack([x, x], axis=1), numpy.ones((2, 3))),
    ("where", lambda x: np.where(x > 1.0, x**2, 3.0 * x), x234),
    ("where scalar branch", lambda x: np.where(numpy.ones((2, 2), bool), x, 0.0), 1.5),
]


@pytest.mark.parametrize("name,f,x", STRUCTURAL, ids=[s[0] for s in STRUCTURAL])
def test_structural_batch_rules_match_loop(name, f, x):
    _compare(f, x)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 3), (3, 1)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
    ((1, 2, 3), (5, 3, 1)),
]


@pytest.mark.parametrize("xs,ys", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
@pytest.mark.parametrize("which", ["x", "y", "both"])
def test_matmul_batch_rule_matches_loop(xs, ys, which):
    rng = numpy.random.default_rng(3)
    x, y = rng.standard_normal(xs), rng.standard_normal(ys)
    if which == "x":
        _compare(lambda a: a @ y, x)
    elif which == "y":
        _compare(lambda b: x @ b, y)
    else:
        _compare(lambda a, b: np.matmul(a, b), x, y)


def test_scatter_add_batch_rule_matches_loop():
    scatter = all_wrapped["scatter_add"]
    idx = (slice(None), numpy.array([0, 2, 0]))
    g = numpy.arange(6.0).reshape(2, 3)
    _compare(lambda v: scatter(v, (2, 4), idx, numpy.float64), g)
    _compare(
        lambda v: scatter(v, (3, 4), (numpy.array([0, 1]), numpy.array([1, 1])), float), g[0, :2]
    )


def test_a_jvp_rule_runs_once_under_vmap_over_the_directions():
    calls = []

    def cube_raw(x):
        return x**3

    cube = primitive(cube_raw)
    defvjp(cube, lambda ans, x: lambda g: 3.0 * x**2 * g)

    def cube_jvp(g, ans, x):
        calls.append(numpy.shape(g))
        return 3.0 * x**2 * g

    defjvp(cube, cube_jvp)
    assert cube not in batch_rules
    _compare(lambda x: cube(x) + 1.0, numpy.array([1.0, 2.0]))
    # One call for all directions, mapped by vmap (the rule reads one direction's
    # shape), then the reference loop's one call per direction.
    assert calls == [(2,)] + [(2,)] * B


def test_a_ufunc_can_be_sent_to_the_loop():
    seen = []

    def raw_cube(x):
        return x**3

    cube = primitive(numpy.frompyfunc(raw_cube, 1, 1))
    defjvp(cube, lambda g, ans, x: seen.append(numpy.shape(g)) or 3.0 * x**2 * g)
    x = numpy.array([1.0, 2.0])
    batch_jvp(cube, (x,), (numpy.eye(2),))
    assert seen == [(2, 2)]  # a ufunc: one batched call
    seen.clear()
    register_batch_rule(cube, None)
    _, t = batch_jvp(cube, (x,), (numpy.eye(2),))
    assert seen == [(2,), (2,)]
    numpy.testing.assert_allclose(numpy.asarray(t, float), numpy.diag(3 * x**2))


def test_batched_tangents_keep_batch_axis_when_broadcasting_a_scalar():
    out, t = batch_jvp(lambda s: s * numpy.ones((2, 3)), (2.0,), (numpy.arange(4.0),))
    assert t.shape == (4, 2, 3)
    numpy.testing.assert_array_equal(t[:, 0, 0], numpy.arange(4.0))


def test_output_independent_of_input_gives_batched_zeros():
    out, t = batch_jvp(lambda x: numpy.ones((2, 2)), (numpy.ones(3),), (numpy.eye(3),))
    assert t.shape == (3, 2, 2) and not t.any()


def test_batch_jvp_checks_tangent_shapes():
    with pytest.raises(
        ValueError, match=r"batch_jvp: batched tangent 0 has shape \(3,\); it must be \(B,\) \+"
    ):
        batch_jvp(np.sin, (numpy.ones(3),), (numpy.ones(3),))
    with pytest.raises(ValueError, match="disagree on the batch size"):
        batch_jvp(np.add, (1.0, 2.0), (numpy.ones(2), numpy.ones(3)))


def test_batched_trace_has_its_own_level():
    t1, t2 = BatchedForwardTrace(2), BatchedForwardTrace(2)
    assert t2.level > t1.level


def test_a_jvp_rule_that_reads_a_tangent_as_a_number_runs_per_direction():
    calls = []
    cube = primitive(lambda x: x**3)
    defvjp(cube, lambda ans, x: lambda g: 3.0 * x**2 * g)

    def cube_jvp(g, ans, x):
        calls.append(numpy.shape(g))
        return 3.0 * x**2 * float(g[0]) * numpy.array([1.0, 0.0]) + 3.0 * x**2 * g * [0.0, 1.0]

    defjvp(cube, cube_jvp)
    _compare(lambda x: cube(x) + 1.0, numpy.array([1.0, 2.0]))
    # The batched try, one call per direction instead, then the reference loop's.
    assert calls == [(2,)] + [(2,)] * B + [(2,)] * B


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x @ numpy.arange(12.0).reshape(4, 3),
        lambda x: numpy.arange(12.0).reshape(3, 4) @ x,
        lambda x: x @ numpy.arange(4.0),
        lambda x: np.matmul(x, x),
        lambda x: np.matmul(np.sin(x), numpy.ones((4, 2))),
    ],
    ids=["vector@matrix", "matrix@vector", "vector@vector", "x@x", "not-a-seed"],
)
@pytest.mark.parametrize("start,rows", [(0, 4), (1, 2), (3, 1)])
def test_identity_seed_shortcut_matches_the_general_rule(f, start, rows):
    x = numpy.array([0.5, -1.0, 2.0, 0.25])
    seed = identity_seed(4, numpy.float64, start, rows)
    plain = numpy.eye(4)[start : start + rows]
    numpy.testing.assert_array_equal(seed, plain)
    out, t = batch_jvp(f, (x,), (seed,))
    _, t_plain = batch_jvp(f, (x,), (plain,))
    numpy.testing.assert_allclose(t, t_plain, rtol=1e-15)
    cols = [jvp_of(f, x, e) for e in plain]
    numpy.testing.assert_allclose(t, numpy.stack(cols), rtol=1e-15)


def jvp_of(f, x, v):
    return numpy.asarray(trace_jvp("loop", f, (x,), (v,))[1])


def test_scipy_special_ufuncs_batch_like_a_loop():
    import matdiff.scipy.special as special

    names = [
        n
        for n in getattr(special, "__all__", [])
        if getattr(getattr(special, n), "_is_primitive", False)
        and isinstance(getattr(getattr(special, n), "fun", None), numpy.ufunc)
    ]
    assert names, "matdiff.scipy.special wraps no ufuncs: nothing would be checked"
    rng = numpy.random.default_rng(6)
    checked = 0
    with warnings.catch_warnings(), numpy.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for name in names:
            f = getattr(special, name)
            table = jvp_rules.get(f) or []
            nin = f.fun.nin
            shapes = [((2, 3),)] if nin == 1 else [((2, 3), (3,)), ((), (2, 1))] if nin == 2 else []
            for case in shapes:
                args = [rng.uniform(0.2, 0.9, s) for s in case]
                for k in range(nin):
                    if k >= len(table) or table[k] is None:
                        continue

                    def g(x, _k=k, _args=args, _f=f):
                        full = list(_args)
                        full[_k] = x
                        return _f(*full)

                    _compare(g, args[k])
                    checked += 1
    assert checked > 0
