"""The staged program: what staging records, how it prints, and running it again
(with derivatives) through ``eval_program``."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, stop_gradient
from matdiff.compile import Lit, Program, Var, eval_program, make_program
from matdiff.compile.codegen import generate
from matdiff.compile.ir import short_dtype
from matdiff.test_util import check_grads

A = onp.arange(9.0).reshape(3, 3) / 10.0


def test_print_one_equation_a_line():
    prog = make_program(lambda A, x: np.sum(np.tanh(A @ x) * 2.0, axis=0, keepdims=True))(
        A, onp.ones(3)
    )
    assert str(prog) == (
        "{ lambda a:f64[3,3], b:f64[3] .\n"
        "    c:f64[3] = matmul a b\n"
        "    d:f64[3] = tanh c\n"
        "    e:f64[3] = multiply d 2.0\n"
        "    f:f64[1] = sum e axis=0 keepdims=True\n"
        "  in (f) }"
    )


def test_print_literals_dtypes_and_many_names():
    def f(x, n):
        for _ in range(30):
            x = x + onp.float32(1.0)
        return x[::2] > onp.array([0.5, 1.5]), n * 2

    text = str(make_program(f)(onp.ones(4, dtype=onp.float32), 3))
    assert text.startswith("{ lambda a:f32[4], b:i64[] .")
    assert "add a 1.0" in text
    assert "aa:f32[4] = add" in text  # names go on past z
    assert "bool[2] = greater" in text and "f64[0.5,1.5]" in text
    assert "getitem" in text and "slice(None, None, 2)" in text


def test_short_dtypes():
    assert [short_dtype(onp.dtype(t)) for t in ("f8", "f4", "c16", "i4", "u1", "?")] == [
        "f64",
        "f32",
        "c128",
        "i32",
        "u8",
        "bool",
    ]


def test_staging_records_only_traced_work():
    c = onp.ones(3)

    def f(x):
        unrelated = np.exp(c) * 2.0  # constants only: computed once while staging
        return x * unrelated

    prog = make_program(f)(onp.zeros(3))
    assert [e.prim.__name__ for e in prog.eqns] == ["multiply"]
    assert type(prog.eqns[0].inputs[1]) is Lit


def test_masks_from_raw_numpy_are_recorded():
    prog = make_program(grad(lambda x: np.sum(np.abs(x) + np.maximum(x, 0.0))))(onp.ones(3))
    prims = [getattr(e.prim, "__name__", "") for e in prog.eqns]
    assert "sign" in prims and "greater" in prims and "equal" in prims
    at_other = onp.array([-1.0, 2.0, -3.0])
    onp.testing.assert_allclose(prog(at_other)[0], onp.sign(at_other) + (at_other > 0))


def test_program_runs_and_is_differentiable():
    def f(x):
        return np.sum(np.sin(A @ x) * x + np.where(x > 0.1, x**2, -x))

    prog = make_program(f)(onp.ones(3))
    x = onp.array([0.3, -0.2, 0.5])
    onp.testing.assert_allclose(prog(x)[0], f(x), rtol=1e-14)
    check_grads(lambda x: prog(x)[0], modes=("fwd", "rev"), order=2)(x)


def test_stop_gradient_survives_staging():
    def f(x):
        return np.sum(np.sin(x) * stop_gradient(x))

    prog = make_program(f)(onp.ones(3))
    assert "stop_gradient" in str(prog)
    x = onp.array([0.3, -0.2, 0.5])
    onp.testing.assert_allclose(grad(lambda x: prog(x)[0])(x), onp.cos(x) * x, rtol=1e-14)
    onp.testing.assert_allclose(grad(lambda x: prog(x)[0])(x), grad(f)(x), rtol=1e-14)


def test_eval_program_checks_arity():
    prog = make_program(lambda x, y: x + y)(1.0, 2.0)
    with pytest.raises(TypeError, match="takes 2 inputs, got 1"):
        eval_program(prog, 1.0)


def test_hand_built_program_generates_code():
    a = Var((2,), onp.float64)
    b = Var((2,), onp.float64)
    prog = Program([a], [onp.sin and _eqn(onp.sin, (a,), b)], [b, Lit(3.0)])
    src, fn = generate(prog)
    assert "np_sin(a)" in src
    out = fn(onp.zeros(2))
    onp.testing.assert_array_equal(out[0], onp.zeros(2))
    assert out[1] == 3.0


def _eqn(prim, inputs, out):
    from matdiff.compile import Eqn

    return Eqn(prim, inputs, {}, out)


def test_outputs_that_are_inputs_or_repeated():
    prog = make_program(lambda x: (x, x, np.sin(x)))(onp.zeros(2))
    assert prog.outvars[0] is prog.invars[0] and prog.outvars[1] is prog.invars[0]
