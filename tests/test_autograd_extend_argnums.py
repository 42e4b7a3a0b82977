"""autograd's rule definers that take the argument position (``defvjp_argnum``,
``defvjp_argnums``, ``defjvp_argnum``, ``defjvp_argnums``) and ``combo_check``, restated:
the same definitions give autograd's derivatives, checked numerically in both modes."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as np
from matdiff.extend import (
    def_linear,
    defjvp,
    defjvp_argnum,
    defjvp_argnums,
    defvjp,
    defvjp_argnum,
    defvjp_argnums,
    primitive,
)
from matdiff.test_util import check_grads, combo_check

autograd = pytest.importorskip("autograd")
import autograd.extend as a_extend  # noqa: E402
import autograd.numpy as anp  # noqa: E402

X, Y, Z = onp.array([0.3, -1.2]), onp.array([0.7, 0.4]), onp.array([1.5, -0.2])


def _f(x, y, z):
    return onp.sin(x) * y + z**2


# A rule for every position, by position: sin(x) y + z^2 has partials cos(x) y, sin(x), 2 z.
def _partial(np_, argnum, x, y, z):
    return [np_.cos(x) * y, np_.sin(x), 2.0 * z][argnum]


def _pair(definer_m, definer_a, rule_m, rule_a):
    ours, theirs = primitive(_f), a_extend.primitive(_f)
    definer_m(ours, rule_m)
    definer_a(theirs, rule_a)
    return ours, theirs


def _vjp_argnum(np_):
    return lambda i, ans, args, kw: lambda g: g * _partial(np_, i, *args)


def _vjp_argnums(np_):
    return lambda nums, ans, args, kw: lambda g: [g * _partial(np_, i, *args) for i in nums]


def _jvp_argnum(np_):
    return lambda i, g, ans, args, kw: g * _partial(np_, i, *args)


def _jvp_argnums(np_):
    def rule(nums, gs, ans, args, kw):
        return sum(g * _partial(np_, i, *args) for i, g in zip(nums, gs))

    return rule


def _loss(f, np_):
    return lambda x, y, z: np_.sum(f(x, y, z) ** 2)


@pytest.mark.parametrize(
    "which", ["defvjp_argnum", "defvjp_argnums"], ids=["defvjp_argnum", "defvjp_argnums"]
)
def test_vjp_definers_by_position_match_autograd(which):
    makers = {"defvjp_argnum": _vjp_argnum, "defvjp_argnums": _vjp_argnums}[which]
    ours, theirs = _pair(
        {"defvjp_argnum": defvjp_argnum, "defvjp_argnums": defvjp_argnums}[which],
        getattr(a_extend, which),
        makers(np),
        makers(anp),
    )
    for i in range(3):
        got = matdiff.grad(_loss(ours, np), argnums=i)(X, Y, Z)
        want = autograd.grad(_loss(theirs, anp), argnum=i)(X, Y, Z)
        onp.testing.assert_allclose(got, want, rtol=1e-14)
    check_grads(ours, modes=["rev"], order=2)(X, Y, Z)


@pytest.mark.parametrize(
    "which", ["defjvp_argnum", "defjvp_argnums"], ids=["defjvp_argnum", "defjvp_argnums"]
)
def test_jvp_definers_by_position_match_autograd(which):
    rules = {"defjvp_argnum": _jvp_argnum, "defjvp_argnums": _jvp_argnums}[which]
    ours, theirs = _pair(
        {"defjvp_argnum": defjvp_argnum, "defjvp_argnums": defjvp_argnums}[which],
        getattr(a_extend, which),
        rules(np),
        rules(anp),
    )
    from autograd.differential_operators import make_jvp

    v = onp.array([1.0, -2.0])

    def along(f, i):
        def line(t):
            a = [X, Y, Z]
            a[i] = a[i] + t * v
            return f(*a)

        return line

    for i in range(3):
        got = matdiff.jvp(along(ours, i), (0.0,), (1.0,))[1]
        want = make_jvp(along(theirs, i))(0.0)(1.0)[1]
        onp.testing.assert_allclose(got, want, rtol=1e-14)
    check_grads(ours, modes=["fwd"], order=2)(X, Y, Z)


def test_defvjp_argnum_without_nargs_serves_any_arity():
    total = primitive(lambda *xs: sum(xs))
    defvjp_argnum(total, lambda i, ans, args, kw: lambda g: g)
    assert matdiff.grad(lambda *xs: total(*xs), argnums=(0, 3))(1.0, 2.0, 3.0, 4.0) == (1.0, 1.0)
    # The nargs form keeps working.
    two = primitive(lambda x, y: x * y)
    defvjp_argnum(two, lambda i, ans, args, kw: lambda g: g * args[1 - i], 2)
    assert float(matdiff.grad(two, argnums=1)(2.0, 3.0)) == 2.0


def test_defvjp_argnums_rules_compose_with_defvjp_on_other_functions():
    cube = primitive(lambda x: x**3)
    defvjp(cube, lambda ans, x: lambda g: 3 * x**2 * g)
    mul = primitive(lambda x, y: x * y)
    defvjp_argnums(mul, lambda nums, ans, args, kw: lambda g: [g * args[1 - i] for i in nums])
    check_grads(lambda x, y: mul(cube(x), y), modes=["rev"], order=2)(0.7, -1.3)


# ---------------------------------------------------------------- combo_check


def test_combo_check_runs_check_grads_on_every_combination():
    seen = []

    def f(x, y, scale=1.0):
        seen.append((onp.shape(x), onp.shape(y), scale))
        return np.sin(x) * y * scale

    combo_check(f, [0, 1], modes=["rev"], order=1)(
        [0.5, onp.ones(2)], [1.5, onp.ones(2)], scale=[1.0, 2.0]
    )
    combos = {(sx, sy, s) for sx, sy, s in seen}
    assert combos == {(a, b, s) for a in [(), (2,)] for b in [(), (2,)] for s in (1.0, 2.0)}


def test_combo_check_fails_like_check_grads():
    bad = primitive(lambda x: x**2)
    defvjp(bad, lambda ans, x: lambda g: g * x)  # half the true derivative
    with pytest.raises(AssertionError):
        combo_check(bad, modes=["rev"], order=1)([onp.array([1.0, 2.0])])


def test_a_rule_set_later_replaces_one_position_of_a_rule_for_every_position():
    # defvjp after defvjp_argnum (no arity) used to fail with an IndexError
    mul = primitive(lambda x, y: x * y)
    defvjp_argnum(mul, lambda i, ans, args, kw: lambda g: g * args[1 - i])
    defvjp(mul, lambda ans, x, y: lambda g: 10.0 * g * y)
    assert [float(d) for d in matdiff.grad(mul, argnums=(0, 1))(2.0, 3.0)] == [30.0, 2.0]
    lin = primitive(lambda x, y: x * y)  # linear in each argument
    def_linear(lin)
    defjvp(lin, lambda g, ans, x, y: 2.0 * g)
    assert float(matdiff.jvp(lambda x: lin(x, 1.0), (1.0,), (1.0,))[1]) == 2.0
    assert float(matdiff.jvp(lambda y: lin(1.0, y), (1.0,), (1.0,))[1]) == 1.0
