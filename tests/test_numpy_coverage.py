"""Coverage: no wrapped function without rules, no listed name missing or untested.

* Every function exported through ``matdiff.numpy._wrap.all_wrapped`` is a primitive
  with VJP *and* JVP rules for each differentiable argument, a function declared
  non-differentiable, or a composite written in matdiff over such functions.
* Every elementwise function and reduction that issue 2 lists exists as matdiff's own
  wrapper (not NumPy's, reached by the module's fall-through), is reached from the raw
  NumPy callable, and has a row in the gradient tables.
* The non-differentiable functions work on traced values and return constants.
"""

from __future__ import annotations

import inspect

import numpy as onp
import pytest
import test_numpy_reductions
import test_numpy_ufuncs

import matdiff.numpy as np
from matdiff import grad, jvp
from matdiff.core import _MISSING, defjvp, defvjp, jvp_rules, vjp_rules
from matdiff.numpy._wrap import all_wrapped, wrapped_for
from matdiff.test_util import check_grads
from matdiff.tracer import primitive

UFUNCS = """
add subtract multiply divide true_divide negative positive reciprocal power float_power
square sqrt cbrt mod remainder fmod exp exp2 expm1 log log2 log10 log1p logaddexp
logaddexp2 sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh hypot
arctan2 sinc deg2rad rad2deg radians degrees abs absolute fabs sign maximum minimum fmax
fmin clip where real imag conj conjugate angle
""".split()

REDUCTIONS = """
sum mean prod max min amax amin var std cumsum cumprod nansum nanmean nanvar nanstd
average median ptp
""".split()

NONDIFFERENTIABLE = """
floor ceil round around rint trunc fix argmax argmin argsort nonzero flatnonzero
searchsorted count_nonzero equal not_equal greater greater_equal less less_equal
logical_and logical_or logical_not logical_xor isnan isfinite isinf isclose allclose
array_equal signbit floor_divide zeros_like ones_like empty_like any all
isposinf isneginf iscomplex isreal array_equiv argwhere argpartition nanargmax nanargmin
digitize lexsort spacing tril_indices_from triu_indices_from diag_indices_from
""".split()


def _finite_len(table):
    # Linear and variadic tables (def_linear, stack) cover every position: they say
    # nothing about which positions are differentiable, so they count as empty here.
    return len(table) if len(table) < 1 << 20 else 0


def _defined(table, i):
    return i < len(table) and table[i] is not _MISSING


def rule_problems(functions: dict) -> list[str]:
    """What is wrong with the rules of ``functions`` (name -> wrapper); empty if nothing."""
    problems = []
    for name, f in sorted(functions.items()):
        if getattr(f, "_nondifferentiable", False):
            continue
        if not getattr(f, "_is_primitive", False):
            module = getattr(f, "__module__", "") or ""
            # Index tricks (r_, c_) are objects whose __getitem__ is the composite.
            composite = inspect.isfunction(f) or inspect.isfunction(
                getattr(type(f), "__getitem__", None)
            )
            if not (composite and module.startswith("matdiff")):
                problems.append(f"{name}: neither a primitive, a declaration, nor a composite")
            continue
        vjps, jvps = vjp_rules.get(f), jvp_rules.get(f)
        if vjps is None or jvps is None:
            missing = " and ".join(m for m, t in (("VJP", vjps), ("JVP", jvps)) if t is None)
            problems.append(f"{name}: no {missing} rules")
            continue
        nin = getattr(getattr(f, "fun", None), "nin", 1)
        # A whole-table rule (def_linear) says nothing about which positions are zero.
        whole = (len(vjps) >= 1 << 20) + (len(jvps) >= 1 << 20)
        for i in range(max(nin, _finite_len(vjps), _finite_len(jvps))):
            has_vjp, has_jvp = _defined(vjps, i), _defined(jvps, i)
            if i < nin and not (has_vjp and has_jvp):
                problems.append(f"{name}: argument {i} lacks a {'JVP' if has_vjp else 'VJP'}")
            elif has_vjp != has_jvp:
                problems.append(f"{name}: argument {i} has a VJP or a JVP but not both")
            elif has_vjp and whole == 0 and (vjps[i] is None) != (jvps[i] is None):
                problems.append(f"{name}: argument {i} is zero in one mode only")
    return problems


def test_every_wrapped_function_has_both_rules_or_is_declared():
    assert rule_problems(all_wrapped) == []


def test_the_coverage_check_catches_missing_rules():
    only_vjp = primitive(lambda x: x, "only_vjp")
    defvjp(only_vjp, lambda ans, x: lambda g: g)
    nothing = primitive(lambda x: x, "nothing")
    half = primitive(onp.add, "half")  # a binary ufunc with rules for argument 0 only
    defvjp(half, lambda ans, x, y: lambda g: g)
    defjvp(half, lambda g, ans, x, y: g)
    mixed = primitive(lambda x: x, "mixed")
    defvjp(mixed, None)
    defjvp(mixed, lambda g, ans, x: g)
    problems = rule_problems(
        {"only_vjp": only_vjp, "nothing": nothing, "half": half, "mixed": mixed, "raw": onp.sin}
    )
    assert problems == [
        "half: argument 1 lacks a VJP",
        "mixed: argument 0 is zero in one mode only",
        "nothing: no VJP and JVP rules",
        "only_vjp: no JVP rules",
        "raw: neither a primitive, a declaration, nor a composite",
    ]


OTHERS = ["full_like"]


@pytest.mark.parametrize("name", UFUNCS + REDUCTIONS + NONDIFFERENTIABLE + OTHERS)
def test_listed_name_is_matdiffs_own(name):
    # hasattr would be fooled by the fall-through to NumPy; all_wrapped is not.
    assert name in all_wrapped, f"matdiff.numpy.{name} falls through to NumPy"
    assert getattr(np, name) is all_wrapped[name]


@pytest.mark.parametrize("name", UFUNCS + REDUCTIONS + NONDIFFERENTIABLE + OTHERS)
def test_raw_numpy_callable_reaches_the_wrapper(name):
    # numpy.sin(traced) goes through __array_ufunc__ / __array_function__ to wrapped_for.
    assert wrapped_for.get(getattr(onp, name)) is all_wrapped[name]


@pytest.mark.parametrize("name", NONDIFFERENTIABLE)
def test_nondifferentiable_is_declared(name):
    assert getattr(all_wrapped[name], "_nondifferentiable", False)


def test_differentiable_names_have_gradient_table_rows():
    tested = {o.name for o in test_numpy_ufuncs.OPS} | {
        r.name for r in test_numpy_reductions.REDUCTIONS
    }
    assert sorted(set(UFUNCS + REDUCTIONS) - tested) == []


# ---------------------------------------------------------------- non-differentiable

X = onp.array([[0.5, -1.5, 2.0], [0.0, 3.25, -0.75]])
SORTED = onp.array([-1.0, 0.0, 1.0, 2.5])
INFS = onp.array([[onp.inf, 0.0, -onp.inf], [0.0, -onp.inf, 0.0]])

# name -> a call on a traced x (and the same call on plain x gives the expected value)
CALLS = {
    "floor": lambda x: np.floor(x),
    "ceil": lambda x: np.ceil(x),
    "round": lambda x: np.round(x, 1),
    "around": lambda x: np.around(x),
    "rint": lambda x: np.rint(x),
    "trunc": lambda x: np.trunc(x),
    "fix": lambda x: np.fix(x),
    "argmax": lambda x: np.argmax(x, axis=1),
    "argmin": lambda x: np.argmin(x),
    "argsort": lambda x: np.argsort(x, axis=-1),
    "nonzero": lambda x: np.nonzero(x)[1],
    "flatnonzero": lambda x: np.flatnonzero(x),
    "searchsorted": lambda x: np.searchsorted(SORTED, x[1]),
    "count_nonzero": lambda x: np.count_nonzero(x, axis=0),
    "equal": lambda x: np.equal(x, 0.5),
    "not_equal": lambda x: np.not_equal(x, x),
    "greater": lambda x: np.greater(x, 0.0),
    "greater_equal": lambda x: np.greater_equal(0.0, x),
    "less": lambda x: np.less(x, 1.0),
    "less_equal": lambda x: np.less_equal(x, x),
    "logical_and": lambda x: np.logical_and(x, x > 1),
    "logical_or": lambda x: np.logical_or(x, x > 1),
    "logical_not": lambda x: np.logical_not(x),
    "logical_xor": lambda x: np.logical_xor(x, x > 1),
    "any": lambda x: np.any(x > 3.0),
    "all": lambda x: np.all(x > -2.0, axis=0),
    "isnan": lambda x: np.isnan(x),
    "isfinite": lambda x: np.isfinite(x),
    "isinf": lambda x: np.isinf(x),
    "isclose": lambda x: np.isclose(x, 0.5),
    "allclose": lambda x: np.allclose(x, x),
    "array_equal": lambda x: np.array_equal(x, x),
    "signbit": lambda x: np.signbit(x),
    "floor_divide": lambda x: np.floor_divide(x, 0.5),
    "zeros_like": lambda x: np.zeros_like(x),
    "ones_like": lambda x: np.ones_like(x),
    "empty_like": lambda x: np.empty_like(x).shape,
    "isposinf": lambda x: np.isposinf(x + INFS),
    "isneginf": lambda x: np.isneginf(x + INFS),
    "iscomplex": lambda x: np.iscomplex(x),
    "isreal": lambda x: np.isreal(x),
    "array_equiv": lambda x: np.array_equiv(x, x[0]),
    "argwhere": lambda x: np.argwhere(x > 0.0),
    "argpartition": lambda x: np.argpartition(x, 1, axis=1),
    "nanargmax": lambda x: np.nanargmax(x, axis=0),
    "nanargmin": lambda x: np.nanargmin(x),
    "digitize": lambda x: np.digitize(x, SORTED),
    "lexsort": lambda x: np.lexsort(x),
    "spacing": lambda x: np.spacing(x),
    "tril_indices_from": lambda x: np.tril_indices_from(x[:, :2])[1],
    "triu_indices_from": lambda x: np.triu_indices_from(x[:, 1:], k=1)[0],
    "diag_indices_from": lambda x: np.diag_indices_from(x[:, :2])[0],
}


def test_every_nondifferentiable_name_has_a_call():
    assert sorted(CALLS) == sorted(NONDIFFERENTIABLE)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_nondifferentiable_on_traced_values(name):
    seen = {}

    def f(x):
        out = CALLS[name](x)
        seen["out"] = out
        # onp.asarray raises on a traced value, so this also proves the result is constant
        return np.sum(x * onp.sum(onp.asarray(out, dtype=float)))

    g = grad(f)(X)
    expected = CALLS[name](X)
    onp.testing.assert_array_equal(onp.asarray(seen["out"]), onp.asarray(expected))
    onp.testing.assert_array_equal(g, onp.full(X.shape, onp.sum(onp.asarray(expected, float))))
    # forward mode: the answer of a non-differentiable function is never traced
    _, t = jvp(lambda x: np.sum(onp.asarray(CALLS[name](x), dtype=float)), (X,), (X,))
    assert t == 0.0


def test_full_like_differentiates_its_fill_value_only():
    # full_like reads only the shape and dtype of x, but a traced fill value is the value
    # of every entry: dropping its derivative would be a silent zero.
    x = onp.array([[1.0, 2.0], [3.0, 4.0]])
    assert grad(lambda v: np.sum(np.full_like(x, v) * x))(2.0) == 10.0
    assert jvp(lambda v: np.sum(np.full_like(x, v)), (2.0,), (1.0,))[1] == 4.0
    onp.testing.assert_array_equal(grad(lambda a: np.sum(np.full_like(a, 3.0) * a))(x), 3.0)
    check_grads(lambda v, a: np.full_like(a, v) * a, order=2)(onp.array(1.5), x)
    assert np.full_like(onp.array([1, 2]), 2.7).dtype == onp.int64  # NumPy's casting
