"""Text to expression: the lark grammar, declarations, shape inference with positions.

Parsing runs in two passes over the lark tree. The first infers shapes, unifying
dimension variables (``A: m x n`` declares rigid names, anything else gets fresh ones)
and reports a mismatch at the operator that caused it. The second builds canonical
expression nodes from the solved shapes.

A chain of ``+``/``-``, of ``*``/``/`` or of ``.*``/``./`` is read as one n-ary node,
walking lark's left-leaning tree without recursion, so that a sum of 1,000 terms is
one level deep; only true nesting counts toward ``MAX_DEPTH``. The input is a program:
definitions, then the function (see ``grammar.lark``); definitions are substituted.
"""

from __future__ import annotations

import functools
import keyword
import numbers
import re
from dataclasses import dataclass, field
from importlib import resources

import lark

from . import expr as E
from .errors import SymbolicError
from .printers import to_text
from .simplify import rewrite

MAX_LENGTH = 100_000
# How many operators, brackets and calls may sit inside one another. Sums and products
# are n-ary (a chain of 1,000 terms is one level), so only true nesting counts.
MAX_DEPTH = 80
MAX_MATRIX_POWER = 16

ELEMENTWISE = tuple(E.ELEMENTWISE)
REDUCTIONS = ("sum", "norm1", "norm2", "tr", "det", "logdet")
SQUARE_MAPS = ("inv", "adj")
CONSTRUCTORS = ("vector", "matrix")
FUNCTIONS = frozenset(ELEMENTWISE + REDUCTIONS + SQUARE_MAPS + CONSTRUCTORS + ("diag", "kron"))
CONSTANTS = frozenset({"eye"})
KINDS = ("scalar", "vector", "matrix", "symmetric")


class _Continuation(lark.lark.PostLex):
    """Drops the new lines that do not end a statement.

    A line that ends in an operator, a comma or an ``=``, or inside brackets, goes on on
    the next line, so that a long expression can be written over several lines.
    Positions are untouched: the tokens keep their offsets in the source.
    """

    always_accept = ("_NEWLINE",)
    _GOES_ON = frozenset({"+", "-", "*", "/", ".*", "./", "^", ".^", ",", "=", "("})

    def process(self, stream):
        depth = 0
        last = None
        for tok in stream:
            if tok.type == "_NEWLINE":
                if depth > 0 or last in self._GOES_ON:
                    continue
            elif tok.value == "(":
                depth += 1
            elif tok.value == ")":
                depth = max(depth - 1, 0)
            last = tok.value
            yield tok


@functools.lru_cache(maxsize=1)
def _lark() -> lark.Lark:
    grammar = resources.files("matdiff.symbolic").joinpath("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, postlex=_Continuation())


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
    spec = re.sub(r"(?<=\d)x(?=\d)", " x ", spec)  # "3x4": numbers, refused below with a hint
    words = spec.replace("×", " x ").replace("*", " x ").split()
    kind = None
    if words and words[0] in KINDS:
        kind = words.pop(0)
    dims = [w for w in words if w != "x"]
    if len(words) != len(dims) + max(len(dims) - 1, 0) or len(dims) > 2:
        raise SymbolicError(f"cannot read declaration {text!r}; write e.g. 'A: m x n'")
    for d in dims:
        if d.isdecimal():
            names = ["m", "n"] if len(dims) == 2 else ["n"]
            spec = (f"{kind} " if kind else "") + " x ".join(names)
            sizes = " ".join(f"{n}={size}" for n, size in zip(names, dims))
            raise SymbolicError(
                f"dimension {d} in declaration of {name} is a number; declarations name "
                f"dimensions and sizes are given apart: '{name}: {spec}' with "
                f"dims={{{', '.join(f'{n!r}: {size}' for n, size in zip(names, dims))}}} "
                f'(on the command line --declare "{name}: {spec}" '
                + " ".join(f"--dim {s}" for s in sizes.split())
                + ")"
            )
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


def normalize_dims(dims) -> dict:
    """``dims`` checked: a dict of dimension names to positive integers.

    >>> normalize_dims({"n": 3})
    {'n': 3}
    """
    if dims is None:
        return {}
    if not isinstance(dims, dict):
        raise SymbolicError(
            f"dims must be a dict of dimension sizes, e.g. {{'n': 5}}; got {dims!r}"
        )
    out = {}
    for name, size in dims.items():
        integral = isinstance(size, numbers.Integral) and not isinstance(size, bool)
        if not isinstance(name, str) or not integral or int(size) < 1:
            raise SymbolicError(
                f"dims[{name!r}] is {size!r}; a dimension's size is a positive integer, "
                "e.g. dims={'n': 5}"
            )
        out[name] = int(size)
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
    name: str | None = None  # the function's name when its line is a definition
    notes: list = field(default_factory=list)  # things the user may not have meant

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
        self.notes: list[str] = []  # what the user may not have meant (see _note_broadcast)
        self.noted: set[str] = set()

    def check_definition(self, name: str, pos: int) -> None:
        if name in self.defs or name in self.vars:
            raise self.error(f"{name} is already defined", pos)
        if name in FUNCTIONS or name in CONSTANTS:
            raise self.error(f"{name!r} is a function of the language", pos)
        if keyword.iskeyword(name) or keyword.issoftkeyword(name):
            raise self.error(f"{name!r} is a reserved word", pos)
        if name in self.decls:
            raise self.error(f"{name} is declared as a variable", pos)

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
            raise self.error(
                f"expression is nested too deeply: more than {MAX_DEPTH} levels of "
                "brackets, calls or operators inside one another (a long sum or product "
                "is one level)",
                _start(tree),
            )
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

    def _chain(self, tree, ops: tuple) -> tuple[lark.Tree, list]:
        """The operands of a left-leaning chain of ``ops``: the first, then (op, tree, pos).

        The chain is walked without recursion, so a sum of 1,000 terms is one level.
        """
        rest = []
        while isinstance(tree, lark.Tree) and tree.data in ops:
            rest.append((tree.data, tree.children[1], self.op_pos(tree)))
            tree = tree.children[0]
        rest.reverse()
        return tree, rest

    def _infer_add(self, tree, depth):
        first, rest = self._chain(tree, ("add", "sub"))
        terms = [self.infer(first, depth)]
        signs = [1]
        shape = terms[0].shape
        for op, right, pos in rest:
            b = self.infer(right, depth)
            word = "add" if op == "add" else "subtract"
            a_shape = shape
            if self._is_scalar_shape(a_shape) or self._is_scalar(b):
                if self._is_scalar_shape(a_shape) != self._is_scalar(b):
                    scalar = b if self._is_scalar(b) else terms[0]
                    self._note_broadcast(scalar, b.shape if scalar is terms[0] else a_shape)
                shape = b.shape if self._is_scalar_shape(a_shape) else a_shape
            else:

                def msg(a_shape=a_shape, b=b, word=word):
                    return f"cannot {word} {_shape_text(a_shape)} and {_shape_text(b.shape)}"

                self.unify(a_shape[0], b.shape[0], msg, pos)
                self.unify(a_shape[1], b.shape[1], msg, pos)
            terms.append(b)
            signs.append(1 if op == "add" else -1)
        return _P("terms", terms, shape, rest[-1][2], signs)

    _infer_sub = _infer_add

    def _is_scalar_shape(self, shape) -> bool:
        return shape[0].find() is ONE and shape[1].find() is ONE

    def _note_broadcast(self, term: _P, shape) -> None:
        """Say so when a scalar by the letter rule is added to an array.

        ``A*x - b`` with an undeclared ``b`` subtracts the scalar ``b`` from every entry,
        which is rarely what was meant: the result carries a note naming ``b``.
        """
        for name in self._letter_scalars(term):
            if name in self.noted:
                continue
            self.noted.add(name)
            self.notes.append(
                f"{name} is a scalar by the letter rule (names starting with a-g are "
                f"scalars), and it is added to {_shape_text(shape)} entry by entry; if "
                f"{name} is a vector, declare it: kinds={{{name!r}: 'vector'}} "
                f'(on the command line --declare "{name}: vector")'
            )

    def _letter_scalars(self, p: _P) -> list:
        out = []
        stack = [p]
        while stack:
            q = stack.pop()
            if q.op == "var" and q.data[1] == "scalar" and q.data[0] not in self.decls:
                out.append(q.data[0])
            elif q.op == "ref":
                stack.append(self.defs[q.data])
            stack.extend(q.args)
        return sorted(set(out))

    def _infer_mul(self, tree, depth):
        """A chain of ``* / .* ./``: runs of ``*`` and ``/`` become one n-ary product, runs of
        ``.*`` and ``./`` one elementwise product; a change of kind nests, left to right."""
        first, rest = self._chain(tree, ("mul", "div", "hmul", "hdiv"))
        acc = self.infer(first, depth)
        nesting = 0
        for op, right, pos in rest:
            b = self.infer(right, depth)
            kind = "mul" if op in ("mul", "div") else "had"
            if op == "mul":
                shape = self._mul_shape(acc, b, pos)
            elif op == "div":
                shape = self._div_shape(acc, b, pos)
            else:
                shape = self._had_shape(acc, b, pos, ".*" if op == "hmul" else "./")
            if acc.op == kind and acc.extra.get("open"):
                acc.args.append(b)
                acc.data.append(op)
                acc.shape, acc.pos = shape, pos
                continue
            nesting += 1
            if depth + nesting > MAX_DEPTH:
                raise self.error(
                    f"expression is nested too deeply: more than {MAX_DEPTH} levels of "
                    "brackets, calls or operators inside one another (alternating * and .* "
                    "nest; write a long product with one of them)",
                    pos,
                )
            acc = _P(kind, [acc, b], shape, pos, ["first", op], {"open": True})
        if acc.extra.get("open"):
            acc.extra["open"] = False
        return acc

    _infer_div = _infer_hmul = _infer_hdiv = _infer_mul

    def _mul_shape(self, a: _P, b: _P, pos: int):
        if self._is_scalar(a):
            return b.shape
        if self._is_scalar(b):
            return a.shape

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
        return (a.shape[0], b.shape[1])

    def _div_shape(self, a: _P, b: _P, pos: int):
        if not self._is_scalar(b):
            raise self.error(
                f"can only divide by a scalar, not by {_shape_text(b.shape)}; "
                "use ./ to divide elementwise",
                pos,
            )
        return a.shape

    def _had_shape(self, a: _P, b: _P, pos: int, sym: str):
        if self._is_scalar(a) or self._is_scalar(b):
            return b.shape if self._is_scalar(a) else a.shape

        def msg():
            return (
                f"elementwise {sym} needs equal shapes: "
                f"{_shape_text(a.shape)} and {_shape_text(b.shape)}"
            )

        self.unify(a.shape[0], b.shape[0], msg, pos)
        self.unify(a.shape[1], b.shape[1], msg, pos)
        return a.shape

    def _binary(self, tree, depth):
        a = self.infer(tree.children[0], depth)
        b = self.infer(tree.children[1], depth)
        return a, b, self.op_pos(tree)

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
        if p.op == "terms":
            return self._sum(p, args)
        if p.op in ("mul", "had"):
            # a quotient is a product with the divisor's reciprocal
            factors = [
                E.pow_(a, -1.0) if op in ("div", "hdiv") else a for op, a in zip(p.data, args)
            ]
            return _product(factors) if p.op == "mul" else E.had(*factors)
        if p.op in ("epow", "matpow"):
            return self._power(p, *args)
        if p.op == "fn":
            return E.fn(p.data, args[0])
        return _OPERATORS[p.op](*args)

    def _sum(self, p: _P, args: list) -> E.Expr:
        """An n-ary sum, read as the left fold of ``+`` and ``-`` it was written as.

        Scalars before the first array add up as scalars; a scalar added to an array
        stands for the array filled with it.
        """
        signed = [a if s > 0 else E.neg(a) for s, a in zip(p.data, args)]
        shape = self.final_shape(p.shape)
        if shape == E.SCALAR:
            return E.add(*signed)
        k = next(i for i, a in enumerate(signed) if not a.is_scalar)
        lead = [_broadcast(E.add(*signed[:k]), shape)] if k else []
        return E.add(*lead, *(_broadcast(a, shape) for a in signed[k:]))

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


# ... and operators and functions from their built arguments.
_OPERATORS = {
    "T": E.transpose,
    "neg": E.neg,
    "diag": lambda a: a,  # diag of a scalar
    "kron": E.kron,
    **E.UNARY,
}


def _product(factors: list) -> E.Expr:
    """The matrix product of ``factors`` read left to right, as its left fold would be.

    A stretch whose product is 1x1 (``x'*y`` in ``x'*y*A*z``) is a scalar before the
    next factor comes, so it is multiplied out first.
    """
    chain: list = []
    rows = None  # rows of the first array factor of the chain
    for f in factors:
        chain.append(f)
        if f.is_scalar:
            continue
        if rows is None:
            rows = f.shape[0]
        if rows == 1 and f.shape[1] == 1 and len(chain) > 1:
            chain, rows = [E.mul(*chain)], None
    return E.mul(*chain)


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
        for d in definitions:
            if d.data != "definition":
                raise p.error(
                    "only the last statement is the function; name this one (t = ...) "
                    "or, to go on on the next line, end this line with the operator",
                    _start(d),
                )
        name = None
        if body.data == "definition":  # the function itself may be named: f = t'*t
            definitions.append(body)
            name = str(body.children[0])
        typed_defs = []
        for d in definitions:
            name_tok, value = d.children
            p.check_definition(str(name_tok), name_tok.start_pos)
            typed = p.infer(value)
            p.defs[str(name_tok)] = typed
            typed_defs.append((str(name_tok), typed))
        if name is not None:
            typed_body = typed_defs.pop()[1]
            body_pos = _start(body.children[1])
        else:
            typed_body = p.infer(body)
            body_pos = _start(body)
        built: dict[str, E.Expr] = {}
        for def_name, typed in typed_defs:
            built[def_name] = p.build(typed, built)
        result = p.build(typed_body, built)
        p.positions.setdefault(result, body_pos)
    except RecursionError:
        raise SymbolicError(
            f"expression is nested too deeply: more than {MAX_DEPTH} levels of brackets, "
            "calls or operators inside one another"
        ) from None
    variables = {}
    for var_name, (kind, shape) in p.vars.items():
        variables[var_name] = E.var(var_name, kind, p.final_shape(shape))
    dims = sorted({d for n in E.nodes(result) for d in n.shape if d != 1}, key=str)
    parsed = Parsed(result, source, variables, decls, dims, built, p.positions, name, p.notes)
    return parsed if _with_info else result
