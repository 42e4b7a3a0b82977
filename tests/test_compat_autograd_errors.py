"""Bad input to the functions added for autograd compatibility: each error names the
function, the argument and the way out. Every call runs on a traced value, inside grad.
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad

XP = onp.array([0.0, 1.0, 2.0])

ERRORS = [
    (
        lambda x: np.rollaxis(x, 0, 5),
        ValueError,
        r"rollaxis: start=5 is out of range.*-2 <= start <= 2",
    ),
    (lambda x: np.diff(x, -1), ValueError, r"diff: order n must be non-negative, got -1"),
    (lambda x: np.diff(x[0, 0]), ValueError, r"diff: needs an array of at least 1 dimension"),
    (
        lambda x: np.diff(x, prepend=onp.ones(2)),
        ValueError,
        r"diff: prepend must be a scalar or have as many dimensions as the array \(2\), got 1",
    ),
    (
        lambda x: np.gradient(x, edge_order=3),
        ValueError,
        r"gradient: edge_order must be 1 or 2, got 3",
    ),
    (
        lambda x: np.gradient(x, edge_order=2),
        ValueError,
        r"gradient: axis 0 has 2 entries, too few for edge_order=2; it needs at least 3",
    ),
    (
        lambda x: np.gradient(x, 1.0, 2.0, 3.0),
        TypeError,
        r"gradient: got 3 spacing arguments for 2 axes; pass none, one scalar",
    ),
    (
        lambda x: np.gradient(x, onp.ones(5), axis=0),
        ValueError,
        r"gradient: the spacing for axis 0 must be a scalar or a 1-D array of length 2",
    ),
    (lambda x: np.make_diagonal(x[0, 0]), ValueError, r"make_diagonal: D must have at least 1"),
    (
        lambda x: np.make_diagonal(x, axis1=1, axis2=-2),
        ValueError,
        r"make_diagonal: axis1 and axis2 must be different",
    ),
    (lambda x: np.convolve(x, x[0]), ValueError, r"convolve: a must be 1-D, got shape \(2, 2\)"),
    (lambda x: np.convolve(x[0], x[0, :0]), ValueError, r"convolve: v cannot be empty"),
    (
        lambda x: np.correlate(x[0], x[1], mode="circular"),
        ValueError,
        r"correlate: mode must be 'full', 'same' or 'valid', got 'circular'",
    ),
    (
        lambda x: np.interp(x, XP, XP, period=1.0),
        NotImplementedError,
        r"interp: period= is not supported with traced arguments.*np\.mod",
    ),
    (
        lambda x: np.interp(x, XP, x[0]),
        ValueError,
        r"interp: xp and fp must be 1-D arrays of the same length, got shapes \(3,\) and \(2,\)",
    ),
    (
        lambda x: np.interp(x, XP[:0], x[0, :0]),
        ValueError,
        r"interp: xp and fp are empty; give at least one sample point",
    ),
    (
        lambda x: np.cumulative_sum(x),
        ValueError,
        r"cumulative_sum: axis must be given for an array of 2 dimensions; pass axis=k",
    ),
    (
        lambda x: np.cumulative_prod(x[0, 0]),
        ValueError,
        r"cumulative_prod: needs an array of at least 1 dimension, got a scalar",
    ),
    (lambda x: np.trapezoid(x[0, 0]), ValueError, r"trapezoid: y must have at least 1 dimension"),
    (
        lambda x: np.linspace(x[0, 0], x[1, 1], -1),
        ValueError,
        r"linspace: num must be non-negative",
    ),
    (
        lambda x: np.meshgrid(x[0], x[1], indexing="yx"),
        ValueError,
        r"meshgrid: indexing must be 'xy' or 'ij', got 'yx'",
    ),
    (
        lambda x: np.nanmax(x, out=onp.zeros(())),
        TypeError,
        r"nanmax: out= is not supported.*use the returned value",
    ),
    (
        lambda x: np.nancumsum(x, out=onp.zeros(4)),
        TypeError,
        r"nancumsum: out= is not supported.*use the returned value",
    ),
    (
        lambda x: np.geomspace(x[0, 0], 0.0 * x[1, 1], 3),
        ValueError,
        r"geomspace: .*cannot include zero",
    ),
    (
        lambda x: np.geomspace(x[0, 0], -x[1, 1], 3),
        ValueError,
        r"geomspace: start and stop must have the same sign",
    ),
    (
        lambda x: np.geomspace(x[0, 0] * 1j, x[1, 1], 3),
        NotImplementedError,
        r"geomspace: complex end points.*np\.exp\(np\.linspace",
    ),
    (lambda x: np.vander(x), ValueError, r"vander: x must be 1-D, got shape \(2, 2\)"),
    (
        lambda x: np.piecewise(x, [x > 0], [np.sin, np.cos, np.tan]),
        ValueError,
        r"piecewise: got 1 conditions and 3 functions; pass one function \(or value\) per",
    ),
    (
        lambda x: np.resize(x, (2, -1)),
        ValueError,
        r"resize: all dimensions of new_shape must be non-negative, got \(2, -1\)",
    ),
    (
        lambda x: np.quantile(x, 0.5, method="nearest"),
        NotImplementedError,
        r"quantile: only method='linear' without weights is differentiable.*np\.sort",
    ),
    (lambda x: np.quantile(x, 1.5), ValueError, r"quantile: q must be in \[0, 1\], got 1\.5"),
    (
        lambda x: np.cov(x, fweights=onp.array([1.5, 1.0])),
        ValueError,
        r"cov: fweights must be 1-D non-negative integers of length 2",
    ),
    (
        lambda x: np.cov(x, aweights=onp.ones(3)),
        ValueError,
        r"cov: aweights must be 1-D of length 2 \(one per observation\), got shape \(3,\)",
    ),
    (lambda x: np.cov(x, aweights=-x[0]), ValueError, r"cov: aweights cannot be negative"),
    (
        lambda x: np.cov(x, ddof=2),
        ValueError,
        r"cov: the degrees of freedom are 0 .*ddof=2.*smaller ddof",
    ),
    (
        lambda x: np.c_["r", x, x],
        ValueError,
        r"c_: string directives \('r'\) are not supported with traced values",
    ),
]


@pytest.mark.parametrize(
    "call, exc, match", ERRORS, ids=[e[2].split(":")[0] + f"-{i}" for i, e in enumerate(ERRORS)]
)
def test_error_names_the_function_and_the_fix(call, exc, match):
    with pytest.raises(exc, match=match):
        grad(lambda x: np.sum(call(x)))(onp.ones((2, 2)))


def test_all_nan_slice_has_nan_extremum_and_no_derivative():
    x = onp.array([[onp.nan, onp.nan], [1.0, 3.0]])
    with pytest.warns(RuntimeWarning):
        expected = onp.nanmax(x, axis=1)
    onp.testing.assert_array_equal(np.nanmax(x, axis=1), expected)
    g = grad(lambda v: np.nansum(np.nanmax(v, axis=1)))(x)
    onp.testing.assert_array_equal(g, [[0.0, 0.0], [0.0, 1.0]])
