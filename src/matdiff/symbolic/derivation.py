"""``derivative()``: parse, differentiate, read off, simplify, print, generate code."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

import numpy

from . import expr as E
from .check import CheckReport
from .check import check as check_derivative
from .differentials import (
    Term,
    differential,
    gradient_from,
    jacobian_from,
    kron_text_expr,
    rule_statements,
    tensor_terms,
)
from .display import derivative_html
from .errors import CheckError, SymbolicError
from .expr import Expr
from .parser import Parsed, default_kind, normalize_dims, parse
from .printers import (
    ArrayApiPrinter,
    NumpyPrinter,
    _latex_name,
    check_identifier,
    to_latex,
    to_text,
)
from .simplify import simplify, with_temporaries
from .steps import Later, Step, Steps, resolved, rule_steps

__all__ = ["BACKENDS", "Derivative", "Step", "Steps", "derivative", "lambdify"]

#: The array libraries ``Derivative.code`` writes for: the import that binds the module
#: the code calls (``None``: the namespace is taken from the arguments at each call).
BACKENDS = {
    "numpy": "import numpy as _np",
    "array-api": None,
    "dask": "import array_api_compat.dask.array as _xp",
    "cupy": "import array_api_compat.cupy as _xp",
}

_XP_CALL = re.compile(r"\b_xp\.((?:linalg\.)?[A-Za-z_][A-Za-z0-9_]*)")


def _traced(value) -> bool:
    """A traced value of matdiff's numeric engine (under ``grad``, ``vmap``, ``jit``)."""
    return type(value).__module__.startswith("matdiff.")


# An assignment into an element or slice: the tensor code of a matrix derivative fills
# an array it allocated, which a traced value cannot enter.
_WRITES = re.compile(r"^\s+[\w.]+\[[^\n]*\]\s*[-+*/]?=(?!=)", re.M)


def _foreign(value) -> bool:
    """An array of a library other than NumPy (a Dask, CuPy or array-API array).

    A traced value of matdiff's numeric engine (under ``grad``, ``vmap``, ``jit``) is not
    one: NumPy's functions called on it dispatch to ``matdiff.numpy``, so the NumPy code
    runs on it as it is and the transformation sees every operation.
    """
    return (
        hasattr(value, "shape")
        and not isinstance(value, (numpy.ndarray, numpy.generic))
        and not _traced(value)
    )


def _missing_calls(source: str, xp) -> list[str]:
    """The ``_xp.`` functions that ``source`` calls and the namespace ``xp`` lacks."""
    missing = []
    for name in sorted(set(_XP_CALL.findall(source))):
        owner = xp
        for part in name.split("."):
            owner = getattr(owner, part, None)
        if owner is None:
            missing.append(name)
    return missing


def _numeric_shape(shape) -> tuple:
    return tuple(d for d in shape if d != 1)


class Derivative:
    """The derivative of an expression, with its text, LaTeX, code and derivation.

    Built by ``derivative()``; see there for an example.

    Attributes:
        text: the result in the input language (with ``t0 = ...`` lines for shared
            subexpressions); re-parseable except when ``form == "tensor"``.
        form: ``"matrix"`` (plain matrix notation), ``"kron"`` (a Kronecker expression in
            the column-major vec layout) or ``"tensor"`` (no closed matrix form: the text
            is the differential, and the code evaluates the tensor from it).
        what: ``"gradient"``, ``"jacobian"``, ``"hessian"`` or ``"derivative"``.
        expr: the canonical value expression; ``result`` the derivative expression (None
            when ``form == "tensor"``).
        variables: the parameter names of ``function()``, in order of first appearance.
    """

    def __init__(
        self,
        parsed: Parsed,
        wrt: str,
        order: int,
        what: str,
        result: Expr | None,
        terms: list[Term] | None,
        linear_form: Expr | None,
        form: str,
        steps: Steps,
        dims: dict,
        out_shape,
    ) -> None:
        self.parsed = parsed
        self.source = parsed.source
        self.expr = parsed.expr
        self.wrt = wrt
        self.order = order
        self.what = what
        self.result = result
        self.terms = terms
        self.linear_form = linear_form
        self.form = form
        self._steps = steps
        self._steps_resolved = False
        self.dims = dict(dims or {})
        self.out_shape = out_shape
        self.var = parsed.variables[wrt]
        self.variables = list(parsed.variables)
        #: What the input may not say as meant (a scalar by the letter rule added to a
        #: vector); the command line prints these.
        self.notes = list(parsed.notes)
        self._function = None
        #: For the Hessian of an array without a matrix form: the bilinear second
        #: differential d2f[U, dX], whose first direction is the variable ``_U``.
        self.bilinear: Expr | None = None
        #: A remark on the result, such as that the expression does not depend on the
        #: variable (its derivative is then zero); None when there is nothing to say.
        self.note: str | None = None
        taken = set(parsed.variables)
        if result is not None:
            defs, (body,) = with_temporaries([result], taken)
            self.temporaries = defs
            self._body = body
        else:
            self.temporaries = []
            self._body = None

    @property
    def steps(self) -> Steps:
        """The derivation, one ``Step`` per rule application, ending in ``text``."""
        if not self._steps_resolved:
            steps = resolved(self._steps)
            # the derivation ends in the result as printed, temporaries and all
            if steps and steps[-1].expression != self.text:
                rule = "name shared subexpressions" if self.temporaries else "result"
                steps.append(Step(rule, self.text))
            self._steps, self._steps_resolved = steps, True
        return self._steps

    # -- printing
    @property
    def text(self) -> str:
        if self.bilinear is not None:
            return (
                f"d2f = {to_text(self.linear_form)}  "
                f"(no closed matrix form; function() evaluates the tensor)"
            )
        if self.form == "tensor":
            return (
                f"d({self._deriv_name()}) = {to_text(self.linear_form)}  "
                f"(no closed matrix form; function() evaluates the tensor)"
            )
        lines = [f"{name} = {to_text(body)}" for name, body in self.temporaries]
        lines.append(to_text(self._body))
        return "\n".join(lines)

    def _deriv_name(self) -> str:
        if self.order == 2 and self.out_shape != self.var.shape:
            return "J" if self.var.kind == "vector" else "D"  # of an array's Hessian
        return "grad" if self.order == 2 else "f"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<{self.what} of {self.source!r} wrt {self.wrt}: {self.text!r}>"

    @property
    def latex(self) -> str:
        """The result as a LaTeX equation whose left side says what it is."""
        if self.form == "tensor":
            return f"{self.latex_label} = {to_latex(self.linear_form)}"
        lines = [f"{_latex_name(n)} = {to_latex(b)}" for n, b in self.temporaries]
        body = f"{self.latex_label} = {to_latex(self._body)}"
        if not lines:
            return body
        return body + r" \quad\text{where } " + r",\ ".join(lines)

    @property
    def latex_label(self) -> str:
        r"""What the result is, in LaTeX: ``\nabla_{x} f``, ``\nabla^2_{x} f``, ...

        A result with no closed matrix form is the differential of the gradient (for a
        Hessian) or of the function; a Kronecker result is the derivative of the
        vectorized function by the vectorized variable.
        """
        if self.bilinear is not None:
            # the second differential of an array expression, bilinear in two directions
            label = r"\mathrm{d}^2 @f"
        elif self.form == "tensor" and self._deriv_name() in ("J", "D"):
            # the differential of an array expression's Jacobian (or derivative)
            label = rf"\mathrm{{d}}({self._deriv_name()})"
        elif self.form == "tensor":
            label = r"\mathrm{d}(\nabla_{@x} @f)" if self.order == 2 else r"\mathrm{d}@f"
        elif self.var.is_scalar:
            label = r"\frac{\partial^2 @f}{\partial @x^2}" if self.order == 2 else None
        elif self.form == "kron":
            label = (
                r"\nabla^2_{\operatorname{vec} @x} @f"
                if self.order == 2
                else r"\frac{\partial \operatorname{vec} @f}{\partial \operatorname{vec} @x}"
            )
        elif self.order == 2:
            label = r"\nabla^2_{@x} @f"
        elif self.what == "gradient":
            label = r"\nabla_{@x} @f"
        else:
            label = None
        label = label or r"\frac{\partial @f}{\partial @x}"
        # the function is f, or the name its line gives it (loss = r'*r)
        f = _latex_name(self.parsed.name) if self.parsed.name else "f"
        return label.replace("@x", _latex_name(self.wrt)).replace("@f", f)

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def _repr_html_(self) -> str:
        # the result, the declarations, the code, the derivation and the last check's outcome
        return derivative_html(self, getattr(self, "_last_check", None))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {
            "text/plain": repr(self),
            "text/html": self._repr_html_(),
            "text/latex": self._repr_latex_(),
        }

    # -- code
    def _dim_code(self) -> dict:
        codes: dict = {}
        for name, v in self.parsed.variables.items():
            r, c = v.shape
            if v.kind == "vector":
                codes.setdefault(r, f"{name}.shape[0]")
            elif v.kind == "matrix":
                codes.setdefault(r, f"{name}.shape[0]")
                codes.setdefault(c, f"{name}.shape[1]")
        for name, size in self.dims.items():
            codes.setdefault(name, str(int(size)))
        return codes

    def value_source(self, fast: bool = True, name: str = "value") -> str:
        """Source of ``def value(<variables>)`` returning the value of the expression.

        With ``fast=False`` the code avoids NumPy-only shortcuts (``slogdet``, ``.sum``) so
        that it also runs with the numeric engine's ``matdiff.numpy`` as ``_np``.
        """
        params = [check_identifier(n) for n in self.variables]
        pr = NumpyPrinter(self._dim_code(), fast=fast)
        pr.share([self.expr])
        code = pr.emit(self.expr)
        body = pr.lines + [f"return {code}"]
        return f"def {name}({', '.join(params)}):\n" + "".join(f"    {ln}\n" for ln in body)

    @property
    def numpy_source(self) -> str:
        """Source of a function returning (value, derivative), temporaries shared."""
        return self._source(NumpyPrinter(self._dim_code(), fast=True))

    @property
    def array_api_source(self) -> str:
        """``numpy_source`` written with the Python array API only, on a namespace ``_xp``.

        The caller binds ``_xp`` (``Derivative.code`` writes the binding for a backend);
        raises ``SymbolicError`` for the few forms whose code needs NumPy.
        """
        return self._source(ArrayApiPrinter(self._dim_code()))

    def code(self, backend: str = "numpy") -> str:
        """A self-contained module defining ``derivative(<variables>)`` for ``backend``.

        ``backend`` is one of ``BACKENDS``: ``"numpy"`` (``numpy_source`` with its import),
        ``"array-api"`` (the namespace taken from the arguments at each call, through
        ``array_api_compat``), ``"dask"`` or ``"cupy"``. A function the backend lacks
        raises ``SymbolicError`` naming it, where the backend is installed to ask.

        >>> d = derivative("sum(exp(X*w))", wrt="w")
        >>> print(d.code("array-api"))  # doctest: +ELLIPSIS
        from array_api_compat import array_namespace
        <BLANKLINE>
        <BLANKLINE>
        def derivative(X, w):
            \"\"\"gradient of 'sum(exp(X*w))' with respect to w.\"\"\"
            _xp = array_namespace(X, w)
            _t0 = _xp.exp(X @ w)
            _value = _xp.sum(_t0)
            _deriv = X.T @ _t0
            return _value, _deriv
        <BLANKLINE>
        """
        if backend not in BACKENDS:
            raise SymbolicError(
                f"no code for the backend {backend!r}; the backends: {', '.join(BACKENDS)}"
            )
        if backend == "numpy":
            return f"{BACKENDS[backend]}\n\n\n{self.numpy_source}"
        if backend == "array-api":
            params = ", ".join(check_identifier(n) for n in self.variables)
            pr = ArrayApiPrinter(self._dim_code())
            body = self._source(pr, first=f"_xp = array_namespace({params})")
            return f"from array_api_compat import array_namespace\n\n\n{body}"
        source = self.array_api_source
        xp = _installed_namespace(backend)
        if xp is not None:
            self._refuse_missing(source, xp, _library_name(xp))
        return f"{BACKENDS[backend]}\n\n\n{source}"

    def _refuse_missing(self, source: str, xp, backend: str) -> None:
        missing = _missing_calls(source, xp)
        if missing:
            which = ", ".join(missing)
            library = backend if backend == xp.__name__ else f"{backend} ({xp.__name__})"
            raise SymbolicError(
                f"the code for the derivative of {self.source!r} calls {which}, which "
                f"{library} does not have; evaluate it on NumPy arrays (x.compute() of a "
                "Dask array, cupy.asnumpy(x) of a CuPy one) or on arrays of another library "
                f"that has {'them' if len(missing) > 1 else 'it'}"
            )

    def _source(self, pr: NumpyPrinter, first: str | None = None) -> str:
        params = [check_identifier(n) for n in self.variables]
        if first is not None:
            pr.lines.append(first)
        roots = [self.expr] + ([self.result] if self.form == "matrix" else [])
        if self.terms is not None:
            for t in self.terms:
                roots.extend(x for x in (t.coef, t.left, t.right, t.mat, t.grad) if x is not None)
        pr.share(roots)
        value = pr.emit(self.expr)
        pr.assign("_value", value)
        if self.form == "matrix":
            pr.assign("_deriv", pr.emit(self.result))
        elif isinstance(pr, ArrayApiPrinter):
            self._tensor_code_array_api(pr)
        else:
            # the Kronecker text is in the vec layout; the code builds out.shape + var.shape
            self._tensor_code(pr)
        doc = f'"""{self.what} of {self.source!r} with respect to {self.wrt}."""'
        doc = doc.replace("\\", "\\\\")
        lines = [doc] + pr.lines + ["return _value, _deriv"]
        return f"def derivative({', '.join(params)}):\n" + "".join(f"    {ln}\n" for ln in lines)

    def _tensor_code(self, pr: NumpyPrinter) -> None:
        x = self.var
        m, n = x.shape
        p, q = self.out_shape
        dm, dn, dp, dq = (pr.dim(d) for d in (m, n, p, q))
        if self.bilinear is not None:
            self._bilinear_code(pr, dm, dn, dp, dq)
            return
        if self.terms is None:
            self._basis_code(pr, dm, dn, dp, dq)
            return
        first = True

        def accumulate(code: str) -> None:
            nonlocal first
            pr.lines.append(f"_T = {code}" if first else f"_T += {code}")
            first = False

        def sparse(t: Term) -> bool:
            return t.form in ("had", "hadT") or (
                t.form == "kron" and (t.left is None or t.right is None)
            )

        if any(sparse(t) for t in self.terms):
            pr.assign("_T", f"_np.zeros(({dp}, {dq}, {dm}, {dn}))")
            first = False
        for t in self.terms:
            coef = "" if (isinstance(t.coef, E.Const) and t.coef.value == 1.0) else pr.emit(t.coef)
            scale = f"({coef}) * " if coef else ""
            if t.form == "kron" and t.left is None:
                # I*dX*Q: T[i, j, i, l] = Q[l, j] -- write the blocks, no products with eye
                Q = f"({pr.as2d(t.right)}).T" if t.right is not None else f"_np.eye({dn})"
                Q = f"({Q})"
                pr.assign("_r", f"_np.arange({dm})")
                pr.lines.append(f"_T[_r, :, _r, :] += {scale}{Q}")
            elif t.form == "kron" and t.right is None:
                # P*dX*I: T[i, j, k, j] = P[i, k]
                pr.assign("_c", f"_np.arange({dn})")
                pr.lines.append(f"_T[:, _c, :, _c] += {scale}({pr.as2d(t.left)})")
            elif t.form in ("kron", "kronT"):
                rows_p, rows_q = (m, n) if t.form == "kron" else (n, m)
                P = pr.as2d(t.left) if t.left is not None else f"_np.eye({pr.dim(rows_p)})"
                Q = pr.as2d(t.right) if t.right is not None else f"_np.eye({pr.dim(rows_q)})"
                spec = "ik,lj->ijkl" if t.form == "kron" else "il,kj->ijkl"
                accumulate(f"{scale}_np.einsum('{spec}', {P}, {Q})")
            elif t.form in ("had", "hadT"):
                M = pr.as2d(t.mat)
                pr.assign("_I, _J", f"_np.indices(({dp}, {dq}))")
                idx = "_I, _J, _I, _J" if t.form == "had" else "_I, _J, _J, _I"
                pr.lines.append(f"_T[{idx}] += {scale}({M})")
            else:
                M, G = pr.as2d(t.mat), pr.as2d(t.grad)
                accumulate(f"{scale}_np.einsum('ij,kl->ijkl', {M}, {G})")
        if first:  # no terms: the derivative is zero
            pr.assign("_T", f"_np.zeros(({dp}, {dq}, {dm}, {dn}))")
        self._finish_tensor(pr)

    def _tensor_code_array_api(self, pr: NumpyPrinter) -> None:
        """``_tensor_code`` as a sum of broadcast products: the standard has no einsum and
        no writes through integer-array indices."""
        if self.terms is None:
            raise SymbolicError(
                f"the derivative of {self.source!r} has no closed form: its code fills the "
                "tensor one direction at a time by writing into arrays, which only the "
                "NumPy code does; call function() with NumPy arrays"
            )
        x = self.var
        m, n = x.shape
        p, q = self.out_shape
        dm, dn, dp, dq = (pr.dim(d) for d in (m, n, p, q))
        xp = pr.xp

        def named(code: str) -> str:
            name = pr.fresh()
            pr.assign(name, code)
            return name

        def eye(d: str) -> str:
            return f"{xp}.eye({d})"

        terms = []
        for t in self.terms:
            coef = "" if (isinstance(t.coef, E.Const) and t.coef.value == 1.0) else pr.emit(t.coef)
            scale = f"({coef}) * " if coef else ""
            if t.form in ("kron", "kronT"):
                rows_p, rows_q = (m, n) if t.form == "kron" else (n, m)
                P = named(pr.as2d(t.left) if t.left is not None else eye(pr.dim(rows_p)))
                Q = named(pr.as2d(t.right) if t.right is not None else eye(pr.dim(rows_q)))
                if t.form == "kron":  # T[i, j, k, l] = P[i, k] Q[l, j]
                    body = f"{P}[:, None, :, None] * {Q}.T[None, :, None, :]"
                else:  # T[i, j, k, l] = P[i, l] Q[k, j]
                    body = f"{P}[:, None, None, :] * {Q}.T[None, :, :, None]"
            elif t.form in ("had", "hadT"):
                M = named(pr.as2d(t.mat))
                if t.form == "had":  # T[i, j, i, j] = M[i, j]
                    spread = f"{eye(dp)}[:, None, :, None] * {eye(dq)}[None, :, None, :]"
                else:  # T[i, j, j, i] = M[i, j]
                    spread = f"{eye(dp)}[:, None, None, :] * {eye(dq)}[None, :, :, None]"
                body = f"{M}[:, :, None, None] * {spread}"
            else:  # T[i, j, k, l] = M[i, j] G[k, l]
                M, G = named(pr.as2d(t.mat)), named(pr.as2d(t.grad))
                body = f"{M}[:, :, None, None] * {G}[None, None, :, :]"
            terms.append(scale + body)
        if not terms:  # the derivative is zero
            terms.append(f"{xp}.zeros(({dp}, {dq}, {dm}, {dn}))")
        pr.assign("_T", terms[0])
        for term in terms[1:]:
            pr.assign("_T", f"_T + {term}")
        self._finish_tensor(pr)

    def _finish_tensor(self, pr: NumpyPrinter, pairs: int = 1) -> None:
        x = self.var
        dims = _numeric_shape(self.out_shape) + _numeric_shape(x.shape) * pairs
        if len(dims) == 2 + 2 * pairs:
            pr.assign("_deriv", "_T")
        else:
            shape = [pr.dim(d) for d in dims]
            shape_code = "(" + ", ".join(shape) + ("," if len(shape) == 1 else "") + ")"
            reshaped = (
                f"_xp.reshape(_T, {shape_code})"
                if isinstance(pr, ArrayApiPrinter)
                else f"_T.reshape({shape_code})"
            )
            pr.assign("_deriv", reshaped)
        if x.declared == "symmetric" and isinstance(pr, ArrayApiPrinter):
            pr.assign("_deriv", "0.5 * (_deriv + _xp.matrix_transpose(_deriv))")
        elif x.declared == "symmetric":
            # only symmetric directions dX exist: project the input pairs onto them
            pr.assign("_deriv", "0.5 * (_deriv + _deriv.swapaxes(-1, -2))")
            if pairs == 2:
                pr.assign("_deriv", "0.5 * (_deriv + _deriv.swapaxes(-3, -4))")

    def _bilinear_code(self, pr: NumpyPrinter, dm: str, dn: str, dp: str, dq: str) -> None:
        """The Hessian of an array: the bilinear form d2f[U, dX] at every pair of basis
        directions U = E_ab, dX = E_kl."""
        x = self.var
        direction = E.var("_E", x.declared, x.shape)
        B = E.substitute(self.bilinear, {E.delta(x): direction})
        _hoist_invariants(pr, B, ("_E", "_U"))
        pr.assign("_T", f"_np.zeros(({dp}, {dq}, {dm}, {dn}, {dm}, {dn}))")
        _basis_arrays(pr, x, dm, dn, ("_E", "_U"))
        code, lines = _loop_code(pr, B)
        pr.lines.append(f"for _a, _b, _k, _l in _np.ndindex({dm}, {dn}, {dm}, {dn}):")
        body = ["_Uv[_a, _b] = 1.0", "_Ev[_k, _l] = 1.0"] + lines
        body += [
            f"_T[:, :, _a, _b, _k, _l] = _np.reshape({code}, ({dp}, {dq}))",
            "_Uv[_a, _b] = 0.0",
            "_Ev[_k, _l] = 0.0",
        ]
        pr.lines.extend("    " + ln for ln in body)
        self._finish_tensor(pr, pairs=2)

    def _basis_code(self, pr: NumpyPrinter, dm: str, dn: str, dp: str, dq: str) -> None:
        """The tensor column by column: the differential evaluated at each dX = E_kl."""
        x = self.var
        direction = E.var("_E", x.declared, x.shape)
        L = E.substitute(self.linear_form, {E.delta(x): direction})
        _hoist_invariants(pr, L, ("_E",))
        pr.assign("_T", f"_np.zeros(({dp}, {dq}, {dm}, {dn}))")
        _basis_arrays(pr, x, dm, dn, ("_E",))
        code, lines = _loop_code(pr, L)
        pr.lines.append(f"for _k, _l in _np.ndindex({dm}, {dn}):")
        body = ["_Ev[_k, _l] = 1.0"] + lines
        body += [f"_T[:, :, _k, _l] = _np.reshape({code}, ({dp}, {dq}))", "_Ev[_k, _l] = 0.0"]
        pr.lines.extend("    " + ln for ln in body)
        self._finish_tensor(pr)

    def function(self, np_module: Any = None) -> Callable:
        """The compiled ``numpy_source``: ``f(**variables) -> (value, derivative)``.

        The derivative has the numeric engine's layout, ``out.shape + var.shape``. Given
        arrays of another library (Dask, CuPy, any array-API namespace), ``f`` runs
        ``array_api_source`` on their namespace and returns that library's arrays (a
        Dask result stays lazy); a function the library lacks raises ``SymbolicError``
        naming it. ``np_module`` compiles the NumPy code against another module instead.
        """
        if np_module is None and self._function is not None:
            return self._function
        fn = compile_source(self.numpy_source, "derivative", np_module or numpy)
        if np_module is None:
            self._on_namespace: dict = {}
            fn = self._shape_checked(fn)
            self._function = fn
        return fn

    def _shape_checked(self, fn: Callable) -> Callable:
        """``fn`` refusing arrays whose sizes contradict the expression's dimensions.

        Without this, a mis-sized argument fails deep in NumPy (a matmul core-dimension
        message that names neither the variable nor the expression).
        """
        # (name, kind, (axis, dim) pairs) for every variable; the plan is built once
        plan = []
        for name, v in self.parsed.variables.items():
            r, c = v.shape
            if v.kind == "vector":
                plan.append((name, v.kind, ((0, r),)))
            elif v.kind == "matrix":
                plan.append((name, v.kind, ((0, r), (1, c))))
            else:
                plan.append((name, "scalar", ()))
        names = self.variables
        source = self.source
        exponents = [
            v.name
            for n in E.nodes(self.expr)
            if isinstance(n, E.MatPow)
            for v in E.variables(n.args[1])
        ]
        given = {dim: ("dims", dim, size) for dim, size in self.dims.items()}
        writes = _WRITES.search(self.numpy_source) is not None
        ranks = {
            "scalar": (0, "a number"),
            "vector": (1, "a 1-D array"),
            "matrix": (2, "a 2-D array"),
        }

        def refuse(message: str):
            return SymbolicError(f"derivative of {source!r}: {message}")

        def derivative(*args, **kwargs):
            if len(args) > len(names):
                raise refuse(f"takes {len(names)} arguments ({', '.join(names)}), not {len(args)}")
            values = {**dict(zip(names, args)), **kwargs} if args else kwargs
            unknown = [k for k in kwargs if k not in names]
            if unknown:
                raise refuse(
                    f"{unknown[0]} is not a variable of the expression "
                    f"(its variables: {', '.join(names)})"
                )
            missing = [name for name in names if name not in values]
            if missing:
                which = (
                    f"the argument {missing[0]} is"
                    if len(missing) == 1
                    else f"the arguments {', '.join(missing)} are"
                )
                raise refuse(f"{which} missing; pass {', '.join(names)}")
            for name in exponents:
                k = values.get(name, 0)
                k = k if _foreign(k) else numpy.asarray(k)
                if k.shape != () or not float(k) == int(float(k)):
                    raise SymbolicError(
                        f"derivative of {source!r}: {name} is the exponent of a matrix "
                        f"power, so it must be an integer, not {values.get(name)!r}"
                    )
            seen: dict = dict(given)
            foreign = False
            for name, kind, axes in plan:
                value = values[name]
                if writes and _traced(value):
                    raise refuse(
                        f"{name} is a traced value (under vmap, grad or jit), but the "
                        "generated code fills an array it allocates element by element, "
                        "which a traced value cannot enter; call the function once per "
                        "example, or differentiate with the numeric engine (matdiff.jacobian, "
                        "matdiff.hessian)"
                    )
                if type(value) is numpy.ndarray:
                    shape = value.shape
                elif _foreign(value):
                    shape, foreign = tuple(value.shape), True
                else:
                    shape = numpy.shape(value)
                rank, what = ranks[kind]
                if len(shape) != rank:
                    raise refuse(
                        f"{name} is a {kind}, so it needs {what}, not "
                        f"{'a number' if not shape else f'an array of shape {shape}'}"
                    )
                for axis, dim in axes:
                    size = shape[axis]
                    if size != size:  # NaN: a Dask array's size unknown until computed
                        continue
                    first = seen.setdefault(dim, (name, axis, size))
                    if first[2] != size:
                        other = (
                            f"dims[{dim!r}] is {first[2]}"
                            if first[0] == "dims"
                            else f"{first[0]}.shape[{first[1]}] is {first[2]}"
                        )
                        raise refuse(
                            f"{name}.shape[{axis}] is {size} but {other}, and both are the "
                            f"dimension {dim}; pass arrays of matching sizes"
                        )
            if foreign:
                return self._call_on_namespace(values)
            return fn(*args, **kwargs)

        derivative.__doc__ = fn.__doc__
        return derivative

    def _call_on_namespace(self, values: dict):
        """The derivative on arrays of another library, by the array-API code on their
        namespace: the values keep their type (a Dask result stays lazy)."""
        from array_api_compat import array_namespace

        # NumPy arrays among them are left to the other library's operators to take in
        arrays = [v for v in values.values() if _foreign(v)]
        try:
            xp = array_namespace(*arrays)
        except TypeError as err:
            raise SymbolicError(f"derivative of {self.source!r}: {err}") from None
        fn = self._on_namespace.get(xp)
        if fn is None:
            source = self.array_api_source
            self._refuse_missing(source, xp, _library_name(xp))
            fn = compile_source(source, "derivative", xp, module_name="_xp")
            self._on_namespace[xp] = fn
        return fn(**values)

    def value_function(self, np_module: Any = None, fast: bool | None = None) -> Callable:
        """The value alone, compiled against ``np_module`` (NumPy by default)."""
        if fast is None:
            fast = np_module is None or np_module is numpy
        return compile_source(self.value_source(fast=fast), "value", np_module or numpy)

    def check(self, seed: int = 0, **options: Any) -> CheckReport:
        """Compare with finite differences (and the numeric engine when importable).

        Returns a ``CheckReport``; raises ``CheckError`` on a mismatch.
        """
        try:
            report = check_derivative(self, seed=seed, **options)
        except CheckError as err:
            self._last_check = err  # a notebook shows the failure with the result
            raise
        self._last_check = report
        return report


def _basis_arrays(pr: NumpyPrinter, x, dm: str, dn: str, names: tuple) -> None:
    """Zero arrays of ``x``'s shape under ``names``, each with a matrix view ``name + 'v'``
    in which a loop sets one entry at a time: a basis direction E_kl."""
    shape = f"({dm},)" if x.kind == "vector" else f"({dm}, {dn})"
    for name in names:
        pr.assign(name, f"_np.zeros({shape})")
        pr.assign(f"{name}v", f"{name}.reshape({dm}, {dn})")


def _loop_code(pr: NumpyPrinter, expr) -> tuple[str, list[str]]:
    """The code of ``expr`` inside a loop: its shared subexpressions as the loop body's
    lines, and the expression that reads them."""
    inner = NumpyPrinter(pr.dim_code, fast=True)
    inner.names = dict(pr.names)
    inner.counter = pr.counter + 1000  # loop temporaries never collide with outer ones
    inner.share([expr])
    return inner.emit(expr), inner.lines


def _hoist_invariants(pr: NumpyPrinter, L: Expr, directions: tuple) -> None:
    """Compute once, before the loop over directions, what does not depend on them."""

    def varies(n: Expr) -> bool:
        return any(E.depends_on(n, d) for d in directions)

    invariant = []
    for n in E.nodes(L):
        if not isinstance(n, (E.Var, E.Const, E.Fill, E.Eye)) and not varies(n):
            if any(n in a.args for a in E.nodes(L) if varies(a)):
                invariant.append(n)
    for n in invariant:
        if n not in pr.names:
            name = pr.fresh()
            pr.assign(name, pr.emit(n))
            pr.names[n] = name


def _library_name(xp) -> str:
    """``dask.array`` for ``array_api_compat.dask.array``: the library the user chose."""
    return xp.__name__.removeprefix("array_api_compat.")


def _installed_namespace(backend: str):
    """The array-API namespace of ``backend`` when it is installed, else None."""
    module = {"dask": "dask.array", "cupy": "cupy"}[backend]
    try:
        return importlib.import_module(f"array_api_compat.{module}")
    except (ImportError, RuntimeError, OSError):  # CuPy without CUDA may fail either way
        return None


def compile_source(source: str, name: str, module: Any, module_name: str = "_np") -> Callable:
    """Run generated ``source`` with ``module`` bound as ``module_name`` and return its
    function ``name``."""
    # The source was generated from the parsed tree only: names are checked identifiers,
    # numbers are float reprs, and it calls nothing but _np. NumPy itself needs
    # __import__ in the calling frame's builtins (ufunc.outer crashes the interpreter
    # without it), so that one entry stays.
    builtins: dict = {"__import__": __import__}
    if module_name == "_xp":
        builtins["int"] = int  # the array-API code passes matrix_power a Python int
    namespace: dict = {module_name: module, "__builtins__": builtins}
    exec(compile(source, f"<matdiff.symbolic {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]


def derivative(
    expression: str,
    wrt: str,
    order: int = 1,
    kinds: dict | list | None = None,
    dims: dict | None = None,
) -> Derivative:
    """Differentiate a text expression with respect to the variable ``wrt``.

    ``order=1`` gives the gradient of a scalar expression (shaped like the variable), the
    Jacobian of a vector expression, or the derivative of a matrix expression (as a
    Kronecker expression where one exists); ``order=2`` the Hessian, which for a vector or
    matrix expression is the ``out.shape + var.shape + var.shape`` tensor of its entries'
    Hessians.
    ``kinds`` declares variables (``{"S": "symmetric", "A": "m x n"}``); ``dims`` gives
    sizes for dimensions that no variable fixes.

    >>> d = derivative("x'*A*x", wrt="x")
    >>> d.text
    "(A + A')*x"
    >>> print(derivative("log(det(X))", wrt="X"))
    inv(X)'
    >>> print(derivative("x'*A*x", wrt="x", order=2))
    A + A'
    """
    if order not in (1, 2):
        raise SymbolicError("order must be 1 (gradient, Jacobian) or 2 (Hessian)")
    if not isinstance(wrt, str):
        raise SymbolicError("wrt must be a variable name")
    dims = normalize_dims(dims)
    try:
        return _derivative(expression, wrt, order, kinds, dims)
    except RecursionError:
        raise SymbolicError("expression is nested too deeply to differentiate") from None


def _derivative(expression, wrt, order, kinds, dims) -> Derivative:
    parsed = parse(expression, kinds, _with_info=True)
    note = None
    if wrt not in parsed.variables:
        parsed.variables[wrt] = _absent_variable(parsed, wrt)
        new_dims = [d for d in parsed.variables[wrt].shape if d != 1]
        parsed.dim_names += [d for d in dict.fromkeys(new_dims) if d not in parsed.dim_names]
        note = f"the expression does not depend on {wrt}: the derivative is zero"
    x = parsed.variables[wrt]
    try:
        d = _read_off(parsed, parsed.expr, x, order, dims)
        shown = d.result if d.result is not None else d.linear_form
        if note is None and any(isinstance(n, E.PowSum) for n in E.nodes(shown)):
            note = (
                "sum(..., i = 0..k - 1) is the derivative of the matrix power X^k, which "
                "the language cannot write; for k < 0 it runs over i = k..-1 with a minus "
                "sign, and function() evaluates it"
            )
        d.note = note
        if note is not None:
            d.notes.append(note)
            # before the result, which the derivation always ends in
            d._steps.append(Step("note", note))
        return d
    except SymbolicError as err:
        if err.line is not None:
            raise
        where = _culprit(parsed, x, order, dims)
        raise SymbolicError(err.message, parsed.source, *where) from None


def _absent_variable(parsed: Parsed, name: str) -> Expr:
    """The declared variable ``name`` that the expression does not use.

    Its derivative is zero, in the usual layout, which needs its kind: a name that is
    neither used nor declared is more likely a typo than a question, and is refused.
    """
    decl = parsed.declarations.get(name)
    if decl is None:
        kind = default_kind(name)
        raise SymbolicError(
            f"{name!r} is not a variable of the expression "
            f"(variables: {', '.join(parsed.variables) or 'none'}); to differentiate "
            f"with respect to a variable the expression does not use, declare it: "
            f"kinds={{{name!r}: {kind!r}}} (--declare '{name}: {kind}' on the command line)"
        )
    dims = list(decl.dims)
    if decl.kind == "scalar":
        shape = E.SCALAR
    elif decl.kind == "vector":
        shape = (dims[0] if dims else f"len({name})", 1)
    elif decl.kind == "symmetric":
        n = dims[0] if dims else f"size({name})"
        shape = (n, n)
    else:
        shape = (dims[0], dims[1]) if dims else (f"rows({name})", f"cols({name})")
    return E.var(name, decl.kind, shape)


def _culprit(parsed: Parsed, x: Expr, order: int, dims) -> tuple[int, int]:
    """Where the derivative fails: the smallest written subexpression that fails alone."""
    for node in E.nodes(parsed.expr):
        if isinstance(node, E.Var) or not E.depends_on(node, x.name):
            continue
        where = parsed.locate(node)
        if where is None:
            continue
        try:
            _read_off(parsed, node, x, order if node.is_scalar else 1, dims)
        except SymbolicError:
            return where
    return parsed.locate(parsed.expr) or (1, 1)


def _read_off(parsed: Parsed, f: Expr, x: Expr, order: int, dims) -> Derivative:
    wrt = x.name
    steps = Steps([Step("expression", f"f = {to_text(f)}")])

    def differentiate(fun: Expr, label: str) -> Expr:
        """The simplified differential of ``fun``, recorded rule by rule, then simplified."""
        L = differential(fun, x)
        steps.append(Later(lambda: rule_steps(fun, x, label)))
        L = simplify(L)
        steps.append(Step("simplify", f"d{label} = {to_text(L)}"))
        return L

    def read_gradient(fun: Expr, label: str) -> tuple[Expr | None, Expr]:
        """The gradient of ``fun`` and its differential; None for a gradient with no
        matrix form (through a general ``kron``), which the caller gives as a tensor."""
        L = differentiate(fun, label)
        try:
            g = gradient_from(L, x)
        except SymbolicError as err:
            steps.append(Step(f"no matrix form ({err.message})", f"d{label} = {to_text(L)}"))
            return None, L
        rule = f"read off d{label} = <g, d{wrt}> with <S, P*dX*Q> = <P'*S*Q', dX>"
        if any(isinstance(n, E.Kron) and n.has_delta for n in E.nodes(L)):
            rule += " and <kron(P, Q), kron(F, B)> = <P, F>*<Q, B>"
        steps.append(Step(rule, to_text(g)))
        if x.declared == "symmetric":
            g = E.scale(0.5, E.add(g, E.transpose(g)))
            steps.append(Step("symmetric variable: sym(G) = (G + G')/2", to_text(g)))
        g = simplify(g)
        steps.append(Step("simplify", to_text(g)))
        return g, L

    if order == 1 and f.is_scalar:
        g, L = read_gradient(f, "f")
        if g is None:
            # the code evaluates the differential along each basis direction: exact
            return Derivative(
                parsed, wrt, 1, "gradient", None, None, L, "tensor", steps, dims, E.SCALAR
            )
        return Derivative(parsed, wrt, 1, "gradient", g, None, None, "matrix", steps, dims, x.shape)

    if order == 2 and not f.is_scalar:
        # the Hessian of an array: out.shape + x.shape + x.shape, whose slices are the
        # Hessians of the entries; it is the derivative of the first derivative where that
        # has a matrix form, and else is read off the second differential
        L = differentiate(f, "f")
        if x.is_scalar:
            D = simplify(E.substitute(L, {E.delta(x): E.const(1.0)}))
            steps.append(Step(f"read off df = D*d{wrt}", to_text(D)))
            target, label = D, "D"
        else:
            J = None
            if x.kind == "vector" and f.kind in ("vector", "row"):
                try:
                    J = simplify(jacobian_from(L, x))
                except SymbolicError:
                    pass
            if J is None:
                return _second_differential(parsed, f, x, L, steps, dims)
            steps.append(Step(f"read off df = J*d{wrt}", to_text(J)))
            target, label = J, "J"
        what = "hessian"
    elif order == 2:
        target, L = read_gradient(f, "f")
        if target is None:
            return _second_differential(parsed, f, x, L, steps, dims)
        label, what = "g", "hessian"
    else:
        both_arrays = f.kind != "matrix" and x.kind != "matrix"
        target, label, what = f, "f", "jacobian" if both_arrays else "derivative"

    def done(result, form, terms=None, linear_form=None) -> Derivative:
        return Derivative(
            parsed, wrt, order, what, result, terms, linear_form, form, steps, dims, target.shape
        )

    if x.is_scalar and target.is_scalar:
        g, _ = read_gradient(target, label)
        if g is not None:
            return done(g, "matrix")
    L = differentiate(target, label)
    if x.is_scalar:
        d = simplify(E.substitute(L, {E.delta(x): E.const(1.0)}))
        steps.append(Step(f"read off d{label} = D*d{wrt}", to_text(d)))
        return done(d, "matrix")
    if x.kind == "vector" and target.kind in ("vector", "row", "scalar"):
        try:
            J = simplify(jacobian_from(L, x))
        except SymbolicError:
            J = None
        if J is not None:
            steps.append(Step(f"read off d{label} = J*d{wrt}", to_text(J)))
            return done(J, "matrix")
    try:
        terms = tensor_terms(L, x)
    except SymbolicError:
        # no term-by-term form: the code evaluates the differential along each basis
        # direction, which is exact, and the text says so
        steps.append(
            Step("no matrix form: the tensor is evaluated from the differential", to_text(L))
        )
        return done(None, "tensor", linear_form=L)
    K = kron_text_expr(terms, x) if terms else E.const(0.0)
    if K is not None:
        K = simplify(K)
        steps.append(
            Step(
                f"read off vec(d{label}) = K*vec(d{wrt}) with vec(P*dX*Q) = kron(Q', P)*vec(dX)",
                to_text(K),
            )
        )
        return done(K, "kron", terms, L)
    steps.append(
        Step("no Kronecker form: the tensor is evaluated from the differential", to_text(L))
    )
    return done(None, "tensor", terms, L)


def _second_differential(parsed, f, x, L, steps, dims) -> Derivative:
    """The Hessian of an array ``f`` from its second differential, as a tensor.

    The first differential's direction becomes a variable ``U``, so that the differential
    of ``L(U)`` is the bilinear form ``d2f[U, dX]``; the code evaluates it at every pair of
    basis directions, which is exact. The text shows the quadratic form ``d2f[dX, dX]``,
    which determines the (symmetric) Hessian.
    """
    u = E.var("_U", x.declared, x.shape)
    Lu = E.substitute(L, {E.delta(x): u})
    used: set = set()
    try:
        B = simplify(differential(Lu, x, used))
    except SymbolicError as err:
        # the first direction is the variable _U here; the user knows it as dX
        # (a whole word: user names never start with "_", but may contain "_U")
        message = re.sub(r"(?<!\w)_U\b", f"d{x.name}", err.message)
        raise SymbolicError(message) from None
    Q = simplify(E.substitute(B, {u: E.delta(x)}))
    steps.append(Step(rule_statements(used), f"d2f = {to_text(Q)}"))
    steps.append(
        Step(
            "no matrix form: the tensor is evaluated from the second differential",
            f"d2f = {to_text(Q)}",
        )
    )
    d = Derivative(parsed, x.name, 2, "hessian", None, None, Q, "tensor", steps, dims, f.shape)
    d.bilinear = B
    return d


def lambdify(
    expression: str,
    kinds: dict | list | None = None,
    dims: dict | None = None,
    np_module: Any = None,
) -> Callable:
    """Compile a text expression to a NumPy function of its variables (keyword arguments).

    >>> import numpy as np
    >>> f = lambdify("x'*A*x")
    >>> float(f(x=np.ones(2), A=np.eye(2)))
    2.0
    """
    parsed = parse(expression, kinds, _with_info=True)
    dims = normalize_dims(dims)
    params = [check_identifier(n) for n in parsed.variables]
    codes: dict = {}
    for name, v in parsed.variables.items():
        r, c = v.shape
        if r != 1:
            codes.setdefault(r, f"{name}.shape[0]")
        if c != 1:
            codes.setdefault(c, f"{name}.shape[{1 if r != 1 else 0}]")
    for name, size in (dims or {}).items():
        codes.setdefault(name, str(int(size)))
    pr = NumpyPrinter(codes, fast=np_module is None or np_module is numpy)
    pr.share([parsed.expr])
    code = pr.emit(parsed.expr)
    body = pr.lines + [f"return {code}"]
    source = f"def value({', '.join(params)}):\n" + "".join(f"    {ln}\n" for ln in body)
    return compile_source(source, "value", np_module or numpy)
