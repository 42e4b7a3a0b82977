"""``matdiff.scipy.optimize``: ``scipy.optimize.minimize`` with matdiff's derivatives.

``minimize`` passes the gradient as ``jac`` (value and gradient in one reverse pass),
and, for the methods that use second-order information, Hessian-vector products
(forward-over-reverse, never forming the Hessian) as ``hessp`` or the Hessian as
``hess``. Parameters may be any pytree of arrays: they are flattened into one vector for
SciPy and the result's ``x`` is restored to the structure of ``x0``.

>>> import matdiff.numpy as np
>>> res = minimize(lambda p: np.sum((p["a"] - 3.0) ** 2) + p["b"] ** 2,
...                {"a": np.zeros(2), "b": 1.0}, method="Newton-CG")
>>> res.x["a"].round(6), round(float(res.x["b"]), 6)
(array([3., 3.]), 0.0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as _np
import scipy.optimize as _opt

from .. import numpy as _mnp
from ..differential_operators import hessian, hvp, value_and_grad
from ..tracer import getval
from ..tree import tree_flatten, tree_unflatten

__all__ = ["minimize"]

# Methods that use the gradient; the others (Nelder-Mead, Powell, COBYLA, COBYQA) would
# warn if given one.
_USES_JAC = {
    "cg",
    "bfgs",
    "newton-cg",
    "l-bfgs-b",
    "tnc",
    "slsqp",
    "dogleg",
    "trust-ncg",
    "trust-krylov",
    "trust-exact",
    "trust-constr",
}
# Methods that accept Hessian-vector products: given those, the Hessian is never formed.
_USES_HESSP = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
# Methods that need the full Hessian.
_USES_HESS = {"dogleg", "trust-exact"}


class _Flattener:
    """Maps a pytree of arrays to one float vector and back (traced or not)."""

    def __init__(self, tree: Any) -> None:
        leaves, self.treedef = tree_flatten(tree)
        for i, x in enumerate(leaves):
            if _np.iscomplexobj(getval(x)):
                raise TypeError(
                    f"minimize: leaf {i} of x0 is complex; scipy.optimize.minimize works on "
                    "real parameters. Split it into real and imaginary parts."
                )
        self.shapes = [_np.shape(getval(x)) for x in leaves]
        self.sizes = [int(_np.prod(s)) for s in self.shapes]
        dtype = _np.result_type(float, *[getval(x) for x in leaves])
        parts = [_np.ravel(_np.asarray(getval(x), dtype=dtype)) for x in leaves]
        self.flat = _np.concatenate(parts) if parts else _np.zeros(0)

    def unflatten(self, flat) -> Any:
        leaves, start = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            piece = _mnp.getitem(flat, slice(start, start + size))
            leaves.append(_mnp.reshape(piece, shape))
            start += size
        return tree_unflatten(self.treedef, leaves)

    def flatten(self, tree) -> _np.ndarray:
        leaves = tree_flatten(tree)[0]
        parts = [_np.ravel(_np.asarray(getval(x), dtype=float)) for x in leaves]
        return _np.concatenate(parts) if parts else _np.zeros(0)


def minimize(
    fun: Callable,
    x0: Any,
    args: tuple = (),
    method: str | None = None,
    jac: Any = None,
    hess: Any = None,
    hessp: Any = None,
    **kwargs: Any,
) -> _opt.OptimizeResult:
    """``scipy.optimize.minimize`` given its derivatives by matdiff.

    ``fun(x, *args)`` must be written with ``matdiff.numpy`` and return a scalar; ``x0``
    may be a pytree of arrays. ``jac``, ``hess`` and ``hessp`` default to matdiff's
    derivatives wherever ``method`` uses them: ``hessp`` (Hessian-vector products, the
    Hessian never formed) for Newton-CG, trust-ncg, trust-krylov and trust-constr;
    ``hess`` for dogleg and trust-exact. Passing your own (functions of the flat
    parameter vector) overrides them. Other keywords (``bounds``, ``constraints``,
    ``tol``, ``callback``, ``options``) go to SciPy unchanged, in flat coordinates.

    The result is SciPy's ``OptimizeResult`` with ``x`` restored to ``x0``'s structure
    and the flat solution kept as ``x_flat``.

    >>> import matdiff.numpy as np
    >>> rosen = lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    >>> res = minimize(rosen, np.zeros(3), method="trust-exact", options={"gtol": 1e-10})
    >>> res.success, res.x.round(5)
    (True, array([1., 1., 1.]))
    """
    flattener = _Flattener(x0)
    name = (method or "").lower()

    def f_flat(xf, *a):
        return fun(flattener.unflatten(xf), *a)

    uses_jac = method is None or name in _USES_JAC
    if jac is None and uses_jac:
        value_and_gradient = value_and_grad(f_flat)

        def fun_and_jac(xf, *a):
            value, g = value_and_gradient(xf, *a)
            return float(value), _np.asarray(g, dtype=float)

        objective, jac = fun_and_jac, True
    else:
        objective = f_flat
    if hess is None and hessp is None:
        if name in _USES_HESSP:

            def hessp(xf, p, *a):
                return _np.asarray(hvp(lambda x: f_flat(x, *a), xf, p), dtype=float)

        elif name in _USES_HESS:

            def hess(xf, *a):
                return _np.asarray(hessian(lambda x: f_flat(x, *a))(xf), dtype=float)

    res = _opt.minimize(
        objective,
        flattener.flat,
        args=args,
        method=method,
        jac=jac,
        hess=hess,
        hessp=hessp,
        **kwargs,
    )
    res.x_flat = res.x
    res.x = tree_unflatten(
        flattener.treedef,
        [_np.reshape(p, s) for p, s in zip(_split(res.x, flattener.sizes), flattener.shapes)],
    )
    return res


def _split(flat: _np.ndarray, sizes: list[int]) -> list[_np.ndarray]:
    return _np.split(flat, _np.cumsum(sizes)[:-1]) if sizes else []
