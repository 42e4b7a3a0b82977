"""The JSON API behind the page: validate a request, differentiate, answer a dict.

Two operations, each a function of the decoded JSON body that returns the JSON answer:
:func:`analyze` (``POST /api/parse``) reads an expression and reports its variables with
their kinds and dimensions, and :func:`compute` (``POST /api/derivative``) returns the
derivative as LaTeX, MathML, text and NumPy code with its derivation, self-check and
computation graph. Both raise :class:`ApiError` for anything they refuse; the server
turns it into an error answer with the HTTP status it carries.

The expression is only ever parsed by the symbolic engine's grammar; nothing the user
sends is executed. The server runs these functions in worker processes with a time limit
(:mod:`matdiff.web.worker`).

>>> answer = compute({"expression": "x'*A*x", "wrt": "x", "check": False, "graph": False})
>>> answer["result"]["text"]
"(A + A')*x"
>>> analyze({"expression": "x'*A*x"})["variables"][0]["kind"]
'vector'
"""

from __future__ import annotations

import re

from .display import mathml, numpy_module_source

#: Longest expression the API reads, in characters.
MAX_EXPRESSION = 2000
#: Most declarations or sizes in one request.
MAX_ENTRIES = 64
#: Largest size a dimension may be given.
MAX_SIZE = 100_000
#: The self-check runs at sizes no larger than this, whatever sizes were asked for.
MAX_CHECK_SIZE = 6
#: Orders the engine differentiates to.
ORDERS = {1: "derivative", 2: "Hessian"}

KINDS = ("scalar", "vector", "matrix", "symmetric")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


class ApiError(Exception):
    """A refused request: ``status`` is the HTTP status, ``kind`` names the cause.

    ``line`` and ``column`` (1-based) point into the expression when the cause has a place.
    """

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column

    def to_json(self) -> dict:
        return {
            "ok": False,
            "error": {
                "kind": self.kind,
                "message": self.message,
                "line": self.line,
                "column": self.column,
            },
        }


# ---------------------------------------------------------------- reading a request


def _bad(message: str) -> ApiError:
    return ApiError(400, "request", message)


def _expression(payload: dict) -> str:
    text = payload.get("expression")
    if not isinstance(text, str):
        raise _bad("'expression' must be a string, e.g. \"x'*A*x\"")
    if len(text) > MAX_EXPRESSION:
        raise ApiError(413, "limit", f"the expression is longer than {MAX_EXPRESSION} characters")
    return text


def _kinds(payload: dict) -> dict:
    """Declarations: ``{"S": "symmetric", "A": "matrix m x n"}`` or ``["S: symmetric"]``."""
    kinds = payload.get("kinds") or {}
    if isinstance(kinds, list):
        if not all(isinstance(k, str) and ":" in k for k in kinds):
            raise _bad("'kinds' as a list holds strings like \"S: symmetric\"")
        pairs = [k.split(":", 1) for k in kinds]
        kinds = {name.strip(): spec.strip() for name, spec in pairs}
    if not isinstance(kinds, dict):
        raise _bad('\'kinds\' must map variable names to kinds, e.g. {"S": "symmetric"}')
    if len(kinds) > MAX_ENTRIES:
        raise ApiError(413, "limit", f"more than {MAX_ENTRIES} declarations")
    out = {}
    for name, spec in kinds.items():
        if not _NAME.match(name) or len(name) > 64:
            raise _bad(f"'kinds': {name!r} is not a variable name")
        if not isinstance(spec, str) or len(spec) > 100:
            raise _bad(f"'kinds': the kind of {name} must be a string like \"matrix m x n\"")
        out[name] = spec
    return out


def _dims(payload: dict) -> dict:
    dims = payload.get("dims") or {}
    if not isinstance(dims, dict):
        raise _bad("'dims' must map dimension names to sizes, e.g. {\"n\": 5}")
    if len(dims) > MAX_ENTRIES:
        raise ApiError(413, "limit", f"more than {MAX_ENTRIES} sizes")
    out = {}
    for name, size in dims.items():
        if not isinstance(name, str) or len(name) > 64:
            raise _bad(f"'dims': {name!r} is not a dimension name")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
            raise _bad(f"'dims': the size of {name} must be a whole number from 1 to {MAX_SIZE}")
        out[name] = size
    return out


def _order(payload: dict) -> int:
    order = payload.get("order", 1)
    if isinstance(order, bool) or order not in ORDERS:
        raise _bad("'order' must be 1 (derivative) or 2 (Hessian)")
    return order


def _flag(payload: dict, name: str) -> bool:
    value = payload.get(name, True)
    if not isinstance(value, bool):
        raise _bad(f"'{name}' must be true or false")
    return value


def _symbolic_error(err) -> ApiError:
    return ApiError(422, "expression", err.message, err.line, err.column)


# ---------------------------------------------------------------- answers


def _variables(parsed) -> list[dict]:
    out = []
    for name, v in parsed.variables.items():
        dims = [str(d) for d in v.shape if d != 1]
        if v.declared == "symmetric":
            dims = dims[:1]
        out.append(
            {
                "name": name,
                "kind": v.declared,
                "dims": dims,
                "declared": name in parsed.declarations,
            }
        )
    return out


def analyze(payload: dict) -> dict:
    """``POST /api/parse``: the expression's variables, kinds and dimensions, or the error.

    >>> analyze({"expression": "x'*A*"})
    Traceback (most recent call last):
    ...
    matdiff.web.api.ApiError: unexpected end of input; expected '(', '+', '-', a name, a number
    >>> [(v["name"], v["kind"]) for v in analyze({"expression": "tr(S*X)",
    ...     "kinds": {"S": "symmetric"}})["variables"]]
    [('S', 'symmetric'), ('X', 'matrix')]
    """
    from matdiff.symbolic import SymbolicError
    from matdiff.symbolic.parser import parse
    from matdiff.symbolic.printers import to_latex, to_text

    if not isinstance(payload, dict):
        raise _bad("the request body must be a JSON object")
    text = _expression(payload)
    try:
        parsed = parse(text, _kinds(payload), _with_info=True)
    except SymbolicError as err:
        raise _symbolic_error(err) from None
    except RecursionError:
        raise ApiError(422, "expression", "the expression is nested too deeply") from None
    latex = to_latex(parsed.expr)
    return {
        "ok": True,
        "expression": text,
        "kind": parsed.expr.kind,
        "text": to_text(parsed.expr),
        "latex": latex,
        "mathml": mathml(latex),
        "variables": _variables(parsed),
        "dimensions": [str(d) for d in parsed.dim_names],
    }


def compute(payload: dict) -> dict:
    """``POST /api/derivative``: the derivative with its derivation, check and graph.

    The request's fields: ``expression`` (required), ``wrt`` (default: the first
    variable), ``kinds``, ``dims``, ``order`` (1 or 2), ``check`` and ``graph`` (both
    true by default).
    """
    from matdiff.symbolic import SymbolicError, derivative

    info = analyze(payload)
    wrt = payload.get("wrt") or (info["variables"][0]["name"] if info["variables"] else None)
    if not isinstance(wrt, str):
        raise _bad("'wrt' must be the name of a variable of the expression")
    order = _order(payload)
    kinds, dims = _kinds(payload), _dims(payload)
    want_check, want_graph = _flag(payload, "check"), _flag(payload, "graph")
    try:
        d = derivative(info["expression"], wrt=wrt, order=order, kinds=kinds, dims=dims)
    except SymbolicError as err:
        raise _symbolic_error(err) from None
    latex = d.latex
    answer = {
        **info,
        "wrt": wrt,
        "order": order,
        "result": {
            "what": d.what,
            "form": d.form,
            "text": d.text,
            "latex": latex,
            "mathml": mathml(latex),
            "numpy": numpy_module_source(d),
        },
        "steps": [{"rule": s.rule, "expression": s.expression} for s in d.steps],
        "check": _check(d) if want_check else {"status": "not requested"},
    }
    # the graph is drawn at the sizes the check used, so its values match the check's
    sizes = answer["check"].get("sizes")
    answer["graph"] = _graph(d, sizes) if want_graph else {"svg": None, "note": "not requested"}
    return answer


def check_sizes(d) -> dict | None:
    """Sizes for the self-check when the requested ones are too large, else None.

    None lets the check choose its own small sizes (and retry with others).
    """
    if not any(int(v) > MAX_CHECK_SIZE for v in d.dims.values()):
        return None
    defaults = (3, 4, 2, 5, 6)
    sizes, k = {}, 0
    for dim in d.parsed.dim_names:
        if dim in d.dims:
            sizes[dim] = min(int(d.dims[dim]), MAX_CHECK_SIZE)
        else:
            sizes[dim] = defaults[k % len(defaults)]
            k += 1
    return sizes


def _check(d) -> dict:
    from matdiff.symbolic import CheckError, SymbolicError

    try:
        report = d.check(seed=0, sizes=check_sizes(d))
    except CheckError as err:
        return {"status": "failed", "text": str(err)}
    except SymbolicError as err:
        return {"status": "not run", "text": str(err)}
    return {
        "status": "passed",
        "text": str(report),
        "sizes": {str(k): int(v) for k, v in report.sizes.items()},
        "fd_error": report.fd_error,
        "engine": report.engine,
        "engine_error": report.engine_error,
    }


def _graph(d, sizes: dict | None = None) -> dict:
    """The numeric engine's graph of the value at the self-check's inputs, as SVG."""
    import numpy as np

    import matdiff.numpy as mnp
    from matdiff.graph import graph, render
    from matdiff.symbolic.check import domains, random_inputs

    sizes = sizes or check_sizes(d) or {dim: 3 for dim in d.parsed.dim_names}
    inputs = random_inputs(d, np.random.default_rng(0), sizes, domains(d.expr))
    value = d.value_function(np_module=mnp, fast=False)
    shaped = np.shape(value(**inputs))
    cotangent = None if shaped == () else np.ones(shaped)
    try:
        # the value's parameters are the variables, in the order the inputs were made
        g = graph(value, argnums=tuple(range(len(inputs))), cotangent=cotangent)(*inputs.values())
    except Exception as err:  # the numeric engine may lack a primitive the code uses
        return {"svg": None, "note": f"no graph: {type(err).__name__}: {err}"}
    svg = render.svg(g)
    if svg is None:
        return {"svg": None, "note": "Graphviz is not installed, so there is no picture"}
    sizes_text = ", ".join(f"{k}={v}" for k, v in sizes.items())
    return {"svg": svg, "note": f"the value at random inputs of sizes {sizes_text}"}
