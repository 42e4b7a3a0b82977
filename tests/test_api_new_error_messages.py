"""Each error message the latest features added names the call and the way out: one row
per message, checked by its text (the older ones are in test_api_error_messages.py)."""

import re

import numpy as onp
import pytest

import matdiff.numpy as np
import matdiff.scipy.signal as msignal
import matdiff.scipy.stats as mstats
from matdiff import grad, jit
from matdiff.core import VSpace
from matdiff.scipy.linalg import solve_banded
from matdiff.tracer import Node, trace


class _Bare(Node):
    def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
        pass


class _BareSpace(VSpace):
    pass


ROWS = [
    (
        "node-without-initialize_root",
        lambda: trace(_Bare.new_root(1.0), lambda x: x * 2.0, 1.0),
        NotImplementedError,
        r"_Bare must define initialize_root\(self, \.\.\.\) to start a trace",
    ),
    (
        "space-without-basis",
        lambda: _BareSpace().standard_basis(),
        NotImplementedError,
        "_BareSpace defines no standard_basis",
    ),
    (
        "space-without-randn",
        lambda: _BareSpace().randn(),
        NotImplementedError,
        "_BareSpace defines no randn",
    ),
    (
        "space-without-inner-product",
        lambda: _BareSpace().inner_prod(1.0, 1.0),
        NotImplementedError,
        "_BareSpace defines no _inner_prod",
    ),
    (
        "space-without-flatten",
        lambda: _BareSpace().flatten(1.0),
        NotImplementedError,
        "_BareSpace defines no flatten",
    ),
    (
        "space-without-unflatten",
        lambda: _BareSpace().unflatten(onp.ones(1)),
        NotImplementedError,
        "_BareSpace defines no unflatten",
    ),
    (
        "grad-of-several-elements",
        lambda: grad(lambda x: x * 2.0)(onp.ones(2)),
        TypeError,
        r"must return a scalar \(or an array of one element\)",
    ),
    (
        "join-out",
        lambda: grad(lambda x: np.sum(np.stack([x, x], out=onp.zeros((2, 2)))))(onp.ones(2)),
        TypeError,
        r"stack: out= is not supported by matdiff\.numpy",
    ),
    (
        "convolve-unequal-axis-pairs",
        lambda: msignal.convolve(onp.ones((3, 3)), onp.ones((2, 2)), axes=([0, 1], [0])),
        ValueError,
        r"convolve: axes pairs .* unequal lengths",
    ),
    (
        "convolve-axis-out-of-range",
        lambda: msignal.convolve(onp.ones(3), onp.ones(2), axes=([1], [0])),
        ValueError,
        r"convolve: axes \[1\] out of range for in1 with 1 dimensions",
    ),
    (
        "convolve-dimensions-without-axes",
        lambda: msignal.convolve(onp.ones((3, 3)), onp.ones(2), axes=None, dot_axes=((), ())),
        ValueError,
        "without axes, in1 and in2 need the same number of dimensions",
    ),
    (
        "convolve-axis-twice",
        lambda: msignal.convolve(
            onp.ones((3, 3)), onp.ones((2, 3)), axes=([0], [0]), dot_axes=([0], [1])
        ),
        ValueError,
        "an axis is listed twice in axes and dot_axes",
    ),
    (
        "solve-banded-shape",
        lambda: grad(lambda b: np.sum(solve_banded((1, 1), onp.ones((3, 4)), b)))(onp.ones(3)),
        ValueError,
        r"solve_banded: b must have shape \(4,\) or \(4, k\)",
    ),
    (
        "jit-cache-size",
        lambda: jit(lambda x: x, cache_size=0),
        ValueError,
        r"jit: cache_size must be a positive integer \(compilations kept\), got 0",
    ),
]


@pytest.mark.parametrize("call, exc, match", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_new_error_messages(call, exc, match):
    with pytest.raises(exc) as info:
        call()
    assert re.search(match, str(info.value)), str(info.value)


def test_poisson_refuses_a_traced_loc_in_cdf_and_entropy():
    for f in (
        lambda loc: mstats.poisson.cdf(3.0, 2.0, loc),
        lambda loc: mstats.poisson.entropy(2.0, loc),
    ):
        with pytest.raises(Exception, match="loc") as info:
            grad(f)(0.0)
        assert "poisson" in str(info.value)
