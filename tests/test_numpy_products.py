"""Products of matdiff.numpy: a spec table (values against NumPy, both modes to order 2),
complex conventions, the direct matmul VJP, einsum's parser, and error messages."""

from __future__ import annotations

import numpy as onp
import pytest
from test_numpy_shape import A, S, Z, run_spec, spec_id

import matdiff.numpy as np
from matdiff import grad, hessian, jacobian, vjp
from matdiff.core import ReverseTrace, backward_pass
from matdiff.numpy._wrap import all_wrapped
from matdiff.test_util import check_grads

PRODUCT_SPECS = [
    # matmul: every combination of 1-D, 2-D and batched operands, broadcasting batches.
    S("matmul", A(2, 3), A(3, 4)),
    S("matmul", A(3), A(3, 4)),
    S("matmul", A(2, 3), A(3)),
    S("matmul", A(3), A(3)),
    S("matmul", A(5, 2, 3), A(3, 4)),
    S("matmul", A(2, 3), A(5, 3, 4)),
    S("matmul", A(5, 1, 2, 3), A(4, 3, 2)),
    S("matmul", A(3), A(2, 3, 4)),
    S("matmul", A(2, 4, 3), A(3)),
    S("matmul", Z(2, 3), A(3, 2)),
    S("matmul", Z(3), Z(2, 3, 2)),
    # dot: scalars, vectors, matrices and N-D.
    S("dot", A(), A(2, 3)),
    S("dot", A(2, 3), A()),
    S("dot", A(3), A(3)),
    S("dot", A(2, 3), A(3, 4)),
    S("dot", A(3), A(3, 2)),
    S("dot", A(2, 3), A(3)),
    S("dot", A(2, 3, 4), A(4)),
    S("dot", A(2, 3, 4), A(5, 4, 2)),
    S("dot", A(3), A(2, 3, 4)),
    S("dot", Z(2, 3), Z(3)),
    S("vdot", A(3), A(3)),
    S("vdot", A(2, 3), A(3, 2)),
    S("vdot", Z(3), Z(3)),
    S("vdot", Z(2, 2), A(4)),
    S("inner", A(3), A(3)),
    S("inner", A(2, 3), A(4, 3)),
    S("inner", A(), A(2, 3)),
    S("inner", A(2, 5, 3), A(3)),
    S("outer", A(3), A(4)),
    S("outer", A(2, 2), A(3)),
    S("outer", Z(2), A(3)),
    S("tensordot", A(2, 3, 4), A(3, 4, 5)),
    S("tensordot", A(2, 3), A(3, 4), 1),
    S("tensordot", A(2, 3), A(4, 5), 0),
    S("tensordot", A(2, 3, 4), A(4, 2, 5), ([2, 0], [0, 1])),
    S("tensordot", A(2, 3, 4), A(4, 3, 2), ([-1, 0, 1], [0, 2, -2])),
    S("tensordot", A(3, 4), A(4, 3), axes=(1, 0)),
    S("tensordot", Z(2, 3), A(3, 2), 1),
    S("einsum", "ij,jk->ik", A(2, 3), A(3, 4)),
    S("einsum", "ij,jk", A(2, 3), A(3, 4)),
    S("einsum", "ba", A(2, 3)),
    S("einsum", "ii", A(3, 3)),
    S("einsum", "ii->i", A(3, 3)),
    S("einsum", "iji->j", A(3, 2, 3)),
    S("einsum", "iii,i->i", A(3, 3, 3), A(3)),
    S("einsum", "ij->", A(2, 3)),
    S("einsum", "ij,k->", A(3, 2), A(4)),
    S("einsum", "ij,ij->i", A(1, 3), A(2, 3)),
    S("einsum", "i,i", A(3), A(3)),
    S("einsum", "i,j->ij", A(3), A(4)),
    S("einsum", "...ij,...jk->...ik", A(5, 2, 3), A(3, 4)),
    S("einsum", "...ij,jk", A(2, 1, 3, 4), A(4, 5)),
    S("einsum", "i...,i...->...", A(2, 3), A(2, 1)),
    S("einsum", "ii,ij...->j...", A(3, 3), A(3, 4, 2)),
    S("einsum", "bij,bjk->bik", A(4, 2, 3), A(4, 3, 2)),
    S("einsum", "ij,jk,kl->il", A(2, 3), A(3, 4), A(4, 2), optimize=True),
    S("einsum", "ij,jk,kl->il", A(2, 3), A(3, 4), A(4, 2), optimize="greedy"),
    S("einsum", "ij,ij->ij", Z(2, 3), A(2, 3)),
    S("einsum", "Ab,bC->AC", A(2, 3), A(3, 4)),
    S("einsum", A(2, 3), [0, 1], A(3, 4), [1, 2], [0, 2]),
    S("einsum", A(2, 3), [0, Ellipsis], A(2), [0]),
    S("kron", A(2, 3), A(2, 2)),
    S("kron", A(3), A(2)),
    S("kron", A(2), A(2, 3)),
    S("kron", A(2, 1, 2), A(3, 2)),
    S("kron", A(), A(2)),
    S("cross", A(3), A(3)),
    S("cross", A(4, 3), A(3)),
    S("cross", A(2), A(2)),
    S("cross", A(4, 2), A(4, 3)),
    S("cross", A(3), A(5, 2)),
    S("cross", A(3, 4), A(4, 3), axisa=0),
    S("cross", A(3, 4), A(3, 4), axis=0),
    S("cross", A(2, 3), A(2, 3), axisc=0),
    S("cross", Z(3), A(3)),
    S("convolve", A(5), A(3)),
    S("convolve", A(3), A(6)),
    S("convolve", A(5), A(4), "same"),
    S("convolve", A(4), A(7), "same"),
    S("convolve", A(6), A(3), "valid"),
    S("convolve", A(2), A(5), "valid"),
    S("convolve", A(), A(3)),
    S("convolve", Z(4), A(2)),
    S("correlate", A(5), A(3)),
    S("correlate", A(3), A(5), "full"),
    S("correlate", A(6), A(4), "same"),
    S("correlate", Z(4), Z(3), "full"),
    S("polyval", A(4), A(2, 3)),
    S("polyval", A(1), A()),
    S("polyval", Z(3), A(3)),
]

PRODUCT_FUNCTIONS = (
    "dot vdot inner outer matmul tensordot einsum kron cross convolve correlate polyval".split()
)


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors are deprecated")
@pytest.mark.parametrize("spec", PRODUCT_SPECS, ids=spec_id)
def test_product(spec):
    run_spec(spec)


def test_table_covers_every_product():
    assert set(PRODUCT_FUNCTIONS) - {s.name for s in PRODUCT_SPECS} == set()
    for name in PRODUCT_FUNCTIONS:
        assert name in all_wrapped, name


def test_matmul_operator_and_reflected_with_plain_arrays():
    rng = onp.random.default_rng(0)
    B = rng.standard_normal((3, 3))
    check_grads(lambda x: B @ x @ B, order=2)(rng.standard_normal((3, 2)) @ onp.ones((2, 3)))
    check_grads(lambda x: x @ x, order=2)(rng.standard_normal((3, 3)))


def test_quadratic_form_gradient_and_hessian_are_textbook():
    # Matrix Cookbook (81) and (89): d(x'Ax)/dx = (A + A')x, Hessian A + A'.
    rng = onp.random.default_rng(1)
    Am, x = rng.standard_normal((3, 3)), rng.standard_normal(3)
    f = lambda x: x @ Am @ x
    onp.testing.assert_allclose(grad(f)(x), (Am + Am.T) @ x)
    onp.testing.assert_allclose(hessian(f)(x), Am + Am.T)


def test_complex_transpose_rules_do_not_conjugate():
    # autograd/JAX convention: the VJP of matmul is g @ y.T, without conjugation.
    rng = onp.random.default_rng(2)
    x = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    y = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    g = rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))
    _, f_vjp = vjp(np.matmul, x, y)
    gx, gy = f_vjp(g)
    onp.testing.assert_allclose(gx, g @ y.T)
    onp.testing.assert_allclose(gy, x.T @ g)


def test_vdot_conjugates_its_first_argument():
    a, b = onp.array([1j, 2.0]), onp.array([1j, 1.0 + 1j])
    assert complex(np.vdot(a, b)) == complex(onp.vdot(a, b))
    # d/db of vdot(a, b) = conj(a); a VJP with cotangent 1 returns it.
    _, f_vjp = vjp(lambda b: np.vdot(a, b), b)
    onp.testing.assert_allclose(f_vjp(1.0 + 0j)[0], onp.conj(a))


def test_real_operand_gets_a_real_cotangent():
    x = onp.ones((2, 3))
    y = onp.ones((3, 2)) * (1 + 2j)
    gx = grad(lambda x: np.real(np.sum(np.matmul(x, y))))(x)
    assert gx.dtype == onp.float64
    gx = grad(lambda x: np.real(np.sum(np.einsum("ij,jk", x, y))))(x)
    assert gx.dtype == onp.float64
    onp.testing.assert_allclose(gx, onp.full((2, 3), 2.0))


def _backward_functions(f, *args):
    """The primitives the backward pass of ``f`` runs, recorded by an outer reverse trace."""
    outer = ReverseTrace()
    boxes = [outer.leaf(a) for a in args]
    inner = ReverseTrace()
    leaves = [inner.leaf(b) for b in boxes]
    out = f(*leaves)
    n = len(outer.tape)
    backward_pass(inner, {out._node: onp.ones(onp.shape(out._value._value))})
    return [node.fun.__name__ for node in outer.tape[n:]]


@pytest.mark.parametrize("xs, ys", [((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,))])
def test_matmul_vjp_has_no_reshapes_in_the_common_cases(xs, ys):
    # One product per operand; a vector meets the cotangent in an outer product, which
    # takes one reshape of that vector into a column. No batch sums, no other reshapes.
    ran = _backward_functions(np.matmul, onp.ones(xs), onp.ones(ys))
    assert 1 <= ran.count("matmul") + ran.count("multiply") <= 2, ran
    assert set(ran) <= {"matmul", "multiply", "transpose", "reshape"}, ran
    assert ran.count("reshape") <= (len(xs) == 1 and len(ys) == 2), ran


def test_einsum_jacobian_of_trace_is_identity():
    onp.testing.assert_allclose(
        jacobian(lambda X: np.einsum("ii", X))(onp.ones((3, 3))), onp.eye(3)
    )


def test_untraced_products_are_numpys():
    a, b = onp.arange(6.0).reshape(2, 3), onp.arange(3.0)
    assert type(np.einsum("ij,j", a, b)) is onp.ndarray
    onp.testing.assert_array_equal(np.kron(a, a), onp.kron(a, a))
    onp.testing.assert_array_equal(np.cross(b, b + 1), onp.cross(b, b + 1))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: np.einsum("ij,jk", x, x, out=x), r"einsum: out= is not supported"),
        (lambda x: np.einsum("ij", x, casting="safe"), r"einsum: unsupported keyword"),
        (lambda x: np.einsum(x, [0, 99]), r"einsum: subscript 99 must be an int in \[0, 52\)"),
        (lambda x: np.cross(x, x), r"cross: vectors must have 2 or 3 components.*got 4 and 4"),
        (lambda x: np.outer(x, x, out=x), r"outer: out= is not supported"),
    ],
)
def test_product_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        grad(lambda x: np.sum(call(x)))(onp.ones((4, 4)))


def test_einsum_vjp_out_of_labels_says_so():
    # 27 labels, each repeated: the VJP needs 27 fresh labels and only 25 are left.
    spec = "".join(c + c for c in "abcdefghijklmnopqrstuvwxyzA") + "->"
    x = onp.ones((1,) * (len(spec) - 2))
    assert float(np.einsum(spec, x)) == 1.0
    with pytest.raises(ValueError, match=r"einsum: operand 0 repeats 27 labels.*only 25"):
        grad(lambda x: np.einsum(spec, x))(x)


def test_einsum_ellipsis_out_of_labels_says_so():
    import string

    spec = string.ascii_letters + "...->..."
    x = onp.ones((1,) * 53)
    with pytest.raises(ValueError, match=r"einsum: the broadcast dimensions \(\.\.\.\) need 1"):
        grad(lambda x: np.sum(np.einsum(spec, x)))(x)
