"""``matdiff.scipy.integrate``: ODE solutions differentiable by the adjoint method.

``odeint`` and ``solve_ivp`` return the state at the requested times; derivatives with
respect to the initial state, the times and the parameters (extra arguments of the
dynamics) come from one primitive whose rules integrate another ODE with SciPy:

* reverse mode integrates the adjoint system a' = -a^T df/dy, p' = -a^T df/dp backwards
  between consecutive output times, re-integrating the state alongside from the stored
  output instead of recording the solver's steps: memory grows with the number of
  output times, never with the number of steps;
* forward mode integrates the tangent system dy' = df/dy dy + df/dp dp forwards.

The dynamics' VJPs and JVPs inside those systems come from matdiff itself, and the
augmented systems are solved by the same primitive, so derivatives of derivatives
(Hessians, forward-over-reverse) work too. Time derivatives: dy(t_i)/dt_i = f(y_i, t_i),
and moving the initial time t_0 shifts the whole solution by -dy/dy0 f(y_0, t_0).

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> def y1(k):  # y' = -k y, y(0) = 1: y(1) = e^(-k)
...     ys = odeint(lambda y, t, k: -k * y, np.array([1.0]), np.array([0.0, 1.0]), k,
...                 rtol=1e-10, atol=1e-10)
...     return ys[1, 0]
>>> round(float(grad(y1)(2.0)), 7)  # -e^(-k)
-0.1353353
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as _np
import scipy.integrate as _si

from .. import numpy as _mnp
from ..core import jvp_rules, vjp_rules, vspace
from ..differential_operators import jvp as _jvp
from ..differential_operators import vjp as _vjp
from ..numpy._wrap import shape_of, wrap
from ..tracer import getval, isbox
from ..tree import tree_flatten, tree_unflatten

__all__ = ["odeint", "solve_ivp"]

# ---------------------------------------------------------------- helpers


def _concat_raw(*parts):
    return _np.concatenate(parts)


_concat = wrap(_concat_raw, "_concat", module="matdiff.scipy.integrate")
"""1-D concatenation of any number of traced parts (the augmented ODE states)."""


def _offsets(parts) -> list[int]:
    out, start = [], 0
    for p in parts:
        out.append(start)
        start += int(_np.prod(shape_of(p)))
    return out + [start]


class _PerPart(list):
    """A rule table with one rule per positional argument, of any number of arguments."""

    def __init__(self, make: Callable[[int], Callable]) -> None:
        super().__init__()
        self.make = make

    def __len__(self) -> int:
        return 1 << 30

    def __getitem__(self, i):
        return self.make(i)


def _concat_vjp(i):
    def maker(ans, *parts):
        off = _offsets(parts)
        return lambda g: _mnp.getitem(g, slice(off[i], off[i + 1]))

    return maker


def _concat_jvp(i):
    def rule(g, ans, *parts):
        return _concat(*[g if j == i else vspace(p).zeros() for j, p in enumerate(parts)])

    return rule


vjp_rules[_concat] = _PerPart(_concat_vjp)
jvp_rules[_concat] = _PerPart(_concat_jvp)


def _flat(x):
    return _mnp.reshape(x, (-1,))


def _dot(a, b):
    return _mnp.sum(_mnp.multiply(a, b))


# ---------------------------------------------------------------- the primitive


class _Solver:
    """How to integrate: SciPy's ``odeint`` (LSODA) or ``solve_ivp`` with a method.

    ``forward`` is ``(rhs, options)``: options that describe the user's own system (its
    Jacobian ``Dfun``, band widths), given to SciPy only when that system is solved and
    not for the adjoint and tangent systems built from it. ``info`` is SciPy's
    ``full_output`` dictionary of the latest ``odeint`` solve of the user's system.
    """

    __slots__ = ("backend", "method", "options", "forward", "info")

    def __init__(
        self, backend: str, method: str | None, options: dict, forward: tuple | None = None
    ) -> None:
        self.backend = backend
        self.method = method
        self.options = options
        self.forward = forward
        self.info = None

    def run(self, rhs: Callable, y0, t, args) -> _np.ndarray:
        """The states at the times ``t`` as an array (len(t), len(y0))."""
        y0 = _np.asarray(y0, dtype=float)
        t = _np.asarray(t, dtype=float)
        # Repeated consecutive times (a zero-length step, e.g. t_eval[0] == t_span[0])
        # are solved once and copied: SciPy's solve_ivp wants strictly monotonic times.
        new = _np.concatenate([[True], t[1:] != t[:-1]])
        tu = t[new]
        if tu.shape[0] == 1:
            return _np.repeat(y0[None, :], t.shape[0], axis=0)

        def f(y, s):
            return _np.asarray(rhs(y, s, *args), dtype=float)

        if self.backend == "odeint":
            options = self._odeint_options(rhs, tu, args)
            with warnings.catch_warnings():
                # A failure is raised below with SciPy's message; its warning would repeat it.
                warnings.simplefilter("ignore", _si.ODEintWarning)
                ys, info = _si.odeint(f, y0, tu, full_output=True, **options)
            if self.forward is not None and rhs is self.forward[0]:
                self.info = info
            if info["message"] != "Integration successful.":
                raise RuntimeError(
                    f"odeint: the integration failed ({info['message']}); the solution and "
                    "its derivatives are not defined there. Raise mxstep, loosen rtol/atol, "
                    "or check the dynamics for a blow-up."
                )
        else:
            sol = _si.solve_ivp(
                lambda s, y: f(y, s),
                (tu[0], tu[-1]),
                y0,
                method=self.method,
                t_eval=tu,
                **self.options,
            )
            if sol.status < 0 or sol.y.shape[1] != tu.shape[0]:
                raise RuntimeError(
                    f"solve_ivp: the integration failed ({sol.message}); the solution and "
                    "its derivatives are not defined past that point. Try another method "
                    "(e.g. 'LSODA' or 'Radau' for stiff problems) or other tolerances."
                )
            ys = sol.y.T
        return ys[_np.cumsum(new) - 1]

    def _odeint_options(self, rhs: Callable, t: _np.ndarray, args) -> dict:
        options = dict(self.options)
        if self.forward is not None and rhs is self.forward[0]:
            options.update(self.forward[1])
            jac = options.get("Dfun")
            if jac is not None:
                options["Dfun"] = lambda y, s: _np.asarray(jac(y, s, *args), dtype=float)
            return options
        # The adjoint solves run backwards between output times. LSODA wants the first
        # step signed like the direction, and stops at critical times only when time
        # increases; the backward solves already end at every output time.
        if options.get("h0"):
            options["h0"] = _np.copysign(options["h0"], t[-1] - t[0])
        if t[-1] < t[0]:
            options.pop("tcrit", None)
        return options


def _integrate_raw(y0, t, *args, rhs, solver):
    return solver.run(rhs, y0, t, args)


_integrate = wrap(_integrate_raw, "odeint", module="matdiff.scipy.integrate")
"""States (len(t), n) of y' = rhs(y, t, *args) from y(t[0]) = y0 (y0 flat, t 1-D)."""


def _augmented_rhs(rhs: Callable, n: int) -> Callable:
    """The adjoint system over [y, a, p_bar]: [f, -a^T df/dy, -a^T df/dp (flattened)]."""

    def aug(s, t, *args):
        y = _mnp.getitem(s, slice(0, n))
        a = _mnp.getitem(s, slice(n, 2 * n))
        fy, f_vjp = _vjp(lambda y, *p: rhs(y, t, *p), y, *args)
        cts = f_vjp(a)
        return _concat(fy, *[_mnp.negative(_flat(c)) for c in cts])

    return aug


_adjoint_cache: list = [None]


def _adjoint(ans, y0, t, args, rhs, solver, g):
    """(y0_bar, t_bar, [arg_bar]) for the cotangent g of the states ``ans``; cached per (ans, g)."""
    hit = _adjoint_cache[0]
    if hit is not None and hit[0] is ans and hit[1] is g:
        return hit[2]
    n = int(_np.prod(shape_of(y0)))
    N = shape_of(t)[0]
    aug = _augmented_rhs(rhs, n)
    a = _mnp.getitem(g, N - 1)
    p_bar = _np.zeros(sum(int(_np.prod(shape_of(p))) for p in args))
    t_bar = [None] * N
    for i in range(N - 1, 0, -1):
        yi = _mnp.getitem(ans, i)
        ti = _mnp.getitem(t, i)
        t_bar[i] = _dot(_mnp.getitem(g, i), rhs(yi, ti, *args))
        span = _mnp.stack([ti, _mnp.getitem(t, i - 1)])
        end = _mnp.getitem(
            _integrate(_concat(yi, a, p_bar), span, *args, rhs=aug, solver=solver), 1
        )
        a = _mnp.add(_mnp.getitem(end, slice(n, 2 * n)), _mnp.getitem(g, i - 1))
        p_bar = _mnp.getitem(end, slice(2 * n, None))
    # Moving t0 moves the whole trajectory: -a(t0)^T f(y0, t0), without the direct g[0] term.
    a_future = _mnp.subtract(a, _mnp.getitem(g, 0))
    t_bar[0] = _mnp.negative(_dot(a_future, rhs(y0, _mnp.getitem(t, 0), *args)))
    off = _offsets(args)
    arg_bars = [
        _mnp.reshape(_mnp.getitem(p_bar, slice(off[k], off[k + 1])), shape_of(p))
        for k, p in enumerate(args)
    ]
    result = (a, _mnp.stack(t_bar), arg_bars)
    _adjoint_cache[0] = (ans, g, result)
    return result


def _integrate_vjp(i):
    def maker(ans, y0, t, *args, rhs, solver):
        def vjp(g):
            y0_bar, t_bar, arg_bars = _adjoint(ans, y0, t, args, rhs, solver, g)
            if i == 0:
                return y0_bar
            return t_bar if i == 1 else arg_bars[i - 2]

        return vjp

    return maker


def _tangent_rhs(rhs: Callable, n: int, k: int | None) -> Callable:
    """The tangent system over [y, dy]: [f, df/dy dy (+ df/dp_k dp_k)]; dp_k is the last arg."""

    def tan(s, t, *args):
        y = _mnp.getitem(s, slice(0, n))
        dy = _mnp.getitem(s, slice(n, 2 * n))
        if k is None:
            fy, df = _jvp(lambda y: rhs(y, t, *args), (y,), (dy,))
        else:
            params, dp = list(args[:-1]), args[-1]

            def f_yp(y, p):
                params[k] = p
                return rhs(y, t, *params)

            fy, df = _jvp(f_yp, (y, args[k]), (dy, dp))
        return _concat(fy, df)

    return tan


def _tangent_states(s0, t, args, rhs, solver, n, k=None, extra=()):
    out = _integrate(s0, t, *args, *extra, rhs=_tangent_rhs(rhs, n, k), solver=solver)
    return _mnp.getitem(out, (slice(None), slice(n, 2 * n)))


def _integrate_jvp(i):
    def rule(g, ans, y0, t, *args, rhs, solver):
        n = int(_np.prod(shape_of(y0)))
        if i == 0:
            return _tangent_states(_concat(y0, g), t, args, rhs, solver, n)
        if i == 1:
            t0 = _mnp.getitem(t, 0)
            shift = _mnp.multiply(_mnp.negative(rhs(y0, t0, *args)), _mnp.getitem(g, 0))
            moved = _tangent_states(_concat(y0, shift), t, args, rhs, solver, n)
            rows = [
                _mnp.multiply(
                    rhs(_mnp.getitem(ans, j), _mnp.getitem(t, j), *args), _mnp.getitem(g, j)
                )
                for j in range(shape_of(t)[0])
            ]
            return _mnp.add(moved, _mnp.stack(rows))
        k = i - 2
        s0 = _concat(y0, _np.zeros(n))
        return _tangent_states(s0, t, args, rhs, solver, n, k, extra=(g,))

    return rule


vjp_rules[_integrate] = _PerPart(_integrate_vjp)
jvp_rules[_integrate] = _PerPart(_integrate_jvp)

# ---------------------------------------------------------------- public functions


def _as_float(x, fname: str = "odeint", what: str = "an argument"):
    if isbox(x):
        if _np.iscomplexobj(getval(x)):
            return _as_float(getval(x), fname, what)  # raises the complex error
        return x
    arr = _np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(
            f"{fname}: {what} is complex; matdiff's ODE solvers work on real states and "
            "parameters. Split complex values into real and imaginary parts."
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{fname}: {what} has type {type(x).__name__}; only arrays and numbers (or "
            "pytrees of them) can be passed. Close over other values in the dynamics instead."
        )
    return _np.asarray(x, dtype=_np.result_type(float, arr.dtype))


def _flat_rhs(func: Callable, y_shape: tuple, treedef, tfirst: bool) -> Callable:
    """``func`` on flat states and flat parameter leaves, returning a flat derivative."""

    def rhs(y, t, *leaves):
        ys = _mnp.reshape(y, y_shape)
        params = tree_unflatten(treedef, list(leaves))
        dy = func(t, ys, *params) if tfirst else func(ys, t, *params)
        return _flat(dy)

    return rhs


# SciPy's odeint keywords after ``args``; matdiff passes each one to SciPy.
_ODEINT_KEYWORDS = (
    "Dfun",
    "col_deriv",
    "full_output",
    "ml",
    "mu",
    "rtol",
    "atol",
    "tcrit",
    "h0",
    "hmax",
    "hmin",
    "ixpr",
    "mxstep",
    "mxhnil",
    "mxordn",
    "mxords",
    "printmessg",
    "tfirst",
)
# These describe the user's system (its Jacobian and band structure), so they apply to
# its solve only, not to the adjoint and tangent systems.
_FORWARD_ONLY = ("col_deriv", "ml", "mu")


def odeint(
    func: Callable,
    y0: Any,
    t: Any,
    *args: Any,
    rtol: float | None = None,
    atol: float | None = None,
    tfirst: bool = False,
    **kwargs: Any,
) -> Any:
    """Integrate y' = func(y, t, *args) from y(t[0]) = y0: the states at the times ``t``.

    The result has shape (len(t),) + y0.shape. It is differentiable (both modes, any
    order) in ``y0``, ``t`` and every array in ``args`` (arrays or pytrees of arrays), by
    the adjoint method. ``func`` must be written with ``matdiff.numpy``. The forward solve
    is ``scipy.integrate.odeint`` (LSODA) with SciPy's defaults (``rtol`` and ``atol``
    1.49012e-8) and every keyword of SciPy's ``odeint`` passed through, so the states are
    SciPy's own; the adjoint and tangent solves use the same tolerances and step options.
    As in SciPy and autograd, a tuple in fourth position is ``args`` itself, its entries
    the extra arguments: ``odeint(f, y0, t, (k, c))`` calls ``f(y, t, k, c)``, as does
    ``odeint(f, y0, t, args=(k, c))``; one non-tuple value is one extra argument (SciPy
    wraps it too), and several values after ``t`` are each an extra argument (matdiff's
    ``*args`` form). SciPy's keywords after ``args`` are taken by name only.
    ``Dfun`` (called like ``func``), ``col_deriv``, ``ml`` and ``mu`` describe ``func``'s
    Jacobian and apply to its solve only; ``tcrit`` applies to the solves that run
    forward in time; ``full_output=True`` returns ``(states, info)`` with SciPy's ``info``
    of the forward solve. A failed integration raises ``RuntimeError``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> def loss(y0):
    ...     ys = odeint(lambda y, t: -y, y0, np.array([0.0, 1.0]), rtol=1e-10, atol=1e-10)
    ...     return np.sum(ys[-1])
    >>> grad(loss)(np.array([1.0, 2.0])).round(7)  # e^-1
    array([0.3678794, 0.3678794])
    """
    if "args" in kwargs:
        scipy_args = kwargs.pop("args")
        if args:
            raise TypeError("odeint: pass the parameters as *args or as args=(...), not both")
        args = tuple(scipy_args) if isinstance(scipy_args, (tuple, list)) else (scipy_args,)
    elif len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]  # SciPy's positional ``args`` tuple
    elif len(args) > 1 and isinstance(args[0], tuple):
        # SciPy reads odeint(f, y0, t, (k,), jac) as args and Dfun; the *args form would
        # pass both to func. Neither guess is safe, so ask for the keyword.
        raise TypeError(
            "odeint: a tuple of parameters followed by more positional arguments is "
            "ambiguous; pass SciPy's options after args by keyword (Dfun=..., "
            "full_output=...), or the parameters one by one as odeint(f, y0, t, *params)"
        )
    unknown = sorted(set(kwargs) - set(_ODEINT_KEYWORDS))
    if unknown:
        raise TypeError(
            f"odeint: unsupported keyword arguments {unknown}; matdiff's odeint takes "
            f"args and scipy.integrate.odeint's keywords ({', '.join(_ODEINT_KEYWORDS)})"
        )
    full_output = bool(kwargs.pop("full_output", False))
    jac = kwargs.pop("Dfun", None)
    y0 = _as_float(y0, "odeint", "y0")
    t = _as_float(t, "odeint", "t")
    if len(shape_of(t)) != 1 or shape_of(t)[0] < 1:
        raise ValueError(f"odeint: t must be a 1-D array of times, got shape {shape_of(t)}")
    leaves, treedef = tree_flatten(tuple(args))
    leaves = [_as_float(x, "odeint", f"a leaf of args ({i})") for i, x in enumerate(leaves)]
    y_shape = shape_of(y0)
    options = {"rtol": rtol, "atol": atol, **kwargs}
    forward_options = {k: options.pop(k) for k in _FORWARD_ONLY if k in options}
    rhs = _flat_rhs(func, y_shape, treedef, tfirst)
    if jac is not None:
        forward_options["Dfun"] = _flat_jac(jac, y_shape, treedef, tfirst)
    solver = _Solver("odeint", None, options, forward=(rhs, forward_options))
    ys = _integrate(_flat(y0), t, *leaves, rhs=rhs, solver=solver)
    ys = _mnp.reshape(ys, (shape_of(t)[0],) + tuple(y_shape))
    if not full_output:
        return ys
    info = solver.info
    if info is None:  # a single distinct time: nothing to integrate, as SciPy reports it
        info = _si.odeint(lambda y, s: y, [0.0], [0.0], full_output=True)[1]
    return ys, info


def _flat_jac(jac: Callable, y_shape: tuple, treedef, tfirst: bool) -> Callable:
    """``Dfun`` on flat states and plain parameter leaves, as SciPy calls it (y first)."""

    def flat(y, t, *leaves):
        ys = _np.reshape(y, y_shape)
        params = tree_unflatten(treedef, list(leaves))
        return jac(t, ys, *params) if tfirst else jac(ys, t, *params)

    return flat


class OdeSolution(dict):
    """``solve_ivp``'s result: ``t`` (times), ``y`` (states, shape (n, len(t))) and stats."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_UNSUPPORTED = ("dense_output", "events", "vectorized")


def solve_ivp(
    fun: Callable,
    t_span: Sequence,
    y0: Any,
    method: str = "RK45",
    t_eval: Any = None,
    args: tuple | None = None,
    **options: Any,
) -> OdeSolution:
    """``scipy.integrate.solve_ivp``, differentiable in ``y0``, the times and ``args``.

    ``fun(t, y, *args)`` as in SciPy, written with ``matdiff.numpy``; ``y0`` is 1-D. With
    ``t_eval`` the states are those at ``t_eval`` (each time differentiable); without
    it, at the solver's own steps, whose inner times are constants while ``t_span``'s
    ends stay differentiable. Other options (``rtol``, ``atol``, ``max_step``, ``first_step``)
    go to SciPy and to the adjoint and tangent solves alike. ``dense_output``, ``events`` and
    ``vectorized`` are not supported. A failed integration raises ``RuntimeError``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> def final(k):
    ...     sol = solve_ivp(lambda t, y, k: -k * y, (0.0, 1.0), np.array([1.0]), args=(k,),
    ...                     t_eval=np.array([1.0]), rtol=1e-10, atol=1e-10)
    ...     return sol.y[0, -1]
    >>> round(float(grad(final)(2.0)), 6)  # -t e^(-k t)
    -0.135335
    """
    for name in _UNSUPPORTED:
        if options.get(name):
            raise NotImplementedError(
                f"solve_ivp: {name}=True is not supported by matdiff.scipy.integrate; call "
                f"scipy.integrate.solve_ivp on untraced values for it, or use t_eval."
            )
        options.pop(name, None)
    if len(shape_of(y0)) != 1:
        raise ValueError("`y0` must be 1-dimensional.")
    if len(t_span) != 2:
        raise ValueError("solve_ivp: t_span must be a pair (t0, t1)")
    t0, t1 = (_as_float(s, "solve_ivp", "t_span") for s in t_span)
    y0 = _as_float(y0, "solve_ivp", "y0")
    if args is not None and not isinstance(args, tuple):
        args = (args,)
    args = args or ()
    leaves, treedef = tree_flatten(args)
    leaves = [_as_float(x, "solve_ivp", f"a leaf of args ({i})") for i, x in enumerate(leaves)]
    rhs = _flat_rhs(fun, shape_of(y0), treedef, tfirst=True)
    solver = _Solver("ivp", method, options)
    if t_eval is None:
        # The solver's own steps: computed once on values, inner times held constant.
        plain = [getval(x) for x in leaves]
        steps = _si.solve_ivp(
            lambda s, y: _np.asarray(rhs(y, s, *plain), dtype=float),
            (float(getval(t0)), float(getval(t1))),
            _np.asarray(getval(y0), dtype=float),
            method=method,
            **options,
        ).t
        inner = steps[1:-1]
        t = _concat(_mnp.reshape(t0, (1,)), inner, _mnp.reshape(t1, (1,)))
    else:
        t = _as_float(t_eval, "solve_ivp", "t_eval")
        if len(shape_of(t)) != 1:
            raise ValueError("`t_eval` must be 1-dimensional.")
        lo, hi = sorted((float(getval(t0)), float(getval(t1))))
        tv = _np.asarray(getval(t))
        if _np.any(tv < lo) or _np.any(tv > hi):
            raise ValueError("Values in `t_eval` are not within `t_span`.")
        if shape_of(t)[0] == 0:
            raise ValueError("solve_ivp: t_eval is empty; there is nothing to differentiate")
        # The integration starts at t_span[0]; t_eval's first time need not be it.
        t = _concat(_mnp.reshape(t0, (1,)), t)
    ys = _integrate(y0, t, *leaves, rhs=rhs, solver=solver)
    if t_eval is not None:
        ys = _mnp.getitem(ys, slice(1, None))
        t = _mnp.getitem(t, slice(1, None))
    return OdeSolution(
        t=getval(t),
        y=_mnp.transpose(ys),
        success=True,
        status=0,
        message="The solver successfully reached the end of the integration interval.",
        t_events=None,
        y_events=None,
        sol=None,
    )
