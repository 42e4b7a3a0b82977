"""Compatibility with autograd's and JAX's operator tests: what grad, vjp, jvp, jacobian,
hessian and friends return, for arrays and for containers of them.

Restates the behaviours of autograd's ``test_wrappers.py``, ``test_tuple.py``,
``test_list.py``, ``test_dict.py``, ``test_complex.py``, ``test_jacobian.py`` and the
grad/jvp/vjp/jacfwd/jacrev/hessian parts of JAX's ``api_test.py`` that apply to our API
(argnums tuples, has_aux, pytrees). Numerical identities are checked against Jacobians
built independently (by the other mode, or by finite differences via ``check_grads``).
"""

from __future__ import annotations

import functools

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as np
from matdiff import (
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from matdiff.test_util import check_grads
from matdiff.tracer import isbox

rng = onp.random.default_rng(1)


def R(*shape):
    return rng.standard_normal(shape)


def rolled_sin(a):
    # An asymmetric Jacobian: a wrong transpose would show.
    return np.roll(np.sin(a), 1)


def sum_sin(a):
    return np.sum(np.sin(a))


# ---------------------------------------------------------------- containers in and out

TUPLE_IN = (R(5, 6), R(4, 3), R(2, 4))
DICT_IN = {"item_1": R(5, 6), "item_2": R(4, 3), "item_X": R(2, 4)}


def _tuple_fun(t):
    return np.sum(np.sin(t[0])) + np.sum(np.cos(t[1]))


def _dict_fun(d):
    return np.sum(np.sin(d["item_1"])) + np.sum(np.cos(d["item_2"]))


def _dict_iter_fun(d):
    a = b = 0.0
    for i, k in enumerate(sorted(d)):
        a = a + np.sum(np.sin(d[k])) * (i + 1.0)
        b = b + np.sum(np.cos(d[k]))
    for v in d.values():
        a = a + np.sum(np.sin(v))
    return a + b


def _grad_then_reduce(fun, keys):
    # A function of the gradient: grad-of-grad through a container.
    def d_fun(c):
        g = grad(fun)(c)
        return np.sum(g[keys[0]]) + np.sum(np.sin(g[keys[0]])) + np.sum(np.sin(g[keys[1]]))

    return d_fun


CONTAINER_ROWS = [
    ("tuple-in", _tuple_fun, (TUPLE_IN,)),
    ("tuple-in-grad-of-grad", _grad_then_reduce(_tuple_fun, (0, 1)), (TUPLE_IN,)),
    ("list-in", lambda xs: np.sum(np.sin(xs[0])) * np.sum(xs[1] ** 2), ([R(3), R(2, 2)],)),
    ("dict-in", _dict_fun, (DICT_IN,)),
    ("dict-in-grad-of-grad", _grad_then_reduce(_dict_fun, ("item_1", "item_2")), (DICT_IN,)),
    ("dict-iteration", _dict_iter_fun, (DICT_IN,)),
    ("dict-get-present", lambda d, x: d.get("item_1", x) ** 2, ({"item_1": 3.0}, 2.0)),
    ("dict-get-default", lambda d, x: d.get("item_1", x) ** 2, ({"item_2": 4.0}, 2.0)),
    ("dict-get-empty", lambda d, x: d.get("item_1", x) ** 2, ({}, 2.0)),
    ("tuple-out", lambda x: (np.sin(x), x**2), (R(3),)),
    ("list-out", lambda x: [np.sin(x), 2.0 * x], (R(3),)),
    ("dict-out", lambda x: {"a": x, "b": [x**2, np.exp(x)]}, (R(2),)),
    (
        "nested-in-and-out",
        lambda t: {"s": t[0] * t[1]["w"], "t": (t[1]["w"],)},
        ((R(3), {"w": R(3)}),),
    ),
]


@pytest.mark.parametrize(
    "fun, args", [r[1:] for r in CONTAINER_ROWS], ids=[r[0] for r in CONTAINER_ROWS]
)
def test_containers(fun, args):
    check_grads(fun, modes=("fwd", "rev"), order=2)(*args)


def test_unused_container_entries_get_zero_gradients():
    def fun(c, keys):
        return np.sum(c[keys[0]]) + 2.0 * np.sum(c[keys[1]])

    g = grad(fun)(TUPLE_IN, (0, 1))
    assert isinstance(g, tuple)
    for got, want in zip(g, (1.0, 2.0, 0.0)):
        onp.testing.assert_array_equal(got, onp.full(got.shape, want))
    g = grad(fun)(list(TUPLE_IN), (0, 1))
    assert isinstance(g, list) and [float(v.flat[0]) for v in g] == [1.0, 2.0, 0.0]
    g = grad(fun)(DICT_IN, ("item_1", "item_2"))
    assert set(g) == set(DICT_IN)
    onp.testing.assert_array_equal(g["item_X"], onp.zeros((2, 4)))
    onp.testing.assert_array_equal(g["item_2"], onp.full((4, 3), 2.0))


def test_higher_order_through_a_tuple_of_the_same_value():
    def outer(x):
        inner = grad(lambda y: y[0] * y[1])
        return np.sum(np.sin(np.array(inner((x, x)))))

    check_grads(outer, modes=("fwd", "rev"), order=2)(5.0)
    check_grads(grad(outer), modes=("rev",), order=2)(10.0)


# ---------------------------------------------------------------- identities between operators

A54 = R(5, 4)
V54 = R(5, 4)
Q = R(5, 5)


def _close(a, b):
    onp.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


IDENTITIES = [
    # hessian of x.Q.x is Q + Q^T
    (
        "hessian-of-quadratic",
        lambda: hessian(lambda x: np.dot(np.dot(x, Q), x))(R(5)),
        lambda: Q + Q.T,
    ),
    # HVP is the Hessian contracted with v, for vector, matrix and 3-tensor inputs
    (
        "hvp-vector",
        lambda: hvp(sum_sin, A54[0], V54[0]),
        lambda: np.dot(hessian(sum_sin)(A54[0]), V54[0]),
    ),
    (
        "hvp-matrix",
        lambda: hvp(sum_sin, A54, V54),
        lambda: np.tensordot(hessian(sum_sin)(A54), V54),
    ),
    (
        "hvp-tensor",
        lambda: hvp(sum_sin, A54.reshape(5, 2, 2), V54.reshape(5, 2, 2)),
        lambda: np.tensordot(hessian(sum_sin)(A54.reshape(5, 2, 2)), V54.reshape(5, 2, 2), 3),
    ),
    # VJP is v.J, for vector, matrix and 3-tensor outputs
    (
        "vjp-vector",
        lambda: vjp(rolled_sin, A54[0])[1](V54[0])[0],
        lambda: np.dot(V54[0], jacobian(rolled_sin)(A54[0])),
    ),
    (
        "vjp-matrix",
        lambda: vjp(rolled_sin, A54)[1](V54)[0],
        lambda: np.tensordot(V54, jacobian(rolled_sin)(A54)),
    ),
    # JVP is J.v
    (
        "jvp-matrix",
        lambda: jvp(rolled_sin, (A54,), (V54,))[1],
        lambda: np.tensordot(jacobian(rolled_sin)(A54), V54),
    ),
    # forward and reverse Jacobians agree
    ("jacfwd-is-jacrev", lambda: jacfwd(rolled_sin)(A54), lambda: jacrev(rolled_sin)(A54)),
    # elementwise_grad of an elementwise function is the diagonal of its Jacobian
    (
        "elementwise-grad",
        lambda: elementwise_grad(lambda a: a + np.sin(a) + np.cosh(a))(A54[0]),
        lambda: onp.diag(jacobian(lambda a: a + np.sin(a) + np.cosh(a))(A54[0])),
    ),
    (
        "elementwise-grad-argnum",
        lambda: elementwise_grad(lambda a, b: a + np.sin(a) + np.cosh(b), argnum=1)(0.9, A54[0]),
        lambda: onp.sinh(A54[0]),
    ),
    # value_and_grad is (f, grad f)
    (
        "value-and-grad",
        lambda: value_and_grad(lambda x: np.sum(np.sin(x) ** 2))(A54[0]),
        lambda: (onp.sum(onp.sin(A54[0]) ** 2), 2 * onp.sin(A54[0]) * onp.cos(A54[0])),
    ),
    # argnums as a tuple gives a tuple of gradients, in that order (JAX)
    (
        "grad-argnums-tuple",
        lambda: grad(lambda x, y: np.sum(x * np.sin(y)), argnums=(1, 0))(A54[0], V54[0]),
        lambda: (A54[0] * onp.cos(V54[0]), onp.sin(V54[0])),
    ),
    (
        "jacobian-argnums-tuple",
        lambda: jacobian(lambda x, y: x * y, argnums=(0, 1))(A54[0], V54[0]),
        lambda: (onp.diag(V54[0]), onp.diag(A54[0])),
    ),
    (
        "jacfwd-argnums-tuple",
        lambda: jacfwd(lambda x, y: x * y, argnums=(0, 1))(A54[0], V54[0]),
        lambda: (onp.diag(V54[0]), onp.diag(A54[0])),
    ),
    # autograd's positional argnum and keyword argnum
    (
        "grad-positional-argnum",
        lambda: grad(lambda a, b: a * np.sin(b), 1)(2.0, 0.5),
        lambda: 2.0 * onp.cos(0.5),
    ),
    # a function with keywords bound by functools.partial
    (
        "grad-of-partial",
        lambda: grad(functools.partial(lambda x, y: x * y, y=3.0))(2.0),
        lambda: 3.0,
    ),
    # Jacobians of pytree outputs and inputs (JAX's nesting: output structure outside)
    (
        "jacobian-pytree",
        lambda: jacobian(lambda d: {"a": 2.0 * d["x"], "b": np.sum(d["x"])})({"x": A54[0]}),
        lambda: {"a": {"x": 2.0 * onp.eye(4)}, "b": {"x": onp.ones(4)}},
    ),
    (
        "jvp-pytree",
        lambda: jvp(lambda d: d["a"] * 2.0, ({"a": A54[0]},), ({"a": V54[0]},)),
        lambda: (2.0 * A54[0], 2.0 * V54[0]),
    ),
    (
        "vjp-tuple-output",
        lambda: vjp(lambda a, b: (a * b, a + b), A54[0], V54[0])[1]((onp.ones(4), onp.ones(4))),
        lambda: (V54[0] + 1.0, A54[0] + 1.0),
    ),
    # has_aux: the auxiliary value comes back untouched (JAX)
    (
        "grad-has-aux",
        lambda: grad(lambda x: (np.sum(x**2), "aux"), has_aux=True)(A54[0]),
        lambda: (2.0 * A54[0], "aux"),
    ),
    (
        "value-and-grad-has-aux",
        lambda: value_and_grad(lambda x: (np.sum(x**2), 3), has_aux=True)(A54[0]),
        lambda: ((onp.sum(A54[0] ** 2), 3), 2.0 * A54[0]),
    ),
    # hessian with an argnums tuple: the nested blocks (JAX)
    (
        "hessian-argnums-tuple",
        lambda: hessian(lambda x, y: np.sum(x * x * y), argnums=(0, 1))(A54[0], V54[0]),
        lambda: (
            (onp.diag(2 * V54[0]), onp.diag(2 * A54[0])),
            (onp.diag(2 * A54[0]), onp.zeros((4, 4))),
        ),
    ),
    # linearize: the JVP at a fixed point, as a function of the tangent (JAX)
    (
        "linearize-is-jvp",
        lambda: matdiff.linearize(rolled_sin, A54)[1](V54),
        lambda: jvp(rolled_sin, (A54,), (V54,))[1],
    ),
    # jacobian shapes: out.shape + in.shape
    ("jacobian-shape", lambda: jacobian(lambda x: 2.0 * x)(A54).shape, lambda: (5, 4, 5, 4)),
    ("jacobian-of-scalar-shape", lambda: jacobian(np.sum)(A54).shape, lambda: (5, 4)),
    ("hessian-shape", lambda: hessian(sum_sin)(A54).shape, lambda: (5, 4, 5, 4)),
]


def _compare(got, want):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want)
        for k in want:
            _compare(got[k], want[k])
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want)
        for g, w in zip(got, want):
            _compare(g, w)
    elif isinstance(want, str):
        assert got == want
    else:
        _close(got, want)


@pytest.mark.parametrize("got, want", [r[1:] for r in IDENTITIES], ids=[r[0] for r in IDENTITIES])
def test_identity(got, want):
    _compare(got(), want())


def test_value_and_grad_are_the_functions_own_values():
    fun = lambda x: 3.0 * x**3.2  # noqa: E731
    f, d = value_and_grad(fun)(1.7)
    assert f == fun(1.7)
    assert d == grad(fun)(1.7)


# ---------------------------------------------------------------- complex numbers


@pytest.mark.parametrize("z", [0.3 + 0.4j, 1.1 + 1.2j, 0.7], ids=["small", "large", "real"])
@pytest.mark.parametrize("f", [np.abs, np.angle], ids=["abs", "angle"])
def test_real_valued_functions_of_complex_input(f, z):
    check_grads(f, modes=("fwd", "rev"), order=2)(z)
    check_grads(grad(f), modes=("fwd", "rev"), order=2)(z)


# ---------------------------------------------------------------- errors


ERRORS = [
    (
        "grad-of-non-scalar",
        lambda: grad(lambda x: x * 2.0)(R(3)),
        TypeError,
        r"grad: the function must return a scalar.*jacobian.*elementwise_grad.*vjp",
    ),
    (
        "grad-of-integer-input",
        lambda: grad(lambda x: np.sum(x))(onp.arange(3)),
        TypeError,
        r"grad: argument 0 has dtype int64.*1\.0 instead of 1",
    ),
    (
        "grad-argnum-out-of-range",
        lambda: grad(lambda x: x, argnums=2)(1.0),
        ValueError,
        r"grad: argnums=2 is out of range.*positions from 0 to 0",
    ),
    (
        "grad-of-complex-output",
        lambda: grad(lambda x: x * 1j)(1.0),
        TypeError,
        r"grad: the function returned a complex number.*np\.real",
    ),
    (
        "jvp-tangent-shape",
        lambda: jvp(np.sin, (1.0,), (onp.ones(2),)),
        ValueError,
        r"jvp: tangent 0 has shape \(2,\) but its primal has shape \(\)",
    ),
    (
        "vjp-cotangent-shape",
        lambda: vjp(np.sin, onp.ones(2))[1](onp.ones(3)),
        ValueError,
        r"vjp: .*cotangent.* has shape \(3,\) but the output .* has shape \(2,\)",
    ),
    (
        "has-aux-without-a-pair",
        lambda: grad(lambda x: x, has_aux=True)(1.0),
        TypeError,
        r"has_aux=True needs the function to return a pair",
    ),
]


@pytest.mark.parametrize("call, exc, match", [r[1:] for r in ERRORS], ids=[r[0] for r in ERRORS])
def test_errors_name_the_function_and_the_fix(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_grad_of_a_function_returning_none_asks_for_a_return():
    with pytest.raises(TypeError, match=r"grad: the function returned None.*return statement"):
        grad(lambda x: None)(1.0)


@pytest.mark.parametrize(
    "fun, kind",
    [(lambda x: (x, x), "tuple"), (lambda x: [x], "list"), (lambda x: {"a": x}, "dict")],
    ids=["tuple", "list", "dict"],
)
def test_grad_of_a_pytree_valued_function_names_the_pytree(fun, kind):
    with pytest.raises(TypeError, match=rf"grad: .*returned a {kind} .*Use jacobian.*vjp"):
        grad(fun)(1.0)


# ---------------------------------------------------------------- autograd's other operators
# autograd users import these by name; matdiff does not provide them yet. Each test
# states the behaviour they must have once added to differential_operators.py.


def _missing(name):
    return pytest.mark.xfail(
        not hasattr(matdiff, name),
        strict=True,
        reason=f"matdiff.{name} (autograd's) is not in differential_operators.py yet",
    )


@_missing("holomorphic_grad")
def test_holomorphic_grad():
    # grad's own error message recommends it for complex outputs
    z = 0.3 + 0.7j
    onp.testing.assert_allclose(matdiff.holomorphic_grad(np.sin)(z), onp.cos(z))


@_missing("make_vjp")
def test_make_vjp():
    vjp_fn, ans = matdiff.make_vjp(rolled_sin)(A54[0])
    _close(ans, onp.roll(onp.sin(A54[0]), 1))
    _close(vjp_fn(V54[0]), np.dot(V54[0], jacobian(rolled_sin)(A54[0])))


@_missing("make_jvp")
def test_make_jvp():
    ans, t = matdiff.make_jvp(rolled_sin)(A54[0])(V54[0])
    _close(t, np.dot(jacobian(rolled_sin)(A54[0]), V54[0]))


@_missing("grad_and_aux")
def test_grad_and_aux():
    g, aux = matdiff.grad_and_aux(lambda x: (np.sum(x**2), x.shape))(A54[0])
    _close(g, 2 * A54[0])
    assert aux == (4,)


@_missing("vector_jacobian_product")
def test_vector_jacobian_product():
    got = matdiff.vector_jacobian_product(rolled_sin)(A54, V54)
    _close(got, np.tensordot(V54, jacobian(rolled_sin)(A54)))


@_missing("hessian_tensor_product")
def test_hessian_tensor_product():
    _close(matdiff.hessian_tensor_product(sum_sin)(A54, V54), hvp(sum_sin, A54, V54))


@_missing("checkpoint")
def test_checkpoint_gives_the_same_values_and_gradients():
    bar = lambda x, y: 2 * x + y + 5  # noqa: E731
    cbar = matdiff.checkpoint(bar)
    foo = lambda x: bar(x, x / 3.0) + bar(x, x**2)  # noqa: E731
    foo2 = lambda x: cbar(x, x / 3.0) + cbar(x, x**2)  # noqa: E731
    _close(foo2(3.0), foo(3.0))
    _close(grad(foo2)(3.0), grad(foo)(3.0))


# ---------------------------------------------------------------- logic (autograd's test_logic)


def test_assertions_on_traced_values_run():
    def fun(x):
        assert np.allclose(x, (x * 3.0) / 3.0)
        return np.sum(x)

    check_grads(fun, modes=("fwd", "rev"), order=2)(onp.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("z", [2.0, 2.0 + 1.0j], ids=["real", "complex"])
def test_predicates_steer_python_control_flow(z):
    fun = lambda x: np.real(x**2 if np.iscomplex(x) else np.sum(x))  # noqa: E731
    check_grads(fun, modes=("fwd", "rev"), order=2)(z)


def test_a_primitive_without_rules_is_refused_in_both_modes():
    from matdiff.extend import primitive

    twice = primitive(lambda x: 2.0 * x)
    with pytest.raises(matdiff.NotDifferentiableError, match=r"no VJP .*defvjp"):
        grad(twice)(1.0)
    with pytest.raises(matdiff.NotDifferentiableError, match=r"no JVP .*defjvp"):
        matdiff.deriv(twice)(1.0)


def test_missing_rule_is_also_a_not_implemented_error():
    # autograd raises NotImplementedError here; existing matdiff code catches TypeError.
    from matdiff.extend import primitive

    with pytest.raises(NotImplementedError, match=r"no VJP"):
        grad(primitive(lambda x: 2.0 * x))(1.0)
    with pytest.raises(TypeError, match=r"no JVP"):
        matdiff.deriv(primitive(lambda x: 2.0 * x))(1.0)


BOOL_OR_INT_OUTPUTS = [
    ("grad-allclose", lambda: grad(lambda x: np.allclose(x, (x * 3.0) / 3.0))(A54[0]), "grad"),
    ("value_and_grad-int", lambda: matdiff.value_and_grad(lambda x: 2)(1.0), "grad"),
    ("grad-comparison", lambda: grad(lambda x: np.sum(x) > 0.0)(A54[0]), "grad"),
    ("elementwise_grad", lambda: matdiff.elementwise_grad(lambda x: x > 0)(A54[0]), "elementwise"),
    ("jacobian", lambda: jacobian(lambda x: x > 0)(A54[0]), "jacobian"),
    ("deriv", lambda: matdiff.deriv(lambda x: x > 0)(1.0), "deriv"),
    ("grad_and_aux", lambda: matdiff.grad_and_aux(lambda x: (x > 0, 1))(1.0), "grad"),
    ("holomorphic_grad", lambda: matdiff.holomorphic_grad(lambda z: z.real > 0)(1j), "grad"),
    ("jacfwd", lambda: jacfwd(lambda x: np.argmax(x))(A54[0]), "jacfwd"),
    ("hessian", lambda: matdiff.hessian(lambda x: np.isfinite(x))(A54[0]), "jacobian"),
]


@pytest.mark.parametrize(
    "call, fname", [r[1:] for r in BOOL_OR_INT_OUTPUTS], ids=[r[0] for r in BOOL_OR_INT_OUTPUTS]
)
def test_a_bool_or_integer_output_is_refused_not_zero(call, fname):
    with pytest.raises(
        TypeError,
        match=rf"{fname}\w*: the function returned a (bool|value of "
        r"dtype int).*not a float that depends on the input",
    ):
        call()


@pytest.mark.parametrize("jac", [jacfwd, jacrev], ids=["jacfwd", "jacrev"])
def test_jacobians_with_aux(jac):
    J, aux = jac(lambda x: (x**2, "aux"), has_aux=True)(A54[0])
    _close(J, onp.diag(2 * A54[0]))
    assert aux == "aux"


@pytest.mark.parametrize("jac", [jacfwd, jacrev], ids=["jacfwd", "jacrev"])
def test_jacobians_with_traced_aux_return_plain_values(jac):
    x = R(7)
    J, aux = jac(lambda x, y: (x * y, {"s": np.sum(x * y)}), argnums=(0, 1), has_aux=True)(x, x)
    _close(J[0], onp.diag(x))
    _close(J[1], onp.diag(x))
    assert not isbox(aux["s"])
    _close(aux["s"], onp.sum(x * x))
    # Several batched passes (chunks of 3 directions): the aux is read once, unboxed.
    J2, aux2 = jacfwd(lambda x: (np.sin(x), np.cos(x)), has_aux=True, chunk_size=3)(x)
    _close(J2, onp.diag(onp.cos(x)))
    assert isinstance(aux2, onp.ndarray)
    _close(aux2, onp.cos(x))


def test_hessian_with_aux():
    x = R(3)
    H, aux = matdiff.hessian(lambda x: (np.sum(x**3), (x, np.sum(x))), has_aux=True)(x)
    _close(H, onp.diag(6 * x))
    assert isinstance(aux[0], onp.ndarray)
    _close(aux[0], x)
    _close(aux[1], onp.sum(x))


@pytest.mark.parametrize(
    "jac", [jacfwd, jacrev, matdiff.hessian], ids=["jacfwd", "jacrev", "hessian"]
)
def test_jacobians_with_aux_need_a_pair(jac):
    with pytest.raises(TypeError, match=r"has_aux=True needs the function to return a pair"):
        jac(lambda x: x**2, has_aux=True)(A54[0])


# ---------------------------------------------------------------- jacobian (autograd's test_jacobian)


def test_jacobian_of_a_singleton_output_is_the_gradient():
    fun = lambda x: np.sum(np.sin(x), axis=1, keepdims=True)  # noqa: E731
    a = R(1, 3)
    _close(jacobian(fun)(a).reshape(1, 3), grad(lambda x: fun(x)[0, 0])(a))


def test_jacobian_of_scalar_to_vector():
    val = 0.7
    _close(jacobian(lambda x: np.array([x, x**2, x**3]))(val), [1.0, 2 * val, 3 * val**2])


def test_jacobian_rows_are_the_gradients_of_the_outputs():
    scalar_funs = [
        lambda x: np.sum(x**3),
        lambda x: np.prod(np.sin(x) + np.sin(x)),
        lambda x: grad(lambda y: np.exp(y) * np.tanh(x[0]))(x[1]),
    ]
    x = R(5)
    jac = jacobian(lambda x: np.array([f(x) for f in scalar_funs]))(x)
    _close(jac, onp.vstack([grad(f)(x) for f in scalar_funs]))


def test_jacobians_of_jacobians():
    fun = lambda x: np.sin(np.outer(x, x)) + np.cos(np.dot(x, x))  # noqa: E731
    assert jacobian(fun)(R(2)).shape == (2, 2, 2)
    assert jacobian(jacobian(fun))(R(2)).shape == (2, 2, 2, 2)
    assert jacobian(jacobian(jacobian(fun)))(R(2)).shape == (2, 2, 2, 2, 2)
    check_grads(lambda x: np.sum(np.sin(jacobian(fun)(x))), modes=("fwd", "rev"), order=2)(R(2))
    check_grads(lambda x: np.sum(np.sin(jacobian(jacobian(fun))(x))), modes=("rev",))(R(2))


# ---------------------------------------------------------------- autograd.misc


def test_flatten_a_pytree_to_one_vector_and_back():
    from matdiff.misc import flatten

    x = (1.0, R(2, 3), [R(1, 4), {"x": 2.0, "y": R(4, 2)}])
    flat, unflatten = flatten(x)
    assert flat.shape == (20,) and flat[0] == 1.0
    onp.testing.assert_array_equal(flatten(unflatten(flat))[0], flat)


def test_adam_minimizes_a_quadratic():
    from matdiff.misc.optimizers import adam

    target = R(3)
    loss_grad = grad(lambda w, i: np.sum((w - target) ** 2))
    w = adam(loss_grad, onp.zeros(3), num_iters=500, step_size=0.1)
    onp.testing.assert_allclose(w, target, atol=1e-3)
