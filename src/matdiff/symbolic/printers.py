"""Printers: text (re-parseable), LaTeX and NumPy source.

Each printer dispatches on the node's ``op`` and parenthesizes by precedence. Levels:
sum 1, product 2 (``*  /  .*  ./``), unary minus 3, power 4, postfix transpose 5, atom 6.
"""

from __future__ import annotations

import keyword

from .errors import SymbolicError
from .expr import SCALAR, Expr, const, mul, pow_, split_coeff

ADD, MUL, NEG, POW, POST, ATOM = 1, 2, 3, 4, 5, 6

_FUNC_TEXT = {
    "sum": "sum",
    "tr": "tr",
    "det": "det",
    "logdet": "logdet",
    "inv": "inv",
    "adj": "adj",
    "diagm": "diag",
    "diagv": "diag",
    "norm1": "norm1",
    "norm2": "norm2",
}


def fmt_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


# ---------------------------------------------------------------- text


def to_text(e: Expr) -> str:
    """The expression in the input language; ``parse(to_text(e))`` gives ``e`` back."""
    return _text(e, in_sum=False)[0]


def _wrap(pair: tuple[str, int], level: int) -> str:
    s, p = pair
    return f"({s})" if p < level else s


def _text(e: Expr, in_sum: bool) -> tuple[str, int]:
    op = e.op
    if op == "var":
        return e.data[0], ATOM
    if op == "delta":
        return "d" + e.data[0], ATOM
    if op == "const":
        s = fmt_number(e.data)
        return (s, NEG) if e.data < 0 else (s, ATOM)
    if op == "fill":
        s = fmt_number(e.data)
        if in_sum:
            return (s, NEG) if e.data < 0 else (s, ATOM)
        r, c = e.shape
        if c == 1:
            return f"vector({s})", ATOM
        if r == 1:
            return f"vector({s})'", POST
        return f"matrix({s})", ATOM
    if op == "eye":
        return "eye", ATOM
    if op == "add":
        return _text_add(e), ADD
    if op == "mul":
        return _text_mul(e)
    if op == "had":
        return _text_had(e), MUL
    if op == "pow":
        p = e.data
        hat = "^" if e.is_scalar else ".^"
        if p < 0:
            inv = "1/" if e.is_scalar else "1./"
            base = _wrap(_text(e.args[0], False), POST)
            if p == -1:
                return inv + base, MUL
            return f"{inv}{base}{hat}{fmt_number(-p)}", MUL
        return f"{_wrap(_text(e.args[0], False), POST)}{hat}{fmt_number(p)}", POW
    if op == "T":
        return _wrap(_text(e.args[0], False), POST) + "'", POST
    if op == "fn":
        return f"{e.data}({to_text(e.args[0])})", ATOM
    if op == "kron":
        return f"kron({to_text(e.args[0])}, {to_text(e.args[1])})", ATOM
    return f"{_FUNC_TEXT[op]}({to_text(e.args[0])})", ATOM


def _text_add(e: Expr) -> str:
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
    return out


def _factor_text(f: Expr) -> str:
    s, p = _text(f, False)
    if f.op == "mul" and f.data == 0 and f.is_scalar:
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


def _text_mul(e: Expr) -> tuple[str, int]:
    scal = list(e.args[: e.data])
    chain = list(e.args[e.data :])
    sign = ""
    if scal and scal[0].op == "const":
        c = scal.pop(0).data
        if c == -1:
            sign = "-"
        elif c < 0:
            sign = "-"
            scal.insert(0, _num(-c))
        else:
            scal.insert(0, _num(c))
    num: list[str] = []
    den: list[Expr] = []
    for f in scal:
        if f.op == "pow" and f.data < 0:
            den.append(f)
        else:
            num.append(_factor_text(f))
    if len(chain) == 1 and chain[0].op == "pow" and chain[0].data < 0 and not den:
        # 0.5./sqrt(x) rather than 0.5*(1./sqrt(x))
        f = chain[0]
        base = _wrap(_text(f.args[0], False), POST)
        tail = base if f.data == -1 else f"{base}.^{fmt_number(-f.data)}"
        body = ("*".join(num) if num else "1") + "./" + tail
        return (sign + body, NEG) if sign else (body, MUL)
    if len(chain) == 1 and chain[0].op == "had":
        # -y.*z and 2*y.*z/a re-parse left to right into the same node
        num.append(_text_had(chain[0]))
        chain = []
    num.extend(_chain_text(chain))
    body = "*".join(num) if num else "1"
    if den:
        d = mul(*[pow_(f.args[0], -f.data) for f in den])
        ds, dp = _text(d, False)
        body += "/" + (f"({ds})" if dp <= MUL else ds)
    if sign:
        return sign + body, NEG
    return body, MUL


def _num(v: float) -> Expr:
    return const(v)


def _text_had(e: Expr) -> str:
    num: list[str] = []
    den: list[str] = []
    for f in e.args:
        if f.op == "pow" and f.data < 0:
            base = _wrap(_text(f.args[0], False), POST)
            den.append(base if f.data == -1 else f"{base}.^{fmt_number(-f.data)}")
        else:
            num.append(_factor_text(f))
    out = ".*".join(num) if num else "1"
    for d in den:
        out += "./" + d
    return out


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


def _lwrap(pair: tuple[str, int], level: int) -> str:
    s, p = pair
    return rf"\left({s}\right)" if p < level else s


def _latex(e: Expr) -> tuple[str, int]:
    op = e.op
    if op == "var":
        return _latex_name(e.data[0]), ATOM
    if op == "delta":
        return r"\mathrm{d}" + _latex_name(e.data[0]), ATOM
    if op == "const":
        s = fmt_number(e.data)
        return (s, NEG) if e.data < 0 else (s, ATOM)
    if op == "fill":
        s = fmt_number(e.data)
        if e.data == 1:
            return (r"\mathbb{1}", ATOM) if e.shape[0] != 1 else (r"\mathbb{1}^\top", POST)
        return (rf"{s}\cdot\mathbb{{1}}", MUL)
    if op == "eye":
        return "I", ATOM
    if op == "add":
        out = ""
        for i, t in enumerate(e.args):
            c, core = split_coeff(t)
            if t.op == "fill":  # a constant in a sum broadcasts: 1 + t
                t = _num(t.data)
            if i == 0:
                out = _lwrap(_latex(t), ADD)
            elif c < 0:
                core = _num(1.0) if core.op == "fill" else core
                out += " - " + _lwrap(_latex(_scaled(-c, core)), MUL)
            else:
                out += " + " + _lwrap(_latex(t), MUL)
        return out, ADD
    if op == "mul":
        scal = list(e.args[: e.data])
        chain = list(e.args[e.data :])
        sign = ""
        parts = []
        den = [f for f in scal if f.op == "pow" and f.data < 0]
        scal = [f for f in scal if not (f.op == "pow" and f.data < 0)]
        for f in scal + chain:
            if f.op == "const" and f.data == -1:
                sign = "-"
                continue
            if f.op == "const" and f.data < 0:
                sign = "-"
                parts.append(fmt_number(-f.data))
                continue
            s, p = _latex(f)
            parts.append(rf"\left({s}\right)" if p <= MUL else s)
        body = " ".join(parts) or "1"
        if den:
            d = to_latex(mul(*[pow_(f.args[0], -f.data) for f in den]))
            body = rf"\frac{{{body}}}{{{d}}}"
        return (sign + body, NEG) if sign else (body, MUL)
    if op == "had":
        num, den = [], []
        for f in e.args:
            if f.op == "pow" and f.data < 0:
                f = pow_(f.args[0], -f.data)
                target = den
            else:
                target = num
            s, p = _latex(f)
            target.append(rf"\left({s}\right)" if p <= MUL else s)
        out = r" \odot ".join(num) if num else r"\mathbb{1}"
        for d in den:
            out += r" \oslash " + d
        return out, MUL
    if op == "pow":
        p = e.data
        base = _lwrap(_latex(e.args[0]), ATOM)
        exp = fmt_number(p)
        if not e.is_scalar:
            return rf"{base}^{{\circ {exp}}}", POW
        return rf"{base}^{{{exp}}}", POW
    if op == "T":
        inner = e.args[0]
        if inner.op == "inv":
            return _lwrap(_latex(inner.args[0]), ATOM) + r"^{-\top}", POW
        return _lwrap(_latex(inner), ATOM) + r"^\top", POW
    if op == "fn":
        arg = to_latex(e.args[0])
        if e.data == "sqrt":
            return rf"\sqrt{{{arg}}}", ATOM
        return rf"{_FUNC_LATEX[e.data]}\left({arg}\right)", ATOM
    if op == "inv":
        return _lwrap(_latex(e.args[0]), ATOM) + "^{-1}", POW
    if op == "sum":
        return rf"\sum\left({to_latex(e.args[0])}\right)", ATOM
    if op == "tr":
        return rf"\operatorname{{tr}}\left({to_latex(e.args[0])}\right)", ATOM
    if op == "det":
        return rf"\det\left({to_latex(e.args[0])}\right)", ATOM
    if op == "logdet":
        return rf"\log\det\left({to_latex(e.args[0])}\right)", ATOM
    if op == "adj":
        return rf"\operatorname{{adj}}\left({to_latex(e.args[0])}\right)", ATOM
    if op in ("diagm", "diagv"):
        return rf"\operatorname{{diag}}\left({to_latex(e.args[0])}\right)", ATOM
    if op == "norm1":
        return rf"\left\|{to_latex(e.args[0])}\right\|_1", ATOM
    if op == "norm2":
        return rf"\left\|{to_latex(e.args[0])}\right\|_2", ATOM
    if op == "kron":
        a = _lwrap(_latex(e.args[0]), POST)
        b = _lwrap(_latex(e.args[1]), POST)
        return rf"{a} \otimes {b}", MUL
    raise SymbolicError(f"no LaTeX for {op}")


def _scaled(c: float, core: Expr) -> Expr:
    return mul(const(c), core)


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

_WORTH_NAMING = {"add", "mul", "had", "pow", "fn", "sum", "tr", "det", "logdet", "inv", "adj"}


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
            if n.op == "T":
                visit(n.args[0])  # a transpose is free: inv(X) and inv(X)' share inv(X)
                return
            if n in seen:
                return
            seen.add(n)
            for a in n.args:
                visit(a)

        for r in roots:
            visit(r)
        self._to_name = {n for n, k in uses.items() if k > 1 and n.op in _WORTH_NAMING}

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
            return f"_np.reshape({self.emit(e)}, (1, 1))"
        if kind == "vector":
            return f"{code}.reshape(-1, 1)"
        if kind == "row":
            return f"{code}.reshape(1, -1)"
        return self.emit(e)

    def _p(self, e: Expr, level: int) -> str:
        s, p = self._code(e)
        return f"({s})" if p < level else s

    def _build(self, e: Expr) -> tuple[str, int]:
        op = e.op
        if op == "var":
            return e.data[0], _PY_ATOM
        if op == "const":
            s = repr(float(e.data))
            return (s, _PY_NEG) if e.data < 0 else (s, _PY_ATOM)
        if op == "fill":
            return f"_np.full({self._shape_code(e.shape)}, {float(e.data)!r})", _PY_ATOM
        if op == "eye":
            return f"_np.eye({self.dim(e.shape[0])})", _PY_ATOM
        if op == "add":
            parts = []
            for i, t in enumerate(e.args):
                c, core = split_coeff(t)
                if t.op == "fill":
                    code = repr(float(t.data))  # broadcasts against the other terms
                    prec = _PY_NEG if t.data < 0 else _PY_ATOM
                elif i > 0 and c < 0:
                    parts.append(" - " + self._p(_scaled(-c, core), _PY_MUL))
                    continue
                else:
                    code, prec = self._code(t)
                if i == 0:
                    parts.append(code)
                else:
                    parts.append(" + " + (f"({code})" if prec <= _PY_ADD else code))
            return "".join(parts), _PY_ADD
        if op == "mul":
            return self._mul(e)
        if op == "had":
            num = []
            den = []
            for f in e.args:
                if f.op == "pow" and f.data < 0:
                    den.append(_pow_code(self, f.args[0], -f.data))
                else:
                    num.append(self._p(f, _PY_NEG))
            out = " * ".join(num) if num else "1.0"
            for d, prec in den:
                out += " / " + (f"({d})" if prec <= _PY_MUL else d)
            return out, _PY_MUL
        if op == "pow":
            if e.data == 2 and e.args[0].op == "norm2":
                # norm2(r)^2 is sum(r.*r): no square root to undo
                r = self._named(e.args[0].args[0])
                return f"_np.sum({r} * {r})", _PY_ATOM
            if e.data < 0:
                d, prec = _pow_code(self, e.args[0], -e.data)
                return "1.0 / " + (f"({d})" if prec <= _PY_MUL else d), _PY_MUL
            return _pow_code(self, e.args[0], e.data)
        if op == "T":
            inner = e.args[0]
            if inner.kind in ("vector", "row"):
                return self._code(inner)
            return self._p(inner, _PY_ATOM) + ".T", _PY_ATOM
        if op == "fn":
            arg = self.emit(e.args[0])
            if e.data == "relu":
                return f"_np.maximum({arg}, 0.0)", _PY_ATOM
            return f"_np.{_NP_FUNC[e.data]}({arg})", _PY_ATOM
        arg = e.args[0]
        if op == "sum":
            return f"_np.sum({self.emit(arg)})", _PY_ATOM
        if op == "tr":
            if self.fast and arg.op == "mul" and arg.data == 0 and len(arg.args) == 2:
                a, b = arg.args
                if a.kind == "matrix" and b.kind == "matrix":
                    # tr(A*B) without forming A*B
                    return f"_np.sum({self._p(a, _PY_NEG)} * {self._p(b, _PY_ATOM)}.T)", _PY_ATOM
            return f"_np.trace({self.emit(arg)})", _PY_ATOM
        if op == "det":
            return f"_np.linalg.det({self.emit(arg)})", _PY_ATOM
        if op == "logdet":
            if self.fast:
                return f"_np.linalg.slogdet({self.emit(arg)})[1]", _PY_ATOM
            return f"_np.log(_np.linalg.det({self.emit(arg)}))", _PY_ATOM
        if op == "inv":
            return f"_np.linalg.inv({self.emit(arg)})", _PY_ATOM
        if op == "adj":
            a = self.emit(arg)
            return f"_np.linalg.det({a}) * _np.linalg.inv({a})", _PY_MUL
        if op in ("diagm", "diagv"):
            return f"_np.diag({self.emit(arg)})", _PY_ATOM
        if op == "norm1":
            return f"_np.sum(_np.abs({self.emit(arg)}))", _PY_ATOM
        if op == "norm2":
            a = self._named(arg)
            return f"_np.sqrt(_np.sum({a} * {a}))", _PY_ATOM
        if op == "kron":
            code = f"_np.kron({self.as2d(e.args[0])}, {self.as2d(e.args[1])})"
            if e.kind in ("vector", "row"):
                # vectors are 1-D everywhere else, so the layout out.shape + var.shape holds
                code = f"_np.ravel({code})"
            return code, _PY_ATOM
        raise SymbolicError(f"no NumPy code for {op}")

    def _mul(self, e: Expr) -> tuple[str, int]:
        scal = list(e.args[: e.data])
        chain = list(e.args[e.data :])
        parts = []
        neg = False
        for s in scal:
            if s.op == "const" and s.data == -1:
                neg = True
                continue
            parts.append(self._p(s, _PY_NEG))
        if chain:
            code, kind, prec = self._chain(chain)
            if kind == "diag":
                code, prec = f"_np.diag({code})", _PY_ATOM
            # a sum needs brackets after a factor or a minus sign; a product only after a factor
            bare = prec > _PY_MUL or (prec == _PY_MUL and not parts)
            parts.append(code if bare else f"({code})")
        body = " * ".join(parts) if parts else "1.0"
        if neg:
            return "-" + body, _PY_NEG
        return body, _PY_MUL if len(parts) > 1 else (_PY_MUL if chain else _PY_ATOM)

    def _item(self, f: Expr) -> tuple[str, str, int]:
        if f.op == "diagm":
            return self._p(f.args[0], _PY_ATOM), "diag", _PY_ATOM
        if f.op == "fill" and f.data == 1 and self.fast:
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
            acc = (f"_np.ones({self._shape_code(shape)})", "mat", _PY_ATOM)
        return acc

    def _combine(self, left, right, lshape, rshape):
        lc, lk, lp = left
        rc, rk, rp = right
        out_rows, out_cols = lshape[0], rshape[1]

        def par(code, prec, level):
            return f"({code})" if prec < level else code

        if lk.startswith("ones:"):
            lc, lk, lp = f"_np.ones({self._shape_code(lshape)})", _kind_of(lshape), _PY_ATOM
            if lshape[0] == 1 and rk == "mat":
                return f"{par(rc, rp, _PY_ATOM)}.sum(axis=0)", "row", _PY_ATOM
        if rk.startswith("ones:"):
            if rshape[1] == 1 and lk == "mat":
                return f"{par(lc, lp, _PY_ATOM)}.sum(axis=1)", "col", _PY_ATOM
            rc, rk, rp = f"_np.ones({self._shape_code(rshape)})", _kind_of(rshape), _PY_ATOM
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
            return f"_np.outer({lc}, {rc})", "mat", _PY_ATOM
        if lk == "scalar" or rk == "scalar":
            return f"{par(lc, lp, _PY_NEG)} * {par(rc, rp, _PY_NEG)}", kind, _PY_MUL
        return f"{par(lc, lp, _PY_MUL)} @ {par(rc, rp, _PY_NEG)}", kind, _PY_MUL


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
        return f"_np.sqrt({printer.emit(base)})", _PY_ATOM
    b = printer._p(base, _PY_ATOM)
    if p == 2:
        return f"{b} ** 2", _PY_POW
    return f"{b} ** {float(p)!r}", _PY_POW


__all__ = ["to_text", "to_latex", "NumpyPrinter", "check_identifier", "SCALAR"]
