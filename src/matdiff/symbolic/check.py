"""Numerical checks of symbolic derivatives.

Every derivative is compared, at random inputs of the declared kinds, with

1. central finite differences of the value (always), and
2. the numeric engine (``matdiff.grad``/``jacobian``/``hessian`` applied to the value code
   run with ``matdiff.numpy`` in place of NumPy), when that engine is importable.

Inputs respect the domains the expression needs: square matrices under ``det``,
``logdet``, ``inv`` or ``adj`` are symmetric positive definite, entries under ``log``,
``sqrt`` or a fractional or negative power are positive, entries under ``arcsin`` and
``arccos`` lie in (-1/2, 1/2).
"""

from __future__ import annotations

import importlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..progress import progress_bar
from . import expr as E
from .errors import CheckError, SymbolicError

_SIZES = (3, 4, 2, 5, 6, 7, 8)


@dataclass
class CheckReport:
    """What ``Derivative.check`` compared, and how far apart the results were."""

    expression: str
    wrt: str
    order: int
    sizes: dict
    fd_error: float
    engine: str  # "ok", or why the numeric engine was not compared
    engine_error: float | None = None
    inputs: dict = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items()) or "none"
        eng = self.engine if self.engine_error is None else f"ok, error {self.engine_error:.1e}"
        return (
            f"check of {self.expression!r} wrt {self.wrt} (order {self.order}); sizes {sizes}\n"
            f"  finite differences: relative error {self.fd_error:.1e}\n"
            f"  numeric engine: {eng}"
        )


def domains(e: E.Expr) -> dict[str, str]:
    """For each variable, the input domain the expression needs: integer (an exponent of
    a matrix power), spd, positive or unit."""
    out: dict[str, str] = {}
    rank = {"integer": 4, "spd": 3, "positive": 2, "unit": 1}

    def mark(n: E.Expr, what: str) -> None:
        for v in E.nodes(n):
            if not isinstance(v, E.Var):
                continue
            need = what
            if what == "spd" and not (v.kind == "matrix" and v.shape[0] == v.shape[1]):
                need = "positive"
            name = v.name
            if rank[need] > rank.get(out.get(name, ""), 0):
                out[name] = need

    for n in E.nodes(e):
        if n.argument_domain is not None:
            mark(n.args[0], n.argument_domain)
        if isinstance(n, E.MatPow):
            for v in E.variables(n.args[1]):
                out[v.name] = "integer"
    return out


def _sizes(d) -> dict:
    sizes: dict = {}
    given = dict(d.dims)
    k = 0
    products = []
    for dim in d.parsed.dim_names:
        if dim in given:
            sizes[dim] = int(given[dim])
        elif "*" in dim:
            products.append(dim)  # a dimension of a kron: the product of its factors'
        else:
            sizes[dim] = _SIZES[k % len(_SIZES)]
            k += 1
    for dim in products:
        sizes[dim] = int(np.prod([sizes.get(part, 1) for part in dim.split("*")]))
    return sizes


def random_inputs(d, rng: np.random.Generator, sizes: dict, domain_of: dict) -> dict:
    """Random values for the variables of ``d``, of their kinds and domains."""
    values = {}
    for name, v in d.parsed.variables.items():
        r, c = (sizes[x] if x != 1 else 1 for x in v.shape)
        dom = domain_of.get(name)
        kind = v.declared
        if dom == "integer":
            values[name] = int(rng.integers(1, 4))
            continue
        if kind == "scalar":
            val = rng.uniform(0.5, 1.5) if dom in ("positive", "spd") else rng.normal()
            if dom == "unit":
                val = rng.uniform(-0.5, 0.5)
            values[name] = float(val)
            continue
        shape = (r,) if c == 1 else (c,) if r == 1 else (r, c)
        if dom == "spd" and len(shape) == 2:
            b = rng.normal(size=shape)
            val = b @ b.T / shape[0] + np.eye(shape[0])
        elif dom == "positive" or dom == "spd":
            val = rng.uniform(0.5, 1.5, size=shape)
            if kind == "symmetric":
                val = (val + val.T) / 2
        elif dom == "unit":
            val = rng.uniform(-0.5, 0.5, size=shape)
        else:
            val = rng.normal(size=shape)
            if kind == "symmetric":
                val = (val + val.T) / 2
        values[name] = val
    return values


def _perturbed(inputs: dict, name: str, x: Any) -> dict:
    out = dict(inputs)
    out[name] = x
    return out


#: The most entries an array of the check may have (8 bytes each): 2**26 is 512 MiB.
MAX_CHECK_ENTRIES = 2**26


def refuse_huge(d, sizes: dict, purpose: str = "the check", derivative: bool = True) -> None:
    """Refuse, before allocating anything, a check whose arrays would not fit in memory.

    ``purpose`` names what would allocate them; ``derivative=False`` leaves out the
    derivative array (the graph allocates the inputs and their adjoints only).
    """

    def entries(shape) -> int:
        return math.prod(1 if x == 1 else int(sizes.get(x, 1)) for x in shape)

    var = entries(d.parsed.variables[d.wrt].shape)
    arrays = {name: entries(v.shape) for name, v in d.parsed.variables.items()}
    if derivative:
        # out.shape + var.shape; a Hessian read off the second differential keeps the
        # function's shape as out_shape, and has var.shape twice
        twice = var if getattr(d, "bilinear", None) is not None else 1
        arrays["the derivative"] = entries(d.out_shape) * var * twice
    what, biggest = max(arrays.items(), key=lambda kv: kv[1])
    if biggest > MAX_CHECK_ENTRIES:
        raise SymbolicError(
            f"{purpose} would need {biggest:,} entries ({biggest * 8 / 2**30:.3g} GiB) for "
            f"{what} at sizes {', '.join(f'{k}={v}' for k, v in sizes.items())}, more than the "
            f"{MAX_CHECK_ENTRIES:,} it allows; give smaller sizes (--dim)"
        )


def finite_differences(
    value, inputs: dict, name: str, order: int, progress: bool = False
) -> np.ndarray:
    """Central differences of ``value(**inputs)`` in ``inputs[name]``: out.shape + var.shape.

    ``progress=True`` shows a bar over the evaluations (``tqdm``): at order 2 there are
    about 2 n² of them for a variable of n entries.
    """
    x0 = np.asarray(inputs[name], dtype=float)
    scalar = x0.ndim == 0

    def f(x):
        return np.asarray(value(**_perturbed(inputs, name, float(x) if scalar else x)), float)

    flat = x0.reshape(-1)
    n = flat.size
    steps = n if order == 1 else n * (n + 1) // 2
    bar = progress_bar(steps, "check: finite differences", progress, "check")
    if order == 1:
        h = 1e-6
        cols = []
        for i in range(n):
            e = np.zeros(n)
            e[i] = h
            cols.append(
                (f((flat + e).reshape(x0.shape)) - f((flat - e).reshape(x0.shape))) / (2 * h)
            )
            bar.update(1)
        bar.close()
        out = np.stack(cols, axis=-1)
        return out.reshape(out.shape[:-1] + x0.shape)
    h = 1e-4
    out_shape = f(x0).shape
    H = np.empty((n, n) + out_shape)
    for i in range(n):
        for j in range(i, n):
            ei = np.zeros(n)
            ej = np.zeros(n)
            ei[i] = h
            ej[j] = h
            s = np.zeros(out_shape)
            for si, sj, w in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
                s = s + w * f((flat + si * ei + sj * ej).reshape(x0.shape))
            H[i, j] = H[j, i] = s / (4 * h * h)
            bar.update(1)
    bar.close()
    # the Hessian of an array has its entries' Hessians as slices: out.shape + x + x
    H = np.moveaxis(H.reshape(n, n, -1), -1, 0)
    return H.reshape(out_shape + x0.shape + x0.shape)


def _symmetrize(a: np.ndarray, order: int, ndim_var: int) -> np.ndarray:
    """Project onto symmetric matrices in the variable's axes (and the output's for a Hessian)."""
    if ndim_var != 2:
        return a
    a = 0.5 * (a + np.swapaxes(a, -1, -2))
    if order == 2:
        a = 0.5 * (a + np.swapaxes(a, -3, -4))
    return a


def _relative_error(a, b) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _numeric_engine():
    """``(matdiff, matdiff.numpy)`` when the numeric engine is importable, else a reason."""
    try:
        md = importlib.import_module("matdiff")
        mnp = importlib.import_module("matdiff.numpy")
    except ImportError as err:
        return None, f"skipped: numeric engine not importable ({err})"
    missing = [f for f in ("grad", "jacobian", "hessian") if not hasattr(md, f)]
    if missing:
        return None, f"skipped: matdiff has no {', '.join(missing)} yet"
    return (md, mnp), "ok"


def check(
    d,
    seed: int = 0,
    sizes: dict | None = None,
    tol: float | None = None,
    numeric: bool = True,
    tries: int = 6,
    progress: bool = False,
) -> CheckReport:
    """Check the derivative ``d`` numerically; raise ``CheckError`` when it disagrees.

    ``progress=True`` shows a bar over the finite differences, the slow part at large
    dimensions (``tqdm``).

    >>> from matdiff.symbolic import derivative
    >>> report = derivative("x'*A*x", wrt="x").check(seed=0)
    >>> report.fd_error < 1e-6
    True
    """
    rng = np.random.default_rng(seed)
    given_sizes = bool(sizes)
    sizes = dict(sizes or _sizes(d))
    refuse_huge(d, sizes)
    value = d.value_function()
    # sizes other than the declared dims (a check at a bounded size) would be refused by
    # function()'s argument checks, which hold the dims; the code itself is the same
    overridden = any(sizes.get(k, int(v)) != int(v) for k, v in d.dims.items())
    fun = d.function(np) if overridden else d.function()
    dom = domains(d.expr)
    for attempt in range(tries):
        inputs = random_inputs(d, rng, sizes, dom)
        with np.errstate(all="ignore"):
            try:
                v = np.asarray(value(**inputs), dtype=float)
                got_value, got = fun(**inputs)
                finite = np.all(np.isfinite(v)) and np.all(np.isfinite(got))
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError):
                finite = False
        if finite:
            break
        if attempt == 1:
            # the expression needs a domain the markers did not see: try positive inputs
            dom = {
                name: "integer" if dom.get(name) == "integer" else "positive"
                for name in d.parsed.variables
            }
        if attempt == 3 and not given_sizes:
            # products of rectangular factors can be rank deficient: try square ones
            sizes = {k: 3 for k in sizes}
    else:
        raise SymbolicError("no random input gave a finite value; the check cannot run")
    with np.errstate(all="ignore"):
        fd = finite_differences(value, inputs, d.wrt, d.order, progress)
    got = np.asarray(got, dtype=float)
    var = d.parsed.variables[d.wrt]
    symmetric = var.declared == "symmetric"
    ndim_var = len([x for x in var.shape if x != 1])
    if symmetric:
        fd = _symmetrize(fd, d.order, ndim_var)
    verr = _relative_error(got_value, v)
    err = _relative_error(got, fd)
    limit = tol if tol is not None else (1e-5 if d.order == 1 else 1e-4)
    if verr > 1e-9 or err > limit:
        raise CheckError(
            f"{d.what} of {d.source!r} wrt {d.wrt} disagrees with finite differences: "
            f"relative error {err:.2e} (value error {verr:.2e}) at sizes {sizes}, seed {seed}"
        )
    report = CheckReport(d.source, d.wrt, d.order, sizes, err, "not run", None, inputs)
    if not numeric:
        report.engine = "not requested"
        return report
    engine, status = _numeric_engine()
    report.engine = status
    if engine is None:
        return report
    md, mnp = engine
    try:
        traced = d.value_function(np_module=mnp, fast=False)

        def f(x):
            return traced(**_perturbed(inputs, d.wrt, x))

        x0 = inputs[d.wrt]
        with warnings.catch_warnings():
            # a value that does not depend on the variable is a question here, not a slip
            warnings.filterwarnings("ignore", message=".*does not depend on the input")
            if d.order == 2:
                ref = md.hessian(f)(x0)
            elif d.what == "gradient":
                ref = md.grad(f)(x0)
            else:
                ref = md.jacobian(f)(x0)
        ref = np.asarray(ref, dtype=float)
    except Exception as err:  # the engine may lack a primitive; that is not a mismatch
        report.engine = f"error in numeric engine: {type(err).__name__}: {err}"
        return report
    if symmetric:
        ref = _symmetrize(ref, d.order, ndim_var)
    report.engine_error = _relative_error(got, ref)
    if report.engine_error > 1e-6:  # both are exact up to rounding
        raise CheckError(
            f"{d.what} of {d.source!r} wrt {d.wrt} disagrees with the numeric engine: "
            f"relative error {report.engine_error:.2e} at sizes {sizes}, seed {seed}"
        )
    return report
