"""A derivative's compiled function under the numeric engine's transformations: vmap
batches it where its code is NumPy calls on the variables, and refuses, naming the way
out, where the code fills an array element by element."""

import numpy
import pytest

from matdiff import grad, vmap
from matdiff.symbolic import SymbolicError, derivative

W4 = "x'*A*x + sum(log(vector(1) + exp(B*x)))"
rng = numpy.random.default_rng(0)
A = rng.standard_normal((4, 4))
B = rng.standard_normal((6, 4))
XS = rng.standard_normal((5, 4))


@pytest.mark.parametrize("order", [1, 2], ids=["gradient", "hessian"])
def test_vmap_of_function_agrees_with_a_loop(order):
    f = derivative(W4, wrt="x", order=order).function()
    values, derivs = vmap(f, in_axes=(0, None, None))(XS, A, B)
    loop = [f(x, A, B) for x in XS]
    # Same operations on the same numbers, batched: only summation order may differ.
    numpy.testing.assert_allclose(values, [v for v, _ in loop], rtol=1e-13)
    numpy.testing.assert_allclose(derivs, numpy.stack([d for _, d in loop]), rtol=1e-13)
    assert numpy.shape(derivs) == (5,) + (4,) * order


def test_vmap_over_a_matrix_variable_and_by_keyword():
    f = derivative("norm2(T - U*V')^2", wrt="U", order=1).function()
    T, V = rng.standard_normal((3, 2)), rng.standard_normal((2, 4))
    Us = rng.standard_normal((5, 3, 4))
    _, derivs = vmap(lambda U: f(U=U, T=T, V=V))(Us)
    numpy.testing.assert_allclose(derivs, [f(U=U, T=T, V=V)[1] for U in Us], rtol=1e-13)


def test_grad_through_the_compiled_gradient():
    # The compiled gradient is ordinary NumPy code: grad of its sum is the Hessian's.
    g = derivative(W4, wrt="x", order=1).function()
    h = derivative(W4, wrt="x", order=2).function()
    x = XS[0]
    got = grad(lambda x: numpy.sum(g(x, A, B)[1]))(x)
    numpy.testing.assert_allclose(got, h(x, A, B)[1].sum(axis=0), rtol=1e-12)


def test_code_that_fills_an_array_is_refused_under_vmap():
    f = derivative("sum(exp(X))", wrt="X", order=2).function()
    with pytest.raises(
        SymbolicError,
        match=r"derivative of 'sum\(exp\(X\)\)': X is a traced value \(under vmap, grad or "
        r"jit\), but the generated code fills an array it allocates element by element",
    ):
        vmap(f)(numpy.ones((2, 3, 3)))
    # Called once per example, as the message says, it runs.
    assert f(numpy.ones((3, 3)))[1].shape == (3, 3, 3, 3)
