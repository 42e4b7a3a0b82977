"""Text to expression: the lark grammar, declarations, shape inference with positions.

Parsing runs in two passes over the lark tree. The first infers shapes, unifying
dimension variables (``A: m x n`` declares rigid names, anything else gets fresh ones)
and reports a mismatch at the operator that caused it. The second builds canonical
expression nodes from the solved shapes.
"""

from __future__ import annotations

import functools
import keyword
import re
from dataclasses import dataclass, field
from importlib import resources

import lark

from . import expr as E
from .errors import SymbolicError
from .printers import to_text
from .simplify import rewrite

MAX_LENGTH = 5000
MAX_DEPTH = 80
MAX_MATRIX_POWER = 16

ELEMENTWISE = tuple(E.ELEMENTWISE)
REDUCTIONS = ("sum", "norm1", "norm2", "tr", "det", "logdet")
SQUARE_MAPS = ("inv", "adj")
CONSTRUCTORS = ("vector", "matrix")
FUNCTIONS = frozenset(ELEMENTWISE + REDUCTIONS + SQUARE_MAPS + CONSTRUCTORS + ("diag", "kron"))
CONSTANTS = frozenset({"eye"})
KINDS = ("scalar", "vector", "matrix", "symmetric")


@functools.lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    grammar = resources.files("matdiff.symbolic").joinpath("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True)


# ---------------------------------------------------------------- dimensions


class _Dim:
    """A dimension during inference: union-find node, rigid when declared or 1."""

    __slots__ = ("name", "rigid", "parent", "factors")

    def __init__(self, name: str, rigid: bool, factors: tuple = ()) -> None:
        self.name = name
        self.rigid = rigid
        self.parent: _Dim | None = None
        self.factors = factors  # (a, b) for a dimension of a Kronecker product a*b

    def find(self) -> _Dim:
        d = self
        while d.parent is not None:
            d = d.parent
        return d

    def __str__(self) -> str:
        return self.find().name


ONE = _Dim("1", True)


def _shape_text(shape) -> str:
    r, c = (d.find() for d in shape)
    if r is ONE and c is ONE:
        return "a scalar"
    if c is ONE:
        return f"a vector of length {r.name}"
    if r is ONE:
        return f"a row vector of length {c.name}"
    return f"a {r.name}x{c.name} matrix"


# ---------------------------------------------------------------- declarations


@dataclass
class Declaration:
    """What the user says about a variable: its kind and optionally its dimension names."""

    name: str
    kind: str
    dims: tuple = ()


_DECL_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$")


def parse_declaration(text: str, name: str | None = None) -> Declaration:
    """``"S: symmetric"``, ``"A: m x n"``, ``"x: vector n"``; or just the spec with ``name``.

    >>> parse_declaration("A: m x n")
    Declaration(name='A', kind='matrix', dims=('m', 'n'))
    """
    if name is None:
        m = _DECL_RE.match(text)
        if not m:
            raise SymbolicError(f"cannot read declaration {text!r}; write e.g. 'A: m x n'")
        name, spec = m.group(1), m.group(2)
    else:
        spec = text.strip()
    words = spec.replace("×", " x ").replace("*", " x ").split()
    kind = None
    if words and words[0] in KINDS:
        kind = words.pop(0)
    dims = [w for w in words if w != "x"]
    if len(words) != len(dims) + max(len(dims) - 1, 0) or len(dims) > 2:
        raise SymbolicError(f"cannot read declaration {text!r}; write e.g. 'A: m x n'")
    for d in dims:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", d):
            raise SymbolicError(f"dimension {d!r} in declaration of {name} is not a name")
    if kind is None:
        kind = {0: "matrix", 1: "vector", 2: "matrix"}[len(dims)]
    expected = {"scalar": (0,), "vector": (0, 1), "matrix": (0, 2), "symmetric": (0, 1)}[kind]
    if len(dims) not in expected:
        raise SymbolicError(f"a {kind} takes {' or '.join(map(str, expected))} dimension names")
    _check_variable_name(name)
    return Declaration(name, kind, tuple(dims))


def default_kind(name: str) -> str:
    """a-g scalars, h-z vectors, A-Z matrices (by first letter)."""
    first = name[0]
    if first.isupper():
        return "matrix"
    if "a" <= first <= "g":
        return "scalar"
    return "vector"


def _check_variable_name(name: str) -> None:
    if name in FUNCTIONS or name in CONSTANTS:
        raise SymbolicError(f"{name!r} is a function of the language, not a variable")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise SymbolicError(f"{name!r} is a reserved word")


def normalize_kinds(kinds) -> dict[str, Declaration]:
    out: dict[str, Declaration] = {}
    if not kinds:
        return out
    if isinstance(kinds, dict):
        items = kinds.items()
    else:  # a list of "name: spec" strings
        items = []
        for text in kinds:
            d = parse_declaration(text)
            out[d.name] = d
    for name, spec in items:
        if isinstance(spec, Declaration):
            out[name] = spec
        else:
            out[name] = parse_declaration(str(spec), name=name)
    return out


# ---------------------------------------------------------------- the typed parse tree


@dataclass
class _P:
    op: str
    args: list
    shape: tuple
    pos: int
    data: object = None
    extra: dict = field(default_factory=dict)


@dataclass
class Parsed:
    """The result of ``parse``: the expression, its variables and the dimension table."""

    expr: E.Expr
    source: str
    variables: dict  # name -> Expr (var)
    declarations: dict  # name -> Declaration
    dim_names: list  # final dimension names
    definitions: dict = field(default_factory=dict)
    positions: dict = field(default_factory=dict)  # node -> offset of its operator in source

    def locate(self, node: E.Expr) -> tuple[int, int] | None:
        """(line, column) of where ``node`` was written, when it was written as such."""
        pos = self.positions.get(node)
        return None if pos is None else line_column(self.source, pos)

    @property
    def text(self) -> str:
        return to_text(self.expr)


class _Parser:
    def __init__(self, source: str, decls: dict[str, Declaration]) -> None:
        self.source = source
        self.decls = decls
        self.vars: dict[str, tuple] = {}  # name -> (kind, shape)
        self.defs: dict[str, _P] = {}
        self.rigid: dict[str, _Dim] = {}
        self.fresh_count = 0
        self.final_names: dict[_Dim, str] = {}  # root dimension -> its printed name
        self.positions: dict[E.Expr, int] = {}

    # -- positions and errors
    def error(self, message: str, pos: int | None) -> SymbolicError:
        if pos is None:
            return SymbolicError(message)
        return SymbolicError(message, self.source, *line_column(self.source, pos))

    def op_pos(self, tree: lark.Tree) -> int:
        """The offset of the operator between the two children of a binary node."""
        left, right = tree.children
        start = _end(left)
        stop = _start(right)
        i = start
        while i < stop and self.source[i] in " \t\r\n()":
            i += 1
        return i if i < stop else _start(tree)

    # -- dimensions
    def dim(self, name: str | None, hint: str) -> _Dim:
        if name is None:
            self.fresh_count += 1
            return _Dim(hint, False)
        d = self.rigid.get(name)
        if d is None:
            d = self.rigid[name] = _Dim(name, True)
        return d

    def unify(self, a: _Dim, b: _Dim, message, pos: int) -> None:
        ra, rb = a.find(), b.find()
        if ra is rb:
            return
        if ra.factors and rb.factors:
            # two Kronecker products of the same shape: read them factor by factor
            self.unify(ra.factors[0], rb.factors[0], message, pos)
            self.unify(ra.factors[1], rb.factors[1], message, pos)
            rb.parent = ra
            return
        if ra.factors or rb.factors:
            composite, other = (ra, rb) if ra.factors else (rb, ra)
            if other.rigid:
                raise self.error(message(), pos)
            other.parent = composite
            return
        if ra.rigid and rb.rigid:
            raise self.error(message(), pos)
        if ra is ONE or rb is ONE:
            raise self.error(message(), pos)
        if ra.rigid:
            rb.parent = ra
        else:
            ra.parent = rb

    # -- pass 1
    def infer(self, tree, depth: int = 0) -> _P:
        if depth > MAX_DEPTH:
            raise self.error("expression is nested too deeply", _start(tree))
        if isinstance(tree, lark.Token):
            raise self.error("unexpected token", tree.start_pos)
        rule = tree.data
        method = getattr(self, "_infer_" + rule, None)
        if method is None:
            raise self.error(f"unsupported construct {rule}", _start(tree))
        return method(tree, depth + 1)

    def _infer_number(self, tree, depth):
        tok = tree.children[0]
        value = float(tok)
        if value != value or value in (float("inf"), float("-inf")):
            raise self.error("number out of range", tok.start_pos)
        return _P("const", [], (ONE, ONE), tok.start_pos, value)

    def _infer_name(self, tree, depth):
        tok = tree.children[0]
        name = str(tok)
        if name in self.defs:
            d = self.defs[name]
            return _P("ref", [], d.shape, tok.start_pos, name)
        if name == "eye":
            n = self.dim(None, "size(eye)")
            return _P("eye", [], (n, n), tok.start_pos)
        if name in FUNCTIONS:
            raise self.error(f"{name} is a function; write {name}(...)", tok.start_pos)
        return self.variable(name, tok.start_pos)

    def variable(self, name: str, pos: int) -> _P:
        if keyword.iskeyword(name) or keyword.issoftkeyword(name):
            raise self.error(f"{name!r} is a reserved word and cannot name a variable", pos)
        if name not in self.vars:
            decl = self.decls.get(name) or Declaration(name, default_kind(name))
            kind, dims = decl.kind, decl.dims
            if kind == "scalar":
                shape = (ONE, ONE)
            elif kind == "vector":
                shape = (self.dim(dims[0] if dims else None, f"len({name})"), ONE)
            elif kind == "symmetric":
                n = self.dim(dims[0] if dims else None, f"size({name})")
                shape = (n, n)
            else:
                r = self.dim(dims[0] if dims else None, f"rows({name})")
                c = self.dim(dims[1] if dims else None, f"cols({name})")
                shape = (r, c)
            self.vars[name] = (kind, shape)
        kind, shape = self.vars[name]
        return _P("var", [], shape, pos, (name, kind))

    def _infer_transpose(self, tree, depth):
        a = self.infer(tree.children[0], depth)
        return _P("T", [a], (a.shape[1], a.shape[0]), a.pos)

    def _infer_neg(self, tree, depth):
        a = self.infer(tree.children[0], depth)
        return _P("neg", [a], a.shape, _start(tree))

    def _infer_pos(self, tree, depth):
        return self.infer(tree.children[0], depth)

    def _is_scalar(self, p: _P) -> bool:
        return p.shape[0].find() is ONE and p.shape[1].find() is ONE

    def _binary(self, tree, depth):
        a = self.infer(tree.children[0], depth)
        b = self.infer(tree.children[1], depth)
        return a, b, self.op_pos(tree)

    def _infer_add(self, tree, depth, op="add"):
        a, b, pos = self._binary(tree, depth)
        word = "add" if op == "add" else "subtract"
        if self._is_scalar(a) or self._is_scalar(b):
            shape = b.shape if self._is_scalar(a) else a.shape
        else:

            def msg():
                return f"cannot {word} {_shape_text(a.shape)} and {_shape_text(b.shape)}"

            self.unify(a.shape[0], b.shape[0], msg, pos)
            self.unify(a.shape[1], b.shape[1], msg, pos)
            shape = a.shape
        return _P(op, [a, b], shape, pos)

    def _infer_sub(self, tree, depth):
        return self._infer_add(tree, depth, op="sub")

    def _infer_mul(self, tree, depth):
        a, b, pos = self._binary(tree, depth)
        if self._is_scalar(a):
            return _P("mul", [a, b], b.shape, pos)
        if self._is_scalar(b):
            return _P("mul", [a, b], a.shape, pos)

        def msg():
            hint = ""
            if a.shape[1].find() is ONE and b.shape[1].find() is ONE:
                hint = "; for an inner product write x'*y"
            cols, rows = str(a.shape[1]), str(b.shape[0])
            return (
                f"inner dimensions disagree in product: left is {_shape_text(a.shape)} "
                f"with {cols} column{'' if cols == '1' else 's'}, right is "
                f"{_shape_text(b.shape)} with {rows} row{'' if rows == '1' else 's'}{hint}"
            )

        self.unify(a.shape[1], b.shape[0], msg, pos)
        return _P("mul", [a, b], (a.shape[0], b.shape[1]), pos)

    def _infer_div(self, tree, depth):
        a, b, pos = self._binary(tree, depth)
        if not self._is_scalar(b):
            raise self.error(
                f"can only divide by a scalar, not by {_shape_text(b.shape)}; "
                "use ./ to divide elementwise",
                pos,
            )
        return _P("div", [a, b], a.shape, pos)

    def _infer_hmul(self, tree, depth, op="hmul"):
        a, b, pos = self._binary(tree, depth)
        if self._is_scalar(a) or self._is_scalar(b):
            shape = b.shape if self._is_scalar(a) else a.shape
        else:
            sym = ".*" if op == "hmul" else "./"

            def msg():
                return (
                    f"elementwise {sym} needs equal shapes: "
                    f"{_shape_text(a.shape)} and {_shape_text(b.shape)}"
                )

            self.unify(a.shape[0], b.shape[0], msg, pos)
            self.unify(a.shape[1], b.shape[1], msg, pos)
            shape = a.shape
        return _P(op, [a, b], shape, pos)

    def _infer_hdiv(self, tree, depth):
        return self._infer_hmul(tree, depth, op="hdiv")

    def _infer_pow(self, tree, depth, op="pow"):
        a, b, pos = self._binary(tree, depth)
        if op == "epow" and not self._is_scalar(b):
            if not self._is_scalar(a):  # x.^y: elementwise, shapes agree

                def msg():
                    return (
                        f"elementwise .^ needs equal shapes or a scalar side: "
                        f"{_shape_text(a.shape)} and {_shape_text(b.shape)}"
                    )

                self.unify(a.shape[0], b.shape[0], msg, pos)
                self.unify(a.shape[1], b.shape[1], msg, pos)
            return _P("epow", [a, b], b.shape, pos)  # c.^x has the shape of x
        if not self._is_scalar(b):
            raise self.error(
                "an exponent must be a scalar; for an elementwise power write .^",
                _start(tree.children[1]),
            )
        if op == "pow" and not self._is_scalar(a):
            r, c = a.shape[0].find(), a.shape[1].find()
            if r is ONE or c is ONE:
                raise self.error(
                    f"^ of {_shape_text(a.shape)}: use .^ for an elementwise power", pos
                )

            def msg():
                return f"matrix power needs a square matrix, got {_shape_text(a.shape)}"

            self.unify(a.shape[0], a.shape[1], msg, pos)
            return _P("matpow", [a, b], a.shape, pos)
        return _P("epow", [a, b], a.shape, pos)

    def _infer_epow(self, tree, depth):
        return self._infer_pow(tree, depth, op="epow")

    def _infer_call(self, tree, depth):
        name_tok, args_tree = tree.children
        name = str(name_tok)
        pos = name_tok.start_pos
        if name not in FUNCTIONS:
            if name in self.defs or name in self.vars or name in self.decls:
                raise self.error(f"{name} is a variable, not a function", pos)
            raise self.error(
                f"unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}", pos
            )
        raw = args_tree.children
        want = 2 if name == "kron" else 1
        if len(raw) != want:
            raise self.error(f"{name} takes {want} argument{'s' if want > 1 else ''}", pos)
        if name in CONSTRUCTORS:
            a = self.infer(raw[0], depth)
            if not self._is_scalar(a):
                raise self.error(f"{name}(c) needs a scalar constant c", _start(raw[0]))
            if name == "vector":
                shape = (self.dim(None, "len(vector)"), ONE)
            else:
                shape = (self.dim(None, "rows(matrix)"), self.dim(None, "cols(matrix)"))
            return _P("fill", [a], shape, pos)
        args = [self.infer(r, depth) for r in raw]
        a = args[0]
        if name in ELEMENTWISE:
            return _P("fn", args, a.shape, pos, name)
        if name in ("sum", "norm1", "norm2"):
            return _P(name, args, (ONE, ONE), pos)
        if name == "kron":
            # the product dimensions are built from the factors' once they are solved
            a, b = args
            shape = (self._product(a.shape[0], b.shape[0]), self._product(a.shape[1], b.shape[1]))
            return _P("kron", args, shape, pos)
        r, c = a.shape[0].find(), a.shape[1].find()
        if name == "diag":
            if r is ONE and c is ONE:
                return _P("diag", args, a.shape, pos)
            if c is ONE or r is ONE:
                n = r if c is ONE else c
                return _P("diagm", args, (n, n), pos)
            self._square(a, name, pos)
            return _P("diagv", args, (a.shape[0], ONE), pos)
        if r is ONE and c is ONE:
            return _P(name, args, a.shape if name in SQUARE_MAPS else (ONE, ONE), pos)
        self._square(a, name, pos)
        if name in SQUARE_MAPS:
            return _P(name, args, a.shape, pos)
        return _P(name, args, (ONE, ONE), pos)

    def _product(self, a: _Dim, b: _Dim) -> _Dim:
        if a.find() is ONE:
            return b
        if b.find() is ONE:
            return a
        return _Dim("kron", False, (a, b))

    def _square(self, a: _P, name: str, pos: int) -> None:
        r, c = a.shape[0].find(), a.shape[1].find()
        if r is ONE or c is ONE:
            raise self.error(f"{name} needs a square matrix, got {_shape_text(a.shape)}", pos)

        def msg():
            return f"{name} needs a square matrix, got {_shape_text(a.shape)}"

        self.unify(a.shape[0], a.shape[1], msg, pos)

    # -- pass 2
    def final_dim(self, d: _Dim):
        r = d.find()
        if r is ONE:
            return 1
        if r.factors:
            return f"{self.final_dim(r.factors[0])}*{self.final_dim(r.factors[1])}"
        name = self.final_names.get(r)
        if name is None:
            # two unrelated dimensions may share a hint (two eyes): keep them apart
            taken = set(self.final_names.values())
            name, k = r.name, 2
            while name in taken:
                name, k = f"{r.name}_{k}", k + 1
            self.final_names[r] = name
        return name

    def final_shape(self, shape) -> E.Shape:
        return (self.final_dim(shape[0]), self.final_dim(shape[1]))

    def build(self, p: _P, built_defs: dict) -> E.Expr:
        try:
            node = rewrite(self._build(p, built_defs))
            self.positions.setdefault(node, p.pos)
            return node
        except SymbolicError as err:
            if err.line is None:
                raise self.error(err.message, p.pos) from None
            raise

    def _build(self, p: _P, defs: dict) -> E.Expr:
        leaf = _LEAVES.get(p.op)
        if leaf is not None:
            return leaf(self, p, defs)
        args = [self.build(a, defs) for a in p.args]
        if p.op in ("epow", "matpow"):
            return self._power(p, *args)
        if p.op == "fn":
            return E.fn(p.data, args[0])
        return _OPERATORS[p.op](*args)

    def _fill(self, p: _P, defs: dict) -> E.Expr:
        c = self.build(p.args[0], defs)
        if not isinstance(c, E.Const):
            raise self.error("vector(c) and matrix(c) need a number c", p.pos)
        return E.fill(c.value, self.final_shape(p.shape))

    def _power(self, p: _P, base: E.Expr, ex: E.Expr) -> E.Expr:
        if p.op == "matpow" and not isinstance(ex, E.Const):
            return E.matpow(base, ex)  # an integer known at evaluation time
        if p.op == "epow":
            return E.varpow(base, ex)  # a number gives the elementwise power
        k = ex.value
        if not k.is_integer():
            raise self.error("a matrix power needs an integer exponent", p.args[1].pos)
        if abs(k) > MAX_MATRIX_POWER:
            raise self.error(f"matrix powers are limited to |k| <= {MAX_MATRIX_POWER}", p.pos)
        if k == 0:
            return E.eye(base.shape[0])
        factor = base if k > 0 else E.inv(base)
        return E.mul(*([factor] * int(abs(k))))


# What each node of the typed parse tree builds: leaves from their data...
_LEAVES = {
    "const": lambda parser, p, defs: E.const(p.data),
    "ref": lambda parser, p, defs: defs[p.data],
    "var": lambda parser, p, defs: E.var(p.data[0], p.data[1], parser.final_shape(p.shape)),
    "eye": lambda parser, p, defs: E.eye(parser.final_dim(p.shape[0])),
    "fill": _Parser._fill,
}


def _sum(a: E.Expr, b: E.Expr, subtract: bool = False) -> E.Expr:
    a, b = _broadcast(a, b.shape), _broadcast(b, a.shape)
    return E.sub(a, b) if subtract else E.add(a, b)


# ... and operators and functions from their built arguments.
_OPERATORS = {
    "T": E.transpose,
    "neg": E.neg,
    "add": _sum,
    "sub": lambda a, b: _sum(a, b, subtract=True),
    "mul": E.mul,
    "div": lambda a, b: E.mul(a, E.pow_(b, -1.0)),
    "hmul": E.had,
    "hdiv": lambda a, b: E.had(a, E.pow_(b, -1.0)),
    "diag": lambda a: a,  # diag of a scalar
    "kron": E.kron,
    **E.UNARY,
}


def line_column(source: str, pos: int) -> tuple[int, int]:
    """1-based line and column of the offset ``pos``."""
    line = source.count("\n", 0, pos) + 1
    col = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _broadcast(a: E.Expr, shape) -> E.Expr:
    """A scalar added to an array stands for the array filled with it."""
    if a.is_scalar and shape != E.SCALAR:
        return E.mul(a, E.fill(1.0, shape))
    return a


def _start(node) -> int:
    if isinstance(node, lark.Token):
        return node.start_pos
    return node.meta.start_pos


def _end(node) -> int:
    if isinstance(node, lark.Token):
        return node.end_pos
    return node.meta.end_pos


def _readable_terminal(name: str) -> str:
    special = {"NAME": "a name", "NUMBER": "a number", "$END": "end of input", "NEWLINE": "newline"}
    if name in special:
        return special[name]
    try:
        term = _lark().get_terminal(name)
        return repr(term.pattern.value)
    except KeyError:
        return name


def _lark_error(err: lark.exceptions.UnexpectedInput, source: str) -> SymbolicError:
    line = getattr(err, "line", None)
    column = getattr(err, "column", None)
    if isinstance(err, lark.exceptions.UnexpectedCharacters):
        ch = source[err.pos_in_stream] if err.pos_in_stream < len(source) else "?"
        return SymbolicError(f"unexpected character {ch!r}", source, line, column)
    expected = sorted({_readable_terminal(t) for t in getattr(err, "expected", ()) or ()})
    if isinstance(err, lark.exceptions.UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            what = "end of input"
            line, column = _end_position(source)
        else:
            what = repr(str(tok))
        msg = f"unexpected {what}"
    else:
        msg = "unexpected end of input"
        line, column = _end_position(source)
    if expected:
        msg += "; expected " + ", ".join(expected[:10])
    if line is None or line < 1:
        line, column = _end_position(source)
    return SymbolicError(msg, source, line, column)


def _end_position(source: str) -> tuple[int, int]:
    lines = source.split("\n")
    return len(lines), len(lines[-1]) + 1


def parse(
    source: str, kinds: dict | list | None = None, *, _with_info: bool = False
) -> E.Expr | Parsed:
    """Parse an expression into a canonical, shape-checked expression node.

    ``kinds`` maps names to declarations (``{"S": "symmetric", "A": "m x n"}``) or is a
    list of ``"name: spec"`` strings. Undeclared names get their kind from their first
    letter: a-g scalars, h-z vectors, A-Z matrices.

    >>> print(parse("(x'*A)'"))
    A'*x
    """
    if not isinstance(source, str):
        raise SymbolicError("the expression must be a string")
    if len(source) > MAX_LENGTH:
        raise SymbolicError(f"expression longer than {MAX_LENGTH} characters")
    if not source.strip():
        raise SymbolicError("empty expression", source, 1, 1)
    decls = normalize_kinds(kinds)
    try:
        tree = _lark().parse(source)
    except lark.exceptions.UnexpectedInput as err:
        raise _lark_error(err, source) from None
    except lark.exceptions.LarkError as err:  # anything else lark may raise on odd input
        raise SymbolicError(f"cannot parse: {err}") from None
    p = _Parser(source, decls)
    try:
        *definitions, body = tree.children
        typed_defs = []
        for d in definitions:
            name_tok, value = d.children
            name = str(name_tok)
            if name in p.defs or name in p.vars:
                raise p.error(f"{name} is already defined", name_tok.start_pos)
            if name in FUNCTIONS or name in CONSTANTS:
                raise p.error(f"{name!r} is a function of the language", name_tok.start_pos)
            if keyword.iskeyword(name) or keyword.issoftkeyword(name):
                raise p.error(f"{name!r} is a reserved word", name_tok.start_pos)
            if name in decls:
                raise p.error(f"{name} is declared as a variable", name_tok.start_pos)
            typed = p.infer(value)
            p.defs[name] = typed
            typed_defs.append((name, typed))
        typed_body = p.infer(body)
        built: dict[str, E.Expr] = {}
        for name, typed in typed_defs:
            built[name] = p.build(typed, built)
        result = p.build(typed_body, built)
    except RecursionError:
        raise SymbolicError("expression is nested too deeply") from None
    variables = {}
    for name, (kind, shape) in p.vars.items():
        variables[name] = E.var(name, kind, p.final_shape(shape))
    dims = sorted({d for n in E.nodes(result) for d in n.shape if d != 1}, key=str)
    parsed = Parsed(result, source, variables, decls, dims, built, p.positions)
    return parsed if _with_info else result
