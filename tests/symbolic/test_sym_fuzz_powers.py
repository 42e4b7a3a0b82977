"""Property tests for powers with a variable exponent and for Hessians of arrays.

Random well-typed expressions (those of ``test_sym_fuzz``) are raised to variable powers
over a positive base; each is printed and parsed back, and differentiated to the first and
second order, every result checked numerically.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_sym_fuzz import CHECKED, KINDS, _exprs

from matdiff import symbolic as sym
from matdiff.symbolic import SymbolicError


def _powers():
    """(scalar, vector) texts with a variable exponent over a positive base."""
    parts = _exprs(2)
    s = parts.map(lambda t: t[0])
    v = parts.map(lambda t: t[1])
    scalar = st.one_of(
        st.builds("exp({})^({})".format, s, s),
        st.builds("sum(exp({}).^({}))".format, v, v),
        st.builds("sum(2.^({}))".format, v),
        st.builds("(1 + ({})^2)^({})".format, s, s),
    )
    vector = st.one_of(
        st.builds("exp({}).^({})".format, v, v),
        st.builds("(1 + ({})^2).^({})".format, s, v),
        st.builds("exp({}).^sin({})".format, v, s),
        st.builds("({})*exp({}).^({})".format, s, v, s),
    )
    return st.tuples(scalar, vector)


def _check(text, wrt, order):
    try:
        d = sym.derivative(text, wrt=wrt, order=order, kinds=KINDS, dims={"n": 3})
    except SymbolicError as err:
        assert "cannot write the derivative" in err.message, err.message
        return
    try:
        d.check(seed=0, sizes={"n": 3})
    except SymbolicError as err:
        assert "finite value" in err.message or "cannot be inferred" in err.message


@CHECKED
@given(_powers(), st.sampled_from([1, 2]))
def test_variable_powers_differentiate_correctly(parts, order):
    for text in parts:
        names = sym.parse(text, KINDS, _with_info=True).variables
        for wrt in [v for v in ("x", "A", "a", "b") if v in names]:
            _check(text, wrt, order)


@CHECKED
@given(_exprs(2))
def test_vector_and_matrix_expressions_have_hessians(parts):
    for text in parts[1:]:
        names = sym.parse(text, KINDS, _with_info=True).variables
        for wrt in [v for v in ("x", "a", "A") if v in names]:
            _check(text, wrt, 2)


@CHECKED
@given(_powers())
def test_printed_powers_parse_back(parts):
    rng = np.random.default_rng(0)
    values = {
        "a": 0.7,
        "b": -0.4,
        "x": rng.normal(size=3),
        "y": rng.normal(size=3),
        "A": rng.normal(size=(3, 3)),
        "B": rng.normal(size=(3, 3)),
        "S": np.eye(3) + 0.1,
    }
    for text in parts:
        printed = str(sym.parse(text, KINDS))
        # a product with a sum can take one more round to its canonical sign
        # (((x) - (A*x))'*x prints as x'*(x - A*x), which parses as -x'*(A*x - x)),
        # after which the text is a fixed point
        again = str(sym.parse(printed, KINDS))
        assert str(sym.parse(again, KINDS)) == again
        try:
            f1 = sym.lambdify(text, KINDS, dims={"n": 3})
            f2 = sym.lambdify(printed, KINDS, dims={"n": 3})
        except SymbolicError as err:
            assert "cannot be inferred" in err.message
            continue
        names = sym.parse(text, KINDS, _with_info=True).variables
        names2 = sym.parse(printed, KINDS, _with_info=True).variables
        with np.errstate(all="ignore"):
            v1 = f1(**{k: values[k] for k in names})
            v2 = f2(**{k: values[k] for k in names2})
        assert np.allclose(v1, v2, equal_nan=True), (text, printed)
