"""vmap: JAX's meaning (axes, pytrees, None, nesting, errors) and its compositions."""

import numpy
import pytest

import matdiff.numpy as np
from matdiff import custom_jvp, custom_vjp, grad, hessian, jit, vmap
from matdiff.errors import ConcreteValueError

rng = numpy.random.default_rng(0)
XS = rng.standard_normal((5, 3))
W = rng.standard_normal((3, 4))


def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


def loop(f, *args, axes):
    """The reference: ``f`` called once per example, answers stacked along axis 0."""
    size = next(numpy.shape(a)[ax] for a, ax in zip(args, axes) if ax is not None)
    outs = []
    for b in range(size):
        outs.append(
            f(*[a if ax is None else numpy.take(a, b, axis=ax) for a, ax in zip(args, axes)])
        )
    return numpy.stack(outs)


PER_EXAMPLE = loop(grad(loss), W, XS, axes=(None, 0))


def test_batched_and_unbatched_arguments():
    out = vmap(lambda x, w: np.tanh(x @ w).sum(), in_axes=(0, None))(XS, W)
    numpy.testing.assert_allclose(out, numpy.tanh(XS @ W).sum(1), rtol=1e-14)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_in_axes_positions(axis):
    xs = numpy.moveaxis(XS, 0, axis)
    out = vmap(grad(loss), in_axes=(None, axis))(W, xs)
    numpy.testing.assert_allclose(out, PER_EXAMPLE, rtol=1e-13)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_out_axes_positions(axis):
    out = vmap(grad(loss), in_axes=(None, 0), out_axes=axis)(W, XS)
    numpy.testing.assert_allclose(out, numpy.moveaxis(PER_EXAMPLE, 0, axis), rtol=1e-13)


def test_pytrees_in_and_out():
    def f(d):
        return {"a": d["x"] * 2.0, "b": np.sum(d["w"]) + d["x"][0]}

    out = vmap(f, in_axes=({"x": 0, "w": None},))({"x": XS, "w": W})
    numpy.testing.assert_allclose(out["a"], 2.0 * XS)
    numpy.testing.assert_allclose(out["b"], W.sum() + XS[:, 0])


def test_unbatched_output_is_broadcast_or_kept():
    out = vmap(lambda x, w: (x, np.sum(w)), in_axes=(0, None), out_axes=(0, None))(XS, W)
    numpy.testing.assert_allclose(out[1], W.sum())
    out = vmap(lambda x, w: np.sum(w), in_axes=(0, None))(XS, W)
    numpy.testing.assert_allclose(out, numpy.full(5, W.sum()))


def test_axis_size_without_batched_arguments():
    assert vmap(lambda w: w * 2.0, in_axes=None, axis_size=2)(W).shape == (2, 3, 4)


def test_nested_vmap_agrees_with_a_double_loop():
    def h(a, b):
        return a * b + np.sum(a) * np.cos(b)

    out = vmap(vmap(h, in_axes=(0, None)), in_axes=(None, 0))(XS, W.T)
    ref = numpy.array([[h(x, w) for x in XS] for w in W.T])
    numpy.testing.assert_allclose(out, ref, rtol=1e-14)


def test_chunk_size_gives_the_same_answer():
    out = vmap(grad(loss), in_axes=(None, 0), chunk_size=2)(W, XS)
    numpy.testing.assert_allclose(out, PER_EXAMPLE, rtol=1e-13)
    out = vmap(grad(loss), in_axes=(None, 1), out_axes=1, chunk_size=3)(W, XS.T)
    numpy.testing.assert_allclose(out, numpy.moveaxis(PER_EXAMPLE, 0, 1), rtol=1e-13)


# ---------------------------------------------------------------- composition


def test_per_example_gradients():
    numpy.testing.assert_allclose(
        vmap(grad(loss), in_axes=(None, 0))(W, XS), PER_EXAMPLE, rtol=1e-13
    )
    per_weight = vmap(grad(loss), in_axes=(0, None))(numpy.stack([W, 2 * W]), XS[0])
    numpy.testing.assert_allclose(per_weight[1], grad(loss)(2 * W, XS[0]), rtol=1e-13)


def test_grad_of_vmap():
    g = grad(lambda w: np.sum(vmap(loss, in_axes=(None, 0))(w, XS)))(W)
    numpy.testing.assert_allclose(g, PER_EXAMPLE.sum(0), rtol=1e-12)


def test_jit_of_vmap_and_vmap_of_jit():
    numpy.testing.assert_allclose(
        jit(vmap(grad(loss), in_axes=(None, 0)))(W, XS), PER_EXAMPLE, rtol=1e-13
    )
    numpy.testing.assert_allclose(
        vmap(jit(grad(loss)), in_axes=(None, 0))(W, XS), PER_EXAMPLE, rtol=1e-13
    )


def test_vmap_of_hessian():
    def g(x):
        return np.sum(np.sin(x) ** 3) * np.prod(x)

    numpy.testing.assert_allclose(vmap(hessian(g))(XS), loop(hessian(g), XS, axes=(0,)), rtol=1e-12)


def test_custom_rules_under_vmap():
    @custom_vjp
    def doubled(x):
        return np.sin(x)

    doubled.defvjp(lambda x: (np.sin(x), x), lambda x, g: (g * 2.0 * np.cos(x),))

    @custom_jvp
    def tripled(x):
        return np.sin(x)

    tripled.defjvp(lambda p, t: (np.sin(p[0]), 3.0 * np.cos(p[0]) * t[0]))
    numpy.testing.assert_allclose(
        vmap(grad(lambda x: np.sum(doubled(x))))(XS), 2.0 * numpy.cos(XS), rtol=1e-14
    )
    numpy.testing.assert_allclose(
        vmap(grad(lambda x: np.sum(tripled(x))))(XS), 3.0 * numpy.cos(XS), rtol=1e-14
    )


def test_masks_and_branch_free_selection():
    g = vmap(grad(lambda x: np.sum(np.where(x > 0, x, 0.1 * x) ** 2)))(XS)
    numpy.testing.assert_allclose(g, numpy.where(XS > 0, 2 * XS, 0.02 * XS), rtol=1e-14)
    g = vmap(grad(lambda x: np.sum(np.maximum(x, 0.0) ** 2)))(XS)
    numpy.testing.assert_allclose(g, 2 * numpy.maximum(XS, 0), rtol=1e-14)


# ---------------------------------------------------------------- errors


def test_mismatched_sizes_name_the_arguments():
    def add(a, b):
        return a + b

    with pytest.raises(ValueError, match=r"a has size 5 along axis 0; b has size 3 along axis 0"):
        vmap(add)(XS, W)
    with pytest.raises(ValueError, match=r"a has size 5 along axis 0; axis_size is 4"):
        vmap(add, in_axes=(0, None), axis_size=4)(XS, 1.0)


def test_out_axes_that_does_not_fit():
    with pytest.raises(ValueError, match=r"out_axes gives axis 1 for output leaf 0, which has "):
        vmap(lambda a: np.sum(a), out_axes=1)(XS)
    with pytest.raises(ValueError, match="out_axes is None for output leaf 0, but that output"):
        vmap(lambda a: a, out_axes=None)(XS)


def test_in_axes_errors():
    with pytest.raises(ValueError, match=r"in_axes gives axis 2 for a, which has shape \(5, 3\)"):
        vmap(lambda a: a, in_axes=2)(XS)
    with pytest.raises(ValueError, match="no argument is batched"):
        vmap(lambda a: a, in_axes=None)(XS)
    with pytest.raises(ValueError, match="in_axes has 1 entries but the value it describes has 2"):
        vmap(lambda a, b: a, in_axes=(0,))(XS, XS)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        vmap(lambda a: a, chunk_size=0)


def test_python_control_flow_on_a_batched_value_is_refused():
    with pytest.raises(ConcreteValueError, match="vmap: a batched value was read as bool()"):
        vmap(lambda a: a if a[0] > 0 else -a)(XS)


# ---------------------------------------------------------------- derivatives through vmap

CHECKED = [
    ("tanh of a product", lambda x, w: np.tanh(x @ w), (None, 0)),
    ("outer product", lambda x, w: np.sum(np.outer(x, x) @ w, axis=0), (0, None)),
    ("reduction over an axis", lambda x, w: np.max(np.cos(x[:, None] * w), axis=1), (0, None)),
    ("both batched", lambda x, w: np.log1p(np.exp(np.sum(x) * w)), (0, 0)),
    ("mask and where", lambda x, w: np.where(x @ w > 0.0, (x @ w) ** 2, -(x @ w)), (0, None)),
    ("logsumexp", lambda x, w: np.log(np.sum(np.exp(x @ w))), (0, None)),
]


@pytest.mark.parametrize("name,f,axes", CHECKED, ids=[c[0] for c in CHECKED])
def test_check_grads_through_vmap_to_second_order(name, f, axes):
    from matdiff.test_util import check_grads

    x = XS if axes[0] == 0 else XS[0]
    w = numpy.stack([W, 0.5 * W, W[::-1], -W, 2.0 * W]) if axes[1] == 0 else W
    check_grads(vmap(f, in_axes=axes), modes=("fwd", "rev"), order=2)(x, w)
    # and per-example gradients, differentiated again
    g = vmap(grad(lambda x, w: np.sum(np.sin(f(x, w)))), in_axes=axes)
    check_grads(g, modes=("fwd", "rev"), order=1)(x, w)


# ---------------------------------------------------------------- jacobian on vmap


def test_jacobian_pulls_every_row_back_in_one_pass():
    from matdiff import jacobian
    from matdiff.extend import defvjp, primitive

    made = []
    twice = primitive(lambda x: 2.0 * x)

    def maker(ans, x):
        made.append(1)
        return lambda g: 2.0 * g

    defvjp(twice, maker)
    numpy.testing.assert_array_equal(jacobian(twice)(numpy.ones(4)), 2.0 * numpy.eye(4))
    assert len(made) == 1  # one backward pass for the four rows


def test_jacobian_falls_back_to_one_pass_per_row_for_a_rule_reading_numbers():
    from matdiff import jacobian
    from matdiff.extend import defvjp, primitive

    scaled = primitive(lambda x: 3.0 * x)
    # A rule that reads its cotangent as a Python number cannot run on a batch.
    defvjp(scaled, lambda ans, x: lambda g: 3.0 * g * (1.0 if float(np.max(g)) >= 0 else 1.0))
    numpy.testing.assert_array_equal(jacobian(scaled)(numpy.ones(3)), 3.0 * numpy.eye(3))


def test_keyword_arguments_are_batched_along_axis_0():
    scales = numpy.array([1.0, 2.0, 3.0, 4.0, 5.0])

    def f(x, w, scale=1.0, extra=None):
        return scale * np.sum(np.tanh(x @ w)) + np.sum(extra["b"])

    extra = {"b": rng.standard_normal((5, 2))}
    got = vmap(f, in_axes=(0, None))(XS, W, scale=scales, extra=extra)
    expected = [f(XS[b], W, scale=scales[b], extra={"b": extra["b"][b]}) for b in range(5)]
    numpy.testing.assert_allclose(got, expected, rtol=1e-13)
    # in_axes describes the positional arguments only: a keyword argument is batched
    # even where in_axes=None would cover it positionally.
    got = vmap(lambda x, w: np.sum(x * w), in_axes=None, axis_size=5)(XS[0], w=XS)
    numpy.testing.assert_allclose(got, XS @ XS[0], rtol=1e-13)
    # Per-example gradients with the targets passed by keyword.
    ys = rng.standard_normal(5)
    per = vmap(grad(lambda w, x, y: (np.sum(x @ w) - y) ** 2), in_axes=(None, 0))(W, XS, y=ys)
    ref = [grad(lambda w, x, y: (np.sum(x @ w) - y) ** 2)(W, XS[b], y=ys[b]) for b in range(5)]
    numpy.testing.assert_allclose(per, ref, rtol=1e-12)


def test_a_keyword_argument_of_the_wrong_size_is_named():
    with pytest.raises(
        ValueError, match=r"x has size 5 along axis 0; keyword argument scale has size 3"
    ):
        vmap(lambda x, scale: scale * x)(XS, scale=numpy.ones(3))


def test_a_vjp_rule_reading_numbers_runs_per_example_under_vmap_of_grad():
    from matdiff.extend import defvjp, primitive

    calls = []
    scaled = primitive(lambda x: 3.0 * x)

    def vjp(ans, x):
        def rule(g):
            calls.append(numpy.shape(g))
            # Reads its cotangent as a Python number: no batched form.
            return 3.0 * g * (1.0 if float(np.max(g)) >= 0 else -1.0)

        return rule

    defvjp(scaled, vjp)

    def f(x):
        return np.sum(np.sin(scaled(x)) ** 2)

    got = vmap(grad(f))(XS)
    numpy.testing.assert_allclose(got, loop(grad(f), XS, axes=(0,)), rtol=1e-13)
    # The batched try, then one call per example for this primitive only.
    assert calls[:1] == [(3,)] and len(calls) == 1 + 5 + 5
    calls.clear()
    # Nested: each outer example's inner batch loops in turn.
    xss = numpy.stack([XS, 2.0 * XS])
    got = vmap(vmap(grad(f)))(xss)
    numpy.testing.assert_allclose(got, numpy.stack([loop(grad(f), x, axes=(0,)) for x in xss]))
