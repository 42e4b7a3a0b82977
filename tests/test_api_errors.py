"""Every misuse of the public API gets an error that names the function, the argument
and the fix; none gives a silently wrong or zero derivative."""

import re

import numpy
import pytest

import matdiff.numpy as np
from matdiff import (
    NotDifferentiableError,
    elementwise_grad,
    grad,
    grad_named,
    hessian,
    hessian_tensor_product,
    jacfwd,
    jacobian,
    jvp,
    linearize,
    tensor_jacobian_product,
    tree_map,
    value_and_grad,
    vjp,
)
from matdiff.extend import defvjp, primitive
from matdiff.test_util import check_grads

x3 = numpy.array([0.3, -1.2, 2.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: grad(lambda x: x * 2.0)(3),
        lambda: grad(lambda x, y: x * y, argnums=1)(2.0, True),
        lambda: jacobian(lambda x: x)(numpy.arange(3)),
        lambda: jacfwd(lambda x: x)(numpy.arange(3)),
        lambda: vjp(lambda x: x, 3),
        lambda: jvp(lambda x: x, (3,), (1.0,)),
        lambda: linearize(lambda x: x, 3),
    ],
    ids=["grad", "grad-bool", "jacobian", "jacfwd", "vjp", "jvp", "linearize"],
)
def test_integer_or_boolean_argument_is_refused_with_a_float_suggestion(call):
    with pytest.raises(
        TypeError, match=r"has dtype (int|bool).*Pass a float instead \(e.g. 1.0 instead of 1"
    ):
        call()


def test_integer_argument_message_names_the_argument():
    with pytest.raises(TypeError, match=r"^grad: argument 1 has dtype bool"):
        grad(lambda x, y: x * y, argnums=1)(2.0, True)
    with pytest.raises(TypeError, match=r"^grad: argument 0 \(leaf 1\) has dtype int"):
        grad(lambda p: p[0] * p[1])((2.0, 3))


def test_grad_of_non_scalar_output_suggests_alternatives():
    with pytest.raises(
        TypeError, match=r"returned an array of shape \(3,\).*use jacobian.*elementwise_grad.*vjp"
    ):
        grad(np.sin)(x3)


def test_grad_of_complex_output_suggests_holomorphic_grad():
    with pytest.raises(TypeError, match="returned a complex number.*holomorphic_grad"):
        grad(lambda z: z**2)(1.0 + 1.0j)
    with pytest.raises(TypeError, match="elementwise_grad: the function's output is complex"):
        elementwise_grad(lambda z: z**2)(numpy.array([1.0 + 1.0j]))


@pytest.mark.parametrize("argnums", [2, -3, (0, 5)])
def test_argnums_out_of_range(argnums):
    msg = f"grad: argnums={argnums!r} is out of range for a call with 2 positional arguments; pass positions from 0 to 1"
    with pytest.raises(ValueError, match=re.escape(msg)):
        grad(lambda a, b: a * b, argnums=argnums)(1.0, 2.0)


def test_argnums_out_of_range_in_other_operators():
    with pytest.raises(ValueError, match="jacobian: argnums=1 is out of range"):
        jacobian(np.sin, argnums=1)(x3)
    with pytest.raises(ValueError, match="jacfwd: argnums=3 is out of range"):
        jacfwd(np.sin, 3)(x3)
    with pytest.raises(ValueError, match="grad: argnums is empty"):
        grad(np.sin, argnums=())(1.0)


def test_jvp_tangent_structure_mismatch():
    with pytest.raises(
        ValueError, match=r"jvp: the tangents' structure .* differs from the primals'"
    ):
        jvp(lambda p: p["a"], ({"a": 1.0},), ({"b": 1.0},))
    with pytest.raises(ValueError, match="jvp: got 2 primals but 1 tangents; pass one each"):
        jvp(lambda a, b: a, (1.0, 2.0), (1.0,))
    with pytest.raises(
        TypeError, match=r"jvp: primals and tangents must be tuples .* jvp\(f, \(x,\), \(v,\)\)"
    ):
        jvp(np.sin, 1.0, 1.0)


def test_jvp_tangent_wrong_shape_or_dtype():
    with pytest.raises(
        ValueError, match=r"jvp: tangent 0 has shape \(2,\) but its primal has shape \(3,\)"
    ):
        jvp(np.sin, (x3,), (numpy.ones(2),))
    with pytest.raises(
        TypeError, match="jvp: tangent 0 has dtype int64; tangents must be floating point"
    ):
        jvp(np.sin, (x3,), (numpy.ones(3, dtype=numpy.int64),))
    with pytest.raises(TypeError, match="jvp: tangent 0 is complex but its primal is real"):
        jvp(np.sin, (x3,), (numpy.ones(3) * 1j,))
    _, f_jvp = linearize(np.sin, x3)
    with pytest.raises(
        ValueError, match=r"linearize: tangent 0 has shape \(\) but its primal has shape \(3,\)"
    ):
        f_jvp(1.0)


def test_vjp_cotangent_wrong_shape_structure_or_dtype():
    _, f_vjp = vjp(lambda x: (np.sin(x), np.sum(x)), x3)
    with pytest.raises(
        ValueError,
        match=r"vjp: cotangent 0 has shape \(2,\) but the output it belongs to has shape \(3,\)",
    ):
        f_vjp((numpy.ones(2), 1.0))
    with pytest.raises(
        ValueError, match=r"vjp: the cotangent's structure .* differs from the output's"
    ):
        f_vjp(numpy.ones(3))
    with pytest.raises(TypeError, match="vjp: cotangent 1 is complex .* but its output is real"):
        f_vjp((numpy.ones(3), 1.0j))


def test_has_aux_misuse():
    with pytest.raises(
        TypeError,
        match=r"grad: has_aux=True needs the function to return a pair \(output, aux\), but it returned a float64",
    ):
        grad(lambda x: x * 2.0, has_aux=True)(1.0)
    with pytest.raises(TypeError, match="vjp: has_aux=True needs the function to return a pair"):
        vjp(lambda x: (x, x, x), 1.0, has_aux=True)
    # Forgetting has_aux on a function that returns a pair is not silently accepted either.
    with pytest.raises(TypeError, match="must return a scalar"):
        value_and_grad(lambda x: (x * 2.0, "aux"))(1.0)


def test_tree_map_mismatched_structures():
    with pytest.raises(ValueError, match="tree_map: mismatched pytree structures"):
        tree_map(lambda a, b: a + b, (1.0, 2.0), [1.0, 2.0])


def test_missing_rule_is_reported_in_every_mode():
    half = primitive(lambda x: x / 2, "half")
    defvjp(half, lambda ans, x: lambda g: g / 2)
    assert grad(half)(1.0) == 0.5
    with pytest.raises(
        NotDifferentiableError,
        match=r"half: no JVP \(forward mode\) rule for argument 0.*defjvp\(half",
    ):
        jvp(half, (1.0,), (1.0,))
    with pytest.raises(
        NotDifferentiableError, match=r"half: no JVP \(forward mode\) rule for argument 0"
    ):
        hessian(lambda x: np.sum(half(x) ** 2))(x3)


def test_operator_argument_checks():
    with pytest.raises(ValueError, match="jacfwd: the differentiated arguments hold no arrays"):
        jacfwd(lambda p: 1.0)((None, ()))
    with pytest.raises(ValueError, match="jacfwd: chunk_size=0 must be a positive integer or None"):
        jacfwd(np.sin, chunk_size=0)
    with pytest.raises(
        ValueError, match="grad_named: .* has no argument named 'z'; its arguments are"
    ):
        grad_named(lambda x, y: x * y, "z")
    with pytest.raises(
        TypeError, match="hessian_tensor_product: call it as h\\(\\*args, tensor\\)"
    ):
        hessian_tensor_product(np.sin)(1.0)
    with pytest.raises(
        TypeError, match="tensor_jacobian_product: call it as t\\(\\*args, tensor\\)"
    ):
        tensor_jacobian_product(np.sin)(1.0)


def test_check_grads_argument_errors():
    with pytest.raises(
        ValueError, match="check_grads: unknown mode 'backward'; use 'fwd' and/or 'rev'"
    ):
        check_grads(np.sin, modes=("backward",))
    with pytest.raises(ValueError, match="check_grads: order=0 must be a positive integer"):
        check_grads(np.sin, order=0)
    with pytest.raises(
        ValueError, match="check_grads: <lambda> has no floating-point or complex argument"
    ):
        check_grads(lambda n: n * 2.0)(3)


def test_out_argument_on_a_traced_value_is_refused_at_the_call():
    import numpy as onp

    import matdiff.numpy as mnp
    from matdiff import grad as _grad

    buf = onp.zeros(3)
    with pytest.raises(
        TypeError, match=r"sin: out= is not supported on a traced value.*y = sin\(x\)"
    ):
        _grad(lambda x: mnp.sum(mnp.sin(x, out=buf)))(onp.ones(3))
    assert not buf.any()
    assert mnp.sin(onp.ones(3), out=buf) is buf  # untraced calls keep NumPy's out=
