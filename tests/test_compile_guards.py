"""Guards: a derivative rule may branch on a value for speed; staging takes the example's
branch, checks it at run time, and falls back to the original function when it differs."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad
from matdiff.compile import StagingError, eval_program, jit, make_program
from matdiff.compile.codegen import generate
from matdiff.compile.ir import GuardFailed
from matdiff.compile.passes import dce, optimize
from matdiff.extend import branch, defjvp, defvjp, getval, primitive


# A rule that branches on a mask computed from the traced value, saying so with branch().
def safe_log_grad(x, g):
    zero = onp.equal(getval(x), 0.0)
    if branch(onp.any(zero)):
        return g / onp.where(zero, 1.0, getval(x)) * onp.logical_not(zero)
    return g / x


safe_log = primitive(lambda x: onp.log(onp.where(x == 0.0, 1.0, x)), "safe_log")
defvjp(safe_log, lambda ans, x: lambda g: safe_log_grad(x, g))
defjvp(safe_log, lambda g, ans, x: safe_log_grad(x, g))


def loss(x):
    return np.sum(safe_log(x) * x)


def eager_grad(x):
    return grad(loss)(x)


X = onp.array([0.5, 2.0, 3.0])
Z = onp.array([0.0, 2.0, 3.0])


def test_guard_holds_then_falls_back():
    g = jit(grad(loss))
    onp.testing.assert_allclose(g(X), eager_grad(X), rtol=1e-14)
    assert g.fallback_count == 0
    assert "if " in g.source and "return np_fallback(a)" in g.source
    onp.testing.assert_allclose(g(Z), eager_grad(Z), rtol=1e-14)
    assert g.fallback_count == 1 and g.trace_count == 1
    onp.testing.assert_allclose(g(X * 2.0), eager_grad(X * 2.0), rtol=1e-14)
    assert g.fallback_count == 1


def test_traced_calls_run_the_function_itself():
    # Under an enclosing grad the jitted function runs traced, as without jit: no guard.
    jg = jit(grad(loss))
    jg(X)
    hess_diag = grad(lambda x: np.sum(jg(x)))
    onp.testing.assert_allclose(hess_diag(Z), grad(lambda x: np.sum(eager_grad(x)))(Z))
    assert jg.fallback_count == 0 and jg.trace_count == 1


def test_program_with_a_guard_runs_and_checks_it():
    prog = optimize(make_program(grad(loss))(X))
    onp.testing.assert_allclose(eval_program(prog, X)[0], eager_grad(X), rtol=1e-14)
    with pytest.raises(GuardFailed, match="differs now"):
        eval_program(prog, Z)


def test_guards_survive_dead_code_elimination():
    prog = make_program(grad(loss))(X)
    assert any(getattr(e.prim, "__name__", "") == "guard" for e in dce(prog).eqns)
    assert any(getattr(e.prim, "__name__", "") == "guard" for e in optimize(prog).eqns)


def test_generated_code_without_a_fallback_raises():
    src, fn = generate(optimize(make_program(grad(loss))(X)))
    onp.testing.assert_allclose(fn(X)[0], eager_grad(X), rtol=1e-14)
    with pytest.raises(GuardFailed, match="no fallback was given"):
        fn(Z)


def test_user_code_branching_is_still_refused():
    def f(x):
        if np.any(getval(x) > 1.0):  # the user's own branch on data
            return x
        return -x

    with pytest.raises(StagingError, match="truth value"):
        jit(f)(X)


def test_power_with_traced_exponent_including_zero_to_the_zero():
    f = lambda x, y: np.sum(x**y)
    g = jit(grad(f, argnums=(0, 1)))
    x, y = onp.array([0.5, 2.0]), onp.array([1.5, 0.5])
    for a, b in zip(g(x, y), grad(f, argnums=(0, 1))(x, y)):
        onp.testing.assert_allclose(a, b, rtol=1e-14)
    x0, y0 = onp.array([0.0, 2.0]), onp.array([0.0, 0.5])
    for a, b in zip(g(x0, y0), grad(f, argnums=(0, 1))(x0, y0)):
        onp.testing.assert_allclose(a, b, rtol=1e-14)


def test_a_rule_that_branches_without_branch_is_refused_with_the_way_out():
    def careless_grad(x, g):
        if onp.any(onp.equal(getval(x), 0.0)):
            return g * 0.0
        return g / x

    careless_log = primitive(lambda x: onp.log(x), "careless_log")
    defvjp(careless_log, lambda ans, x: lambda g: careless_grad(x, g))
    onp.testing.assert_allclose(grad(lambda x: np.sum(careless_log(x)))(X), 1 / X)
    with pytest.raises(
        StagingError, match=r"truth value \(bool\).*np\.where.*extend\.branch\(cond\)"
    ):
        jit(grad(lambda x: np.sum(careless_log(x))))(X)
