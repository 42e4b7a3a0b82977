"""Printers: text (re-parseable), LaTeX and NumPy source.

Each printer is a table from node kind (the ``expr`` classes) to a function that returns
the spelling and its binding level; the caller brackets a child that binds looser than
its place needs. Levels: sum 1, product 2 (``*  /  .*  ./``), unary minus 3, power 4,
postfix transpose 5, atom 6. ``tests/symbolic/test_sym_nodes.py`` checks that every node
kind has an entry in every table.
"""

from __future__ import annotations

import keyword

from . import expr as E
from .errors import SymbolicError
from .expr import (
    ADD,
    ATOM,
    MUL,
    NEG,
    POST,
    POW,
    SCALAR,
    Expr,
    const,
    fmt_number,
    mul,
    pow_,
    split_coeff,
)

# ---------------------------------------------------------------- text


def to_text(e: Expr) -> str:
    """The expression in the input language; ``parse(to_text(e))`` gives ``e`` back."""
    return _text(e, in_sum=False)[0]


def _wrap(pair: tuple[str, int], level: int) -> str:
    s, p = pair
    return f"({s})" if p < level else s


def _text(e: Expr, in_sum: bool) -> tuple[str, int]:
    return TEXT[type(e)](e, in_sum)


def _text_number(e, in_sum):
    s = fmt_number(e.value)
    return (s, NEG) if e.value < 0 else (s, ATOM)


def _text_fill(e, in_sum):
    if in_sum:  # a constant in a sum broadcasts: 1 + t
        return _text_number(e, in_sum)
    s = fmt_number(e.value)
    r, c = e.shape
    if c == 1:
        return f"vector({s})", ATOM
    if r == 1:
        return f"vector({s})'", POST
    return f"matrix({s})", ATOM


def _text_pow(e, in_sum):
    p = e.p
    hat = "^" if e.is_scalar else ".^"
    base = _wrap(_text(e.args[0], False), POST)
    if p < 0:
        inv = "1/" if e.is_scalar else "1./"
        if p == -1:
            return inv + base, MUL
        return f"{inv}{base}{hat}{fmt_number(-p)}", MUL
    return f"{base}{hat}{fmt_number(p)}", POW


def _text_varpow(e, in_sum):
    base, ex = e.args
    hat = "^" if e.is_scalar else ".^"
    return f"{_wrap(_text(base, False), POST)}{hat}{_wrap(_text(ex, False), ATOM)}", POW


def _text_add(e, in_sum):
    terms = list(e.args)
    # lead with a positive term when there is one: b - a rather than -a + b
    for i, t in enumerate(terms):
        if split_coeff(t)[0] > 0:
            terms.insert(0, terms.pop(i))
            break
    out = ""
    for i, t in enumerate(terms):
        c, core = split_coeff(t)
        if i == 0:
            out = _wrap(_text(t, True), ADD + (1 if c < 0 else 0))
            continue
        if c < 0:
            out += " - " + _wrap(_text(mul(const(-c), core), True), MUL)
        else:
            out += " + " + _wrap(_text(t, True), MUL)
    return out, ADD


def _factor_text(f: Expr) -> str:
    s, p = _text(f, False)
    if isinstance(f, E.Mul) and f.nscalars == 0 and f.is_scalar:
        return s  # a scalar chain re-parses as the same scalar factor: 2*x'*y
    # products and elementwise products are bracketed inside a product: X'*(y.*t)
    return f"({s})" if p <= MUL else s


def _chain_text(chain) -> list[str]:
    parts: list[str] = []
    i = 0
    while i < len(chain):
        j = i
        while j + 1 < len(chain) and chain[j + 1] is chain[i]:
            j += 1
        reps = j - i + 1
        if reps > 1:
            parts.append(f"{_wrap(_text(chain[i], False), POST)}^{reps}")
        else:
            parts.append(_factor_text(chain[i]))
        i = j + 1
    return parts


def _is_reciprocal(f: Expr) -> bool:
    return isinstance(f, E.Pow) and f.p < 0


def _text_mul(e, in_sum):
    scal = list(e.scalars)
    chain = list(e.chain)
    sign = ""
    if scal and isinstance(scal[0], E.Const):
        c = scal.pop(0).value
        if c == -1:
            sign = "-"
        elif c < 0:
            sign = "-"
            scal.insert(0, const(-c))
        else:
            scal.insert(0, const(c))
    num: list[str] = []
    den: list[Expr] = []
    for f in scal:
        if _is_reciprocal(f):
            den.append(f)
        else:
            num.append(_factor_text(f))
    if len(chain) == 1 and _is_reciprocal(chain[0]) and not den:
        # 0.5./sqrt(x) rather than 0.5*(1./sqrt(x))
        f = chain[0]
        base = _wrap(_text(f.args[0], False), POST)
        tail = base if f.p == -1 else f"{base}.^{fmt_number(-f.p)}"
        body = ("*".join(num) if num else "1") + "./" + tail
        return (sign + body, NEG) if sign else (body, MUL)
    if len(chain) == 1 and isinstance(chain[0], E.Had):
        # -y.*z and 2*y.*z/a re-parse left to right into the same node
        num.append(_text_had(chain[0], False)[0])
        chain = []
    num.extend(_chain_text(chain))
    body = "*".join(num) if num else "1"
    if den:
        d = mul(*[pow_(f.args[0], -f.p) for f in den])
        ds, dp = _text(d, False)
        body += "/" + (f"({ds})" if dp <= MUL else ds)
    if sign:
        return sign + body, NEG
    return body, MUL


def _text_had(e, in_sum):
    num: list[str] = []
    den: list[str] = []
    for f in e.args:
        if _is_reciprocal(f):
            base = _wrap(_text(f.args[0], False), POST)
            den.append(base if f.p == -1 else f"{base}.^{fmt_number(-f.p)}")
        else:
            num.append(_factor_text(f))
    out = ".*".join(num) if num else "1"
    for d in den:
        out += "./" + d
    return out, MUL


def _text_matpow(e, in_sum):
    base, k = e.args
    return f"{_wrap(_text(base, False), POST)}^{_wrap(_text(k, False), ATOM)}", POW


def _text_powsum(e, in_sum):
    # a sum over i, which the language cannot write: the derivative of X^k for a symbolic k
    base, k, m = e.args
    b = _wrap(_text(base, False), POST)
    km1 = to_text(E.add(k, const(-1.0)))
    body = f"{b}^i*{_factor_text(m)}*{b}^({km1} - i)"
    return f"sum({body}, i = 0..{km1})", ATOM


TEXT = {
    E.Var: lambda e, in_sum: (e.name, ATOM),
    E.Delta: lambda e, in_sum: ("d" + e.name, ATOM),
    E.Const: _text_number,
    E.Fill: _text_fill,
    E.Eye: lambda e, in_sum: ("eye", ATOM),
    E.Add: _text_add,
    E.Mul: _text_mul,
    E.Had: _text_had,
    E.Pow: _text_pow,
    E.T: lambda e, in_sum: (_wrap(_text(e.args[0], False), POST) + "'", POST),
    E.Fn: lambda e, in_sum: (f"{e.name}({to_text(e.args[0])})", ATOM),
    E.Kron: lambda e, in_sum: (f"kron({to_text(e.args[0])}, {to_text(e.args[1])})", ATOM),
    E.MatPow: _text_matpow,
    E.VarPow: _text_varpow,
    E.PowSum: _text_powsum,
    **{
        kind: lambda e, in_sum: (f"{e.word}({to_text(e.args[0])})", ATOM)
        for kind in E.Function.__subclasses__()
    },
}

Expr.to_text = staticmethod(to_text)


# ---------------------------------------------------------------- LaTeX

_FUNC_LATEX = {
    "exp": r"\exp",
    "log": r"\log",
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "arcsin": r"\arcsin",
    "arccos": r"\arccos",
    "arctan": r"\arctan",
    "sinh": r"\sinh",
    "cosh": r"\cosh",
    "tanh": r"\tanh",
    "abs": r"\operatorname{abs}",
    "sign": r"\operatorname{sign}",
    "relu": r"\operatorname{relu}",
}


def _latex_name(name: str) -> str:
    if len(name) == 1:
        return name
    head = name.rstrip("0123456789")
    tail = name[len(head) :]
    if tail and len(head) == 1:
        return f"{head}_{{{tail}}}"
    escaped = name.replace("_", r"\_")
    return rf"\mathit{{{escaped}}}"


def to_latex(e: Expr) -> str:
    """LaTeX for the expression: ``A^\\top``, ``\\odot``, ``\\operatorname{tr}``, ..."""
    return _latex(e)[0]


Expr.to_latex = staticmethod(to_latex)


def _lwrap(pair: tuple[str, int], level: int) -> str:
    s, p = pair
    return rf"\left({s}\right)" if p < level else s


def _latex(e: Expr) -> tuple[str, int]:
    return LATEX[type(e)](e)


def _latex_fill(e):
    if e.value == 1:
        return (r"\mathbb{1}", ATOM) if e.shape[0] != 1 else (r"\mathbb{1}^\top", POST)
    return (rf"{fmt_number(e.value)}\cdot\mathbb{{1}}", MUL)


def _latex_add(e):
    out = ""
    for i, t in enumerate(e.args):
        c, core = split_coeff(t)
        if isinstance(t, E.Fill):  # a constant in a sum broadcasts: 1 + t
            t = const(t.value)
        if i == 0:
            out = _lwrap(_latex(t), ADD)
        elif c < 0:
            core = const(1.0) if isinstance(core, E.Fill) else core
            out += " - " + _lwrap(_latex(mul(const(-c), core)), MUL)
        else:
            out += " + " + _lwrap(_latex(t), MUL)
    return out, ADD


def _latex_mul(e):
    sign = ""
    parts = []
    den = [f for f in e.scalars if _is_reciprocal(f)]
    scal = [f for f in e.scalars if not _is_reciprocal(f)]
    for f in scal + list(e.chain):
        if isinstance(f, E.Const) and f.value == -1:
            sign = "-"
            continue
        if isinstance(f, E.Const) and f.value < 0:
            sign = "-"
            parts.append(fmt_number(-f.value))
            continue
        s, p = _latex(f)
        parts.append(rf"\left({s}\right)" if p <= MUL else s)
    body = " ".join(parts) or "1"
    if den:
        d = to_latex(mul(*[pow_(f.args[0], -f.p) for f in den]))
        body = rf"\frac{{{body}}}{{{d}}}"
    return (sign + body, NEG) if sign else (body, MUL)


def _latex_had(e):
    num, den = [], []
    for f in e.args:
        if _is_reciprocal(f):
            f = pow_(f.args[0], -f.p)
            target = den
        else:
            target = num
        s, p = _latex(f)
        target.append(rf"\left({s}\right)" if p <= MUL else s)
    out = r" \odot ".join(num) if num else r"\mathbb{1}"
    for d in den:
        out += r" \oslash " + d
    return out, MUL


def _latex_pow(e):
    base = _lwrap(_latex(e.args[0]), ATOM)
    exp = fmt_number(e.p)
    if not e.is_scalar:
        return rf"{base}^{{\circ {exp}}}", POW
    return rf"{base}^{{{exp}}}", POW


def _latex_varpow(e):
    base, ex = e.args
    b = _lwrap(_latex(base), ATOM)
    return (rf"{b}^{{{to_latex(ex)}}}" if e.is_scalar else rf"{b}^{{\circ {to_latex(ex)}}}"), POW


def _latex_transpose(e):
    inner = e.args[0]
    if isinstance(inner, E.Inv):
        return _lwrap(_latex(inner.args[0]), ATOM) + r"^{-\top}", POW
    return _lwrap(_latex(inner), ATOM) + r"^\top", POW


def _latex_fn(e):
    arg = to_latex(e.args[0])
    if e.name == "sqrt":
        return rf"\sqrt{{{arg}}}", ATOM
    return rf"{_FUNC_LATEX[e.name]}\left({arg}\right)", ATOM


def _latex_call(command: str):
    def spell(e):
        return rf"{command}\left({to_latex(e.args[0])}\right)", ATOM

    return spell


def _latex_norm(p: int):
    def spell(e):
        return rf"\left\|{to_latex(e.args[0])}\right\|_{p}", ATOM

    return spell


def _latex_kron(e):
    a = _lwrap(_latex(e.args[0]), POST)
    b = _lwrap(_latex(e.args[1]), POST)
    return rf"{a} \otimes {b}", MUL


def _latex_matpow(e):
    base, k = e.args
    return rf"{_lwrap(_latex(base), ATOM)}^{{{to_latex(k)}}}", POW


def _latex_powsum(e):
    base, k, m = e.args
    b = _lwrap(_latex(base), ATOM)
    km1 = f"{to_latex(k)} - 1"  # a sum needs no brackets here
    s, p = _latex(m)
    m_code = rf"\left({s}\right)" if p <= MUL else s
    return rf"\sum_{{i=0}}^{{{km1}}} {b}^{{i}} {m_code} {b}^{{{km1} - i}}", ADD


LATEX = {
    E.Var: lambda e: (_latex_name(e.name), ATOM),
    E.Delta: lambda e: (r"\mathrm{d}" + _latex_name(e.name), ATOM),
    E.Const: lambda e: _text_number(e, False),
    E.Fill: _latex_fill,
    E.Eye: lambda e: ("I", ATOM),
    E.Add: _latex_add,
    E.Mul: _latex_mul,
    E.Had: _latex_had,
    E.Pow: _latex_pow,
    E.T: _latex_transpose,
    E.Fn: _latex_fn,
    E.Kron: _latex_kron,
    E.MatPow: _latex_matpow,
    E.VarPow: _latex_varpow,
    E.PowSum: _latex_powsum,
    E.Inv: lambda e: (_lwrap(_latex(e.args[0]), ATOM) + "^{-1}", POW),
    E.Sum: _latex_call(r"\sum"),
    E.Tr: _latex_call(r"\operatorname{tr}"),
    E.Det: _latex_call(r"\det"),
    E.LogDet: _latex_call(r"\log\det"),
    E.Adj: _latex_call(r"\operatorname{adj}"),
    E.DiagM: _latex_call(r"\operatorname{diag}"),
    E.DiagV: _latex_call(r"\operatorname{diag}"),
    E.Norm1: _latex_norm(1),
    E.Norm2: _latex_norm(2),
}


# ---------------------------------------------------------------- NumPy

_NP_FUNC = {
    "exp": "exp",
    "log": "log",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "arcsin": "arcsin",
    "arccos": "arccos",
    "arctan": "arctan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "sqrt": "sqrt",
    "abs": "abs",
    "sign": "sign",
}

# NumPy precedence: + - 1, * / @ 2, unary - 3, ** 4, call/attribute/subscript 5
_PY_ADD, _PY_MUL, _PY_NEG, _PY_POW, _PY_ATOM = 1, 2, 3, 4, 5


def check_identifier(name: str) -> str:
    """A user name that is safe to use as a Python parameter in generated code."""
    if not name.isidentifier() or not name.isascii() or name.startswith("_"):
        raise SymbolicError(f"{name!r} cannot be used as a variable name")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise SymbolicError(f"{name!r} is a reserved word")
    return name


class NumpyPrinter:
    """Emits NumPy statements for a set of expressions, sharing common subexpressions.

    Vectors, row or column, are 1-D arrays; matrices 2-D; scalars NumPy scalars. The module
    is reached as ``_np`` only, and temporaries are ``_t0, _t1, ...``; user names never
    start with an underscore, so nothing in the generated code can be shadowed.
    """

    #: the name the generated code calls the array module by
    xp = "_np"

    def __init__(self, dim_code: dict, fast: bool = True) -> None:
        self.dim_code = dim_code
        self.fast = fast
        self.lines: list[str] = []
        self.names: dict[Expr, str] = {}
        self.counter = 0

    # -- sharing
    def share(self, roots: list[Expr]) -> None:
        """Name every non-trivial node used more than once among ``roots``."""
        uses: dict[Expr, int] = {}
        seen: set[Expr] = set()

        def visit(n: Expr) -> None:
            uses[n] = uses.get(n, 0) + 1
            if isinstance(n, E.T):
                visit(n.args[0])  # a transpose is free: inv(X) and inv(X)' share inv(X)
                return
            if n in seen:
                return
            seen.add(n)
            for a in n.args:
                visit(a)

        for r in roots:
            visit(r)
        self._to_name = {n for n, k in uses.items() if k > 1 and n.shareable}

    def emit(self, e: Expr) -> str:
        return self._code(e)[0]

    def assign(self, name: str, code: str) -> None:
        self.lines.append(f"{name} = {code}")

    def fresh(self) -> str:
        name = f"_t{self.counter}"
        self.counter += 1
        return name

    def _code(self, e: Expr) -> tuple[str, int]:
        name = self.names.get(e)
        if name is not None:
            return name, _PY_ATOM
        code = self._build(e)
        if e in getattr(self, "_to_name", ()):
            name = self.fresh()
            self.assign(name, code[0])
            self.names[e] = name
            return name, _PY_ATOM
        return code

    def _named(self, e: Expr) -> str:
        """Code for ``e`` that may be repeated: a name, a temporary if need be."""
        code, prec = self._code(e)
        if prec == _PY_ATOM and code.replace("_", "").replace(".", "").isalnum():
            return code
        name = self.fresh()
        self.assign(name, code)
        self.names[e] = name
        return name

    def dim(self, d) -> str:
        if d == 1:
            return "1"
        if isinstance(d, str) and "*" in d and d not in self.dim_code:
            # a Kronecker product's dimension is the product of its factors'
            return " * ".join(self.dim(p) for p in d.split("*"))
        code = self.dim_code.get(d)
        if code is None:
            raise SymbolicError(
                f"the size of dimension {d} cannot be inferred from any variable; "
                f"give it with dims={{{d!r}: ...}}"
            )
        return code

    def _shape_code(self, shape) -> str:
        r, c = shape
        if r == 1 or c == 1:
            return f"({self.dim(c if r == 1 else r)},)"
        return f"({self.dim(r)}, {self.dim(c)})"

    def as2d(self, e: Expr) -> str:
        """The value of ``e`` as a 2-D array (for einsum over Kronecker factors)."""
        code = self._p(e, _PY_ATOM)
        kind = e.kind
        if kind == "scalar":
            return f"{self.xp}.reshape({self.emit(e)}, (1, 1))"
        if kind == "vector":
            return f"{code}.reshape(-1, 1)"
        if kind == "row":
            return f"{code}.reshape(1, -1)"
        return self.emit(e)

    def _p(self, e: Expr, level: int) -> str:
        s, p = self._code(e)
        return f"({s})" if p < level else s

    def _build(self, e: Expr) -> tuple[str, int]:
        return self.table[type(e)](self, e)

    def _diag_matrix(self, code: str, prec: int, n) -> tuple[str, int]:
        return f"{self.xp}.diag({code})", _PY_ATOM

    def _sum_axis(self, code: str, axis: int) -> str:
        return f"{code}.sum(axis={axis})"

    def _outer(self, lc: str, lp: int, rc: str, rp: int) -> tuple[str, str, int]:
        return f"{self.xp}.outer({lc}, {rc})", "mat", _PY_ATOM

    def _differential(self, e: Expr) -> tuple[str, int]:
        raise SymbolicError(f"no NumPy code for the differential d{e.name}")

    def _number(self, e: Expr) -> tuple[str, int]:
        s = repr(float(e.value))
        return (s, _PY_NEG) if e.value < 0 else (s, _PY_ATOM)

    def _add(self, e: Expr) -> tuple[str, int]:
        parts = []
        for i, t in enumerate(e.args):
            c, core = split_coeff(t)
            if isinstance(t, E.Fill):
                code, prec = self._number(t)  # broadcasts against the other terms
            elif i > 0 and c < 0:
                parts.append(" - " + self._p(mul(const(-c), core), _PY_MUL))
                continue
            else:
                code, prec = self._code(t)
            if i == 0:
                parts.append(code)
            else:
                parts.append(" + " + (f"({code})" if prec <= _PY_ADD else code))
        return "".join(parts), _PY_ADD

    def _had(self, e: Expr) -> tuple[str, int]:
        num = []
        den = []
        for f in e.args:
            if _is_reciprocal(f):
                den.append(_pow_code(self, f.args[0], -f.p))
            else:
                num.append(self._p(f, _PY_NEG))
        out = " * ".join(num) if num else "1.0"
        for d, prec in den:
            out += " / " + (f"({d})" if prec <= _PY_MUL else d)
        return out, _PY_MUL

    def _pow(self, e: Expr) -> tuple[str, int]:
        if e.p == 2 and isinstance(e.args[0], E.Norm2):
            # norm2(r)^2 is sum(r.*r): no square root to undo
            r = self._named(e.args[0].args[0])
            return f"{self.xp}.sum({r} * {r})", _PY_ATOM
        if e.p < 0:
            d, prec = _pow_code(self, e.args[0], -e.p)
            return "1.0 / " + (f"({d})" if prec <= _PY_MUL else d), _PY_MUL
        return _pow_code(self, e.args[0], e.p)

    def _transpose(self, e: Expr) -> tuple[str, int]:
        inner = e.args[0]
        if inner.kind in ("vector", "row"):
            return self._code(inner)
        return self._p(inner, _PY_ATOM) + ".T", _PY_ATOM

    def _fn(self, e: Expr) -> tuple[str, int]:
        arg = self.emit(e.args[0])
        if e.name == "relu":
            return f"{self.xp}.maximum({arg}, 0.0)", _PY_ATOM
        return f"{self.xp}.{_NP_FUNC[e.name]}({arg})", _PY_ATOM

    def _tr(self, e: Expr) -> tuple[str, int]:
        arg = e.args[0]
        if self.fast and isinstance(arg, E.Mul) and arg.nscalars == 0 and len(arg.args) == 2:
            a, b = arg.args
            if a.kind == "matrix" and b.kind == "matrix":
                # tr(A*B) without forming A*B
                return f"{self.xp}.sum({self._p(a, _PY_NEG)} * {self._p(b, _PY_ATOM)}.T)", _PY_ATOM
        return f"{self.xp}.trace({self.emit(arg)})", _PY_ATOM

    def _logdet(self, e: Expr) -> tuple[str, int]:
        if self.fast:
            return f"{self.xp}.linalg.slogdet({self.emit(e.args[0])})[1]", _PY_ATOM
        return f"{self.xp}.log({self.xp}.linalg.det({self.emit(e.args[0])}))", _PY_ATOM

    def _adj(self, e: Expr) -> tuple[str, int]:
        a = self.emit(e.args[0])
        return f"{self.xp}.linalg.det({a}) * {self.xp}.linalg.inv({a})", _PY_MUL

    def _norm2(self, e: Expr) -> tuple[str, int]:
        a = self._named(e.args[0])
        return f"{self.xp}.sqrt({self.xp}.sum({a} * {a}))", _PY_ATOM

    def _kron(self, e: Expr) -> tuple[str, int]:
        code = f"{self.xp}.kron({self.as2d(e.args[0])}, {self.as2d(e.args[1])})"
        if e.kind in ("vector", "row"):
            # vectors are 1-D everywhere else, so the layout out.shape + var.shape holds
            code = f"{self.xp}.ravel({code})"
        return code, _PY_ATOM

    def _mul(self, e: Expr) -> tuple[str, int]:
        scal = list(e.scalars)
        chain = list(e.chain)
        parts = []
        neg = False
        for s in scal:
            if isinstance(s, E.Const) and s.value == -1:
                neg = True
                continue
            parts.append(self._p(s, _PY_NEG))
        if chain:
            code, kind, prec = self._chain(chain)
            if kind == "diag":
                code, prec = self._diag_matrix(code, prec, e.shape[0])
            # a sum needs brackets after a factor or a minus sign; a product only after a factor
            bare = prec > _PY_MUL or (prec == _PY_MUL and not parts)
            parts.append(code if bare else f"({code})")
        body = " * ".join(parts) if parts else "1.0"
        if neg:
            return "-" + body, _PY_NEG
        return body, _PY_MUL if len(parts) > 1 else (_PY_MUL if chain else _PY_ATOM)

    def _item(self, f: Expr) -> tuple[str, str, int]:
        if isinstance(f, E.DiagM):
            return self._p(f.args[0], _PY_ATOM), "diag", _PY_ATOM
        if isinstance(f, E.Fill) and f.value == 1 and self.fast:
            return "", "ones:" + f.kind, _PY_ATOM
        kind = {"vector": "col", "row": "row", "matrix": "mat"}[f.kind]
        code, prec = self._code(f)
        return code, kind, prec

    def _chain(self, chain: list[Expr]) -> tuple[str, str, int]:
        items = [self._item(f) for f in chain]
        shapes = [f.shape for f in chain]
        # products that end in a column vector are cheapest right to left: A @ (B @ x)
        right_to_left = chain[-1].kind == "vector"
        if right_to_left:
            acc, shape = items[-1], shapes[-1]
            for item, sh in zip(reversed(items[:-1]), reversed(shapes[:-1])):
                acc = self._combine(item, acc, sh, shape)
                shape = (sh[0], shape[1])
        else:
            acc, shape = items[0], shapes[0]
            for item, sh in zip(items[1:], shapes[1:]):
                acc = self._combine(acc, item, shape, sh)
                shape = (shape[0], sh[1])
        if acc[1].startswith("ones:"):
            acc = (f"{self.xp}.ones({self._shape_code(shape)})", "mat", _PY_ATOM)
        return acc

    def _combine(self, left, right, lshape, rshape):
        lc, lk, lp = left
        rc, rk, rp = right
        out_rows, out_cols = lshape[0], rshape[1]

        def par(code, prec, level):
            return f"({code})" if prec < level else code

        if lk.startswith("ones:"):
            lc, lk, lp = f"{self.xp}.ones({self._shape_code(lshape)})", _kind_of(lshape), _PY_ATOM
            if lshape[0] == 1 and rk == "mat":
                return self._sum_axis(par(rc, rp, _PY_ATOM), 0), "row", _PY_ATOM
        if rk.startswith("ones:"):
            if rshape[1] == 1 and lk == "mat":
                return self._sum_axis(par(lc, lp, _PY_ATOM), 1), "col", _PY_ATOM
            rc, rk, rp = f"{self.xp}.ones({self._shape_code(rshape)})", _kind_of(rshape), _PY_ATOM
        if lk == "diag" and rk == "diag":
            return f"{par(lc, lp, _PY_NEG)} * {par(rc, rp, _PY_NEG)}", "diag", _PY_MUL
        if lk == "diag":
            if rk == "mat":
                return f"{par(lc, lp, _PY_ATOM)}[:, None] * {par(rc, rp, _PY_NEG)}", "mat", _PY_MUL
            return f"{par(lc, lp, _PY_NEG)} * {par(rc, rp, _PY_NEG)}", rk, _PY_MUL
        if rk == "diag":
            # M @ diag(v) scales the columns of M: broadcasting does it
            return f"{par(lc, lp, _PY_NEG)} * {par(rc, rp, _PY_ATOM)}", lk, _PY_MUL
        kind = _kind_of((out_rows, out_cols))
        if lk == "col" and rk == "row":
            return self._outer(lc, lp, rc, rp)
        if lk == "scalar" or rk == "scalar":
            return f"{par(lc, lp, _PY_NEG)} * {par(rc, rp, _PY_NEG)}", kind, _PY_MUL
        return f"{par(lc, lp, _PY_MUL)} @ {par(rc, rp, _PY_NEG)}", kind, _PY_MUL


def _call(template: str):
    def spell(printer: NumpyPrinter, e: Expr) -> tuple[str, int]:
        return template.format(printer.emit(e.args[0]), xp=printer.xp), _PY_ATOM

    return spell


def _integer(printer: NumpyPrinter, k: Expr) -> str:
    # matrix_power takes an integer; the exponent's variables were checked to be integers
    return f"{printer.xp}.int64({printer.emit(k)})"


def _matrix_power(printer: NumpyPrinter, e: Expr, exponent: str) -> tuple[str, int]:
    return f"{printer.xp}.linalg.matrix_power({printer.emit(e.args[0])}, {exponent})", _PY_ATOM


def _np_matpow(printer: NumpyPrinter, e: Expr) -> tuple[str, int]:
    return _matrix_power(printer, e, _integer(printer, e.args[1]))


def _np_varpow(printer: NumpyPrinter, e: Expr) -> tuple[str, int]:
    base, ex = e.args
    return f"{printer._p(base, _PY_ATOM)} ** {printer._p(ex, _PY_ATOM)}", _PY_POW


def _np_powsum(printer: NumpyPrinter, e: Expr) -> tuple[str, int]:
    """The sum over i written out as a loop: for k < 0 over i = k..-1, with a minus sign."""
    base, k, m = e.args
    b, mm = printer._named(base), printer._named(m)
    kk = printer.fresh()
    printer.assign(kk, _integer(printer, k))
    i = printer.fresh()
    terms = (
        f"_np.linalg.matrix_power({b}, {i}) @ {mm} @ _np.linalg.matrix_power({b}, {kk} - 1 - {i})"
        f" for {i} in _np.arange(_np.minimum(0, {kk}), _np.maximum(0, {kk}))"
    )
    total = printer.fresh()
    printer.assign(
        total,
        f"_np.zeros({printer._shape_code(e.shape)}) + _np.sum([{terms}], axis=0)",
    )
    return f"(-{total} if {kk} < 0 else {total})", _PY_ATOM


NUMPY = {
    E.Var: lambda pr, e: (e.name, _PY_ATOM),
    E.Delta: NumpyPrinter._differential,
    E.Const: NumpyPrinter._number,
    E.Fill: lambda pr, e: (
        f"{pr.xp}.full({pr._shape_code(e.shape)}, {float(e.value)!r})",
        _PY_ATOM,
    ),
    E.Eye: lambda pr, e: (f"{pr.xp}.eye({pr.dim(e.shape[0])})", _PY_ATOM),
    E.Add: NumpyPrinter._add,
    E.Mul: NumpyPrinter._mul,
    E.Had: NumpyPrinter._had,
    E.Pow: NumpyPrinter._pow,
    E.T: NumpyPrinter._transpose,
    E.Fn: NumpyPrinter._fn,
    E.Kron: NumpyPrinter._kron,
    E.MatPow: _np_matpow,
    E.VarPow: _np_varpow,
    E.PowSum: _np_powsum,
    E.Sum: _call("{xp}.sum({})"),
    E.Tr: NumpyPrinter._tr,
    E.Det: _call("{xp}.linalg.det({})"),
    E.LogDet: NumpyPrinter._logdet,
    E.Inv: _call("{xp}.linalg.inv({})"),
    E.Adj: NumpyPrinter._adj,
    E.DiagM: _call("{xp}.diag({})"),
    E.DiagV: _call("{xp}.diag({})"),
    E.Norm1: _call("{xp}.sum({xp}.abs({}))"),
    E.Norm2: NumpyPrinter._norm2,
}
NumpyPrinter.table = NUMPY


def _kind_of(shape) -> str:
    r, c = shape
    if r == 1 and c == 1:
        return "scalar"
    if c == 1:
        return "col"
    if r == 1:
        return "row"
    return "mat"


def _pow_code(printer: NumpyPrinter, base: Expr, p: float) -> tuple[str, int]:
    if p == 1:
        return printer._code(base)
    if p == 0.5:
        return f"{printer.xp}.sqrt({printer.emit(base)})", _PY_ATOM
    b = printer._p(base, _PY_ATOM)
    if p == 2:
        return f"{b} ** 2", _PY_POW
    return f"{b} ** {float(p)!r}", _PY_POW


# ---------------------------------------------------------------- the Python array API

_ARRAY_API_FUNC = {**_NP_FUNC, "arcsin": "asin", "arccos": "acos", "arctan": "atan"}


class ArrayApiPrinter(NumpyPrinter):
    """Emits code that calls only the Python array API, on the namespace ``_xp``.

    The same statements run on NumPy, CuPy, Dask and ``array_api_strict`` arrays: the
    caller binds ``_xp`` to the inputs' namespace. Where NumPy code would call a function
    the standard lacks (``diag``, ``outer``, ``kron``, ``trace``, ``.sum(axis=...)``),
    this printer writes the same value by broadcasting or by the ``linalg`` extension.
    """

    xp = "_xp"

    def __init__(self, dim_code: dict) -> None:
        super().__init__(dim_code, fast=True)

    def as2d(self, e: Expr) -> str:
        kind = e.kind
        if kind == "scalar":
            return f"{self.xp}.reshape({self.xp}.asarray({self.emit(e)}), (1, 1))"
        if kind == "vector":
            return f"{self.xp}.reshape({self.emit(e)}, (-1, 1))"
        if kind == "row":
            return f"{self.xp}.reshape({self.emit(e)}, (1, -1))"
        return self.emit(e)

    def _fn(self, e: Expr) -> tuple[str, int]:
        if e.name == "relu":
            return super()._fn(e)
        return f"{self.xp}.{_ARRAY_API_FUNC[e.name]}({self.emit(e.args[0])})", _PY_ATOM

    def _tr(self, e: Expr) -> tuple[str, int]:
        code, prec = super()._tr(e)
        if code.startswith(f"{self.xp}.trace("):
            return f"{self.xp}.linalg.trace({self.emit(e.args[0])})", _PY_ATOM
        return code, prec

    def _kron(self, e: Expr) -> tuple[str, int]:
        # kron(A, B)[i*p + k, j*q + l] = A[i, j] * B[k, l]: a broadcast product, reshaped
        (ar, ac), (br, bc) = e.args[0].shape, e.args[1].shape
        a, b = self.fresh(), self.fresh()
        self.assign(a, self.as2d(e.args[0]))
        self.assign(b, self.as2d(e.args[1]))
        rows = f"{self.dim(ar)} * {self.dim(br)}"
        cols = f"{self.dim(ac)} * {self.dim(bc)}"
        shape = "(-1,)" if e.kind in ("vector", "row") else f"({rows}, {cols})"
        product = f"{a}[:, None, :, None] * {b}[None, :, None, :]"
        return f"{self.xp}.reshape({product}, {shape})", _PY_ATOM

    def _diag_matrix(self, code: str, prec: int, n) -> tuple[str, int]:
        # the standard has no diag(v): the identity scaled column by column
        v = f"({code})" if prec < _PY_NEG else code
        return f"{self.xp}.eye({self.dim(n)}) * {v}", _PY_MUL

    def _sum_axis(self, code: str, axis: int) -> str:
        return f"{self.xp}.sum({code}, axis={axis})"

    def _outer(self, lc: str, lp: int, rc: str, rp: int) -> tuple[str, str, int]:
        left = f"({lc})" if lp < _PY_ATOM else lc
        right = f"({rc})" if rp < _PY_NEG else rc
        return f"{left}[:, None] * {right}", "mat", _PY_MUL


def _api_diag_matrix(printer: NumpyPrinter, e: Expr) -> tuple[str, int]:
    code, prec = printer._code(e.args[0])
    return printer._diag_matrix(code, prec, e.shape[0])


def _api_matpow(printer: NumpyPrinter, e: Expr) -> tuple[str, int]:
    # matrix_power takes a Python integer; the exponent was checked to be integral
    return _matrix_power(printer, e, f"int({printer.emit(e.args[1])})")


def _api_powsum(printer: NumpyPrinter, e: Expr) -> tuple[str, int]:
    raise SymbolicError(
        "the derivative of a matrix power with a symbolic exponent is a sum whose length "
        "depends on the exponent's value; its code is written for NumPy arrays only"
    )


ARRAY_API = {
    **NUMPY,
    E.Fn: ArrayApiPrinter._fn,
    E.Tr: ArrayApiPrinter._tr,
    E.Kron: ArrayApiPrinter._kron,
    E.MatPow: _api_matpow,
    E.PowSum: _api_powsum,
    E.DiagM: _api_diag_matrix,
    E.DiagV: _call("{xp}.linalg.diagonal({})"),
}
ArrayApiPrinter.table = ARRAY_API


__all__ = [
    "to_text",
    "to_latex",
    "NumpyPrinter",
    "ArrayApiPrinter",
    "check_identifier",
    "SCALAR",
]
