"""Immutable expression nodes, one class per node kind, and the constructors that build them.

Every node is hash-consed: structurally equal nodes are the same object, so equality and
hashing are O(1) and common subexpressions are found by identity. Nodes are only ever
built through the constructors below (``add``, ``mul``, ``had``, ``transpose``, ...), which
check shapes and keep one spelling for each form (identities such as ``inv(X)*X = eye``
are rewrites, in ``simplify``):

* sums are flat, like terms are collected, terms are sorted;
* a product is ``scalars * chain``: commuting 1x1 factors first, then the matrix chain;
  a 1x1 stretch inside the chain (``x'*A*y`` in ``z*x'*A*y``) is moved to the scalars;
* transposes sit on leaves (``(A*x)'`` is ``x'*A'``), except on ``inv``/``adj``, where
  ``inv(X)'`` is the textbook spelling;
* elementwise products are flat, sorted, and powers of a common base are merged.

Shapes are pairs ``(rows, cols)`` of dimensions; a dimension is the integer 1 or a name.
A column vector is ``(n, 1)``, a row vector ``(1, n)``, a scalar ``(1, 1)``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable

from .display import expr_html
from .errors import SymbolicError

Dim = str | int
Shape = tuple  # (Dim, Dim)
SCALAR: Shape = (1, 1)

#: Elementwise functions of the language and their scalar implementations (for folding).
ELEMENTWISE = {
    "exp": math.exp,
    "log": math.log,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "sqrt": math.sqrt,
    "abs": abs,
    "sign": lambda v: float((v > 0) - (v < 0)),
    "relu": lambda v: max(v, 0.0),
}

#: Where an elementwise function is defined, when not everywhere.
ELEMENTWISE_DOMAINS = {"log": "positive", "sqrt": "positive", "arcsin": "unit", "arccos": "unit"}

# A cap on the size of any one node, so that adversarial input fails with a message
# instead of exhausting memory or time.
MAX_NODES = 20000

_INTERN: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def fmt_number(v: float) -> str:
    """A number as the language spells it: ``2``, ``0.5``, ``-1``."""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


# Binding strength of a node kind, for the structural key's brackets and the printers'.
ADD, MUL, NEG, POW, POST, ATOM = 1, 2, 3, 4, 5, 6


class Expr:
    """One node. Each node kind is a subclass with named ``fields``; ``args`` are children.

    Do not construct directly; use the module's constructors.
    """

    __slots__ = ("args", "shape", "size", "has_delta", "_key", "__weakref__")

    #: The kind's name, as used in rule names and messages.
    op = "expr"
    #: Names of the non-child attributes that, with the children, identify a node.
    fields: tuple = ()
    #: Whether a copy used more than once is worth a temporary (``t0 = ...``) of its own.
    shareable = False

    args: tuple
    shape: Shape

    @classmethod
    def make(cls, args: tuple, shape: Shape, *values) -> Expr:
        key = (cls, values, shape, tuple(id(a) for a in args))
        node = _INTERN.get(key)
        if node is not None:
            return node
        node = object.__new__(cls)
        for name, value in zip(cls.fields, values):
            object.__setattr__(node, name, value)
        node.args = args
        node.shape = shape
        node.size = 1 + sum(a.size for a in args)
        if node.size > MAX_NODES:
            raise SymbolicError(f"expression too large (more than {MAX_NODES} nodes)")
        node.has_delta = cls is Delta or any(a.has_delta for a in args)
        node._key = None
        _INTERN[key] = node
        return node

    @property
    def is_scalar(self) -> bool:
        return self.shape == SCALAR

    @property
    def kind(self) -> str:
        r, c = self.shape
        if r == 1 and c == 1:
            return "scalar"
        if c == 1:
            return "vector"
        if r == 1:
            return "row"
        return "matrix"

    @property
    def binding(self) -> int:
        """How tightly the node's spelling binds: brackets go around looser children."""
        return ATOM

    def rebuild(self, args: tuple) -> Expr:
        """This node with new children, through the canonicalizing constructor."""
        return self

    @property
    def argument_domain(self) -> str | None:
        """What the argument must be for a value: ``spd``, ``positive``, ``unit`` or None."""
        return None

    def sort_key(self) -> tuple:
        """The structural order of nodes: names and operators in reading order.

        Sums and commuting factors are sorted by it, so ``A + A'`` and ``a*b*x``; it is a
        tuple of strings built from the fields and the children's keys, never from a printer.
        Its tokens follow the order in which the language writes a node (a positive term
        first, a product's number first, divisors last), so that canonical forms sort as
        their text reads.
        """
        if self._key is None:
            self._key = self._key_parts()
        return self._key

    def _key_parts(self) -> tuple:
        raise NotImplementedError

    def __str__(self) -> str:
        show = Expr.to_text
        return show(self) if show is not None else " ".join(self.sort_key())

    def __repr__(self) -> str:
        return f"<{self}>"

    # notebook displays, in the printers' forms
    def _repr_latex_(self) -> str:
        return f"$${Expr.to_latex(self)}$$"

    def _repr_html_(self) -> str:
        return expr_html(Expr.to_latex(self), Expr.to_text(self), self.kind)

    #: The text and LaTeX printers; ``printers`` installs them, building on this module.
    to_text = None
    to_latex = None

    # nodes stay unique because they are interned; copying would break identity
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        raise TypeError("symbolic expressions are not picklable; keep their text")


def _bracket(e: Expr, level: int) -> tuple:
    key = e.sort_key()
    return ("(", *key, ")") if e.binding < level else key


def _joined(keys: list, sep: str) -> tuple:
    out: tuple = ()
    for k in keys:
        out += (sep, *k) if out else k
    return out


def _factor_key(f: Expr) -> tuple:
    if isinstance(f, Mul) and f.nscalars == 0 and f.is_scalar:
        return f.sort_key()  # a scalar chain reads as its factors: 2*x'*y
    return _bracket(f, NEG)


def _is_reciprocal(f: Expr) -> bool:
    return isinstance(f, Pow) and f.p < 0


def _divisor_key(f: Expr) -> tuple:
    """The key of what a reciprocal ``f`` divides by: ``x`` in ``1./x``."""
    base = _bracket(f.args[0], POST)
    return base if f.p == -1 else (*base, ".^", fmt_number(-f.p))


class Var(Expr):
    """A variable: ``declared`` is its kind as declared (``symmetric``, ``vector``, ...)."""

    __slots__ = ("name", "declared")
    op = "var"
    fields = ("name", "declared")

    def _key_parts(self) -> tuple:
        return (self.name,)


class Delta(Expr):
    """The differential ``dX`` of the variable ``X``."""

    __slots__ = ("name", "declared")
    op = "delta"
    fields = ("name", "declared")

    def _key_parts(self) -> tuple:
        return ("d" + self.name,)


class Const(Expr):
    """A number."""

    __slots__ = ("value",)
    op = "const"
    fields = ("value",)

    @property
    def binding(self) -> int:
        return NEG if self.value < 0 else ATOM

    def _key_parts(self) -> tuple:
        return (fmt_number(self.value),)


class Fill(Expr):
    """A constant array: every entry is ``value``."""

    __slots__ = ("value",)
    op = "fill"
    fields = ("value",)

    @property
    def binding(self) -> int:
        return POST if self.kind == "row" else ATOM

    def _key_parts(self) -> tuple:
        word = "matrix(" if self.kind == "matrix" else "vector("
        tail = ("'",) if self.kind == "row" else ()
        return (word, fmt_number(self.value), ")", *tail)


class Eye(Expr):
    """The identity matrix."""

    __slots__ = ()
    op = "eye"

    def _key_parts(self) -> tuple:
        return ("eye",)


class Add(Expr):
    """A sum; its ``args`` are the terms."""

    __slots__ = ()
    op = "add"
    shareable = True

    @property
    def binding(self) -> int:
        return ADD

    def rebuild(self, args: tuple) -> Expr:
        return add(*args)

    def _key_parts(self) -> tuple:
        terms = list(self.args)
        # a positive term leads, so that b - a reads as such
        for i, t in enumerate(terms):
            if split_coeff(t)[0] > 0:
                terms.insert(0, terms.pop(i))
                break
        out: tuple = ()
        for t in terms:
            c, core = split_coeff(t)
            if out and c < 0:
                t = mul(const(-c), core)
            # a constant array in a sum reads as its number: 1 + t
            key = (fmt_number(t.value),) if isinstance(t, Fill) else t.sort_key()
            out += (" - " if c < 0 else " + ", *key) if out else key
        return out


class Mul(Expr):
    """A product: ``nscalars`` commuting 1x1 factors first, then the matrix chain."""

    __slots__ = ("nscalars",)
    op = "mul"
    shareable = True
    fields = ("nscalars",)

    @property
    def scalars(self) -> tuple:
        return self.args[: self.nscalars]

    @property
    def chain(self) -> tuple:
        return self.args[self.nscalars :]

    @property
    def binding(self) -> int:
        lead = self.args[0]
        return NEG if isinstance(lead, Const) and lead.value < 0 else MUL

    def rebuild(self, args: tuple) -> Expr:
        return mul(*args)

    def _key_parts(self) -> tuple:
        scal, chain = list(self.scalars), list(self.chain)
        sign: tuple = ()
        num: list = []
        if scal and isinstance(scal[0], Const):
            c = scal.pop(0).value
            sign = ("-",) if c < 0 else ()
            if c != -1:
                num.append((fmt_number(abs(c)),))
        num += [_factor_key(f) for f in scal if not _is_reciprocal(f)]
        den = [f for f in scal if _is_reciprocal(f)]
        if len(chain) == 1 and _is_reciprocal(chain[0]) and not den:
            return (*sign, *(_joined(num, "*") or ("1",)), "./", *_divisor_key(chain[0]))
        if len(chain) == 1 and isinstance(chain[0], Had):
            num.append(chain.pop().sort_key())
        i = 0
        while i < len(chain):
            # a run of one factor reads as a power: A^2
            j = i
            while j + 1 < len(chain) and chain[j + 1] is chain[i]:
                j += 1
            if j > i:
                num.append((*_bracket(chain[i], POST), "^", str(j - i + 1)))
            else:
                num.append(_factor_key(chain[i]))
            i = j + 1
        out = _joined(num, "*") or ("1",)
        if den:
            d = mul(*[pow_(f.args[0], -f.p) for f in den])
            out += ("/", *_bracket(d, NEG))
        return (*sign, *out)


class Had(Expr):
    """An elementwise (Hadamard) product."""

    __slots__ = ()
    op = "had"
    shareable = True

    @property
    def binding(self) -> int:
        return MUL

    def rebuild(self, args: tuple) -> Expr:
        return had(*args)

    def _key_parts(self) -> tuple:
        num = [_factor_key(f) for f in self.args if not _is_reciprocal(f)]
        out = _joined(num, ".*") or ("1",)
        for f in self.args:
            if _is_reciprocal(f):
                out += ("./", *_divisor_key(f))
        return out


class Pow(Expr):
    """An elementwise power ``base.^p`` with a number ``p`` (``^`` for a scalar)."""

    __slots__ = ("p",)
    op = "pow"
    shareable = True
    fields = ("p",)

    @property
    def binding(self) -> int:
        return MUL if self.p < 0 else POW

    def rebuild(self, args: tuple) -> Expr:
        return pow_(args[0], self.p)

    @property
    def argument_domain(self) -> str | None:
        return None if self.p.is_integer() and self.p > 0 else "positive"

    def _key_parts(self) -> tuple:
        hat = "^" if self.is_scalar else ".^"
        if self.p < 0:
            tail = () if self.p == -1 else (hat, fmt_number(-self.p))
            return ("1/" if self.is_scalar else "1./", *_bracket(self.args[0], POST), *tail)
        return (*_bracket(self.args[0], POST), hat, fmt_number(self.p))


class VarPow(Expr):
    """A power ``base.^e`` whose exponent is an expression, not a number (``^`` for scalars).

    The exponent is a scalar or shaped like the base, and a scalar base raised to an array
    exponent fills its shape (``2.^x``). The base must be positive, where ``base.^e`` is
    ``exp(e.*log(base))``.
    """

    __slots__ = ()
    op = "varpow"
    shareable = True
    argument_domain = "positive"

    @property
    def binding(self) -> int:
        return POW

    def rebuild(self, args: tuple) -> Expr:
        return varpow(*args)

    def _key_parts(self) -> tuple:
        base, ex = self.args
        hat = "^" if self.is_scalar else ".^"
        return (*_bracket(base, POST), hat, *_bracket(ex, ATOM))


class Fn(Expr):
    """An elementwise function of the language, ``name`` one of ``ELEMENTWISE``."""

    __slots__ = ("name",)
    op = "fn"
    shareable = True
    fields = ("name",)

    def rebuild(self, args: tuple) -> Expr:
        return fn(self.name, args[0])

    @property
    def argument_domain(self) -> str | None:
        return ELEMENTWISE_DOMAINS.get(self.name)

    def _key_parts(self) -> tuple:
        return (self.name, "(", *self.args[0].sort_key(), ")")


class T(Expr):
    """A transpose; it sits on leaves and on ``inv`` and ``adj`` only."""

    __slots__ = ()
    op = "T"

    @property
    def binding(self) -> int:
        return POST

    def rebuild(self, args: tuple) -> Expr:
        return transpose(args[0])

    def _key_parts(self) -> tuple:
        return (*_bracket(self.args[0], POST), "'")


class Kron(Expr):
    """The Kronecker product of two matrices."""

    __slots__ = ()
    op = "kron"

    def rebuild(self, args: tuple) -> Expr:
        return kron(*args)

    def _key_parts(self) -> tuple:
        a, b = self.args
        return ("kron(", *a.sort_key(), ", ", *b.sort_key(), ")")


class MatPow(Expr):
    """A matrix power ``X^k`` whose exponent is a scalar expression, not a number.

    The exponent is an integer at evaluation time; powers with a number for exponent are
    products (``X^2`` is ``X*X``, ``X^-1`` is ``inv(X)``).
    """

    __slots__ = ()
    op = "matpow"
    shareable = True

    @property
    def binding(self) -> int:
        return POW

    def rebuild(self, args: tuple) -> Expr:
        return matpow(*args)

    def _key_parts(self) -> tuple:
        base, k = self.args
        return (*_bracket(base, POST), "^", *_bracket(k, ATOM))


class PowSum(Expr):
    """``sum(X^i*M*X^(k - 1 - i), i = 0..k - 1)``, which is ``d(X^k)`` when ``M`` is ``dX``.

    For a negative ``k`` the sum runs over ``i = k..-1`` with a minus sign: that is the
    differential of ``inv(X)^-k``, so ``d(X^k)`` is this node for every integer ``k``.
    It is linear in ``M``, and ``<S, PowSum(X, k, M)> = <PowSum(X', k, S), M>``.
    """

    __slots__ = ()
    op = "powsum"
    shareable = True

    def rebuild(self, args: tuple) -> Expr:
        return powsum(*args)

    def _key_parts(self) -> tuple:
        base, k, m = self.args
        b = _bracket(base, POST)
        return ("sum(", *b, "^i*", *_bracket(m, NEG), "*", *b, "^(", *k.sort_key(), " - 1 - i))")


class Function(Expr):
    """A function of one matrix argument; ``word`` is how the language calls it."""

    __slots__ = ()
    word = ""

    def rebuild(self, args: tuple) -> Expr:
        return UNARY[self.op](args[0])

    def _key_parts(self) -> tuple:
        return (self.word, "(", *self.args[0].sort_key(), ")")


class Sum(Function):
    __slots__ = ()
    op = word = "sum"
    shareable = True


class Tr(Function):
    __slots__ = ()
    op = word = "tr"
    shareable = True


class Det(Function):
    __slots__ = ()
    op = word = "det"
    shareable = True
    argument_domain = "spd"


class LogDet(Function):
    __slots__ = ()
    op = word = "logdet"
    shareable = True
    argument_domain = "spd"


class Inv(Function):
    __slots__ = ()
    op = word = "inv"
    shareable = True
    argument_domain = "spd"


class Adj(Function):
    __slots__ = ()
    op = word = "adj"
    shareable = True
    argument_domain = "spd"


class DiagM(Function):
    """The diagonal matrix of a vector."""

    __slots__ = ()
    op, word = "diagm", "diag"


class DiagV(Function):
    """The vector of the diagonal of a matrix."""

    __slots__ = ()
    op, word = "diagv", "diag"


class Norm1(Function):
    __slots__ = ()
    op = word = "norm1"


class Norm2(Function):
    __slots__ = ()
    op = word = "norm2"


def node_kinds() -> list[type]:
    """Every concrete node kind, for tables that must cover them all."""
    out = []
    stack = list(Expr.__subclasses__())
    while stack:
        k = stack.pop(0)
        subs = k.__subclasses__()
        if subs:
            stack[:0] = subs
        else:
            out.append(k)
    return out


def shape_str(shape: Shape) -> str:
    return f"{shape[0]}x{shape[1]}"


def _fail(message: str) -> SymbolicError:
    return SymbolicError(message)


# ---------------------------------------------------------------- leaves


def var(name: str, kind: str, shape: Shape) -> Expr:
    return Var.make((), shape, name, kind)


def delta(v: Var) -> Expr:
    """The differential ``dX`` of a variable ``X``."""
    return Delta.make((), v.shape, v.name, v.declared)


def const(value: float) -> Expr:
    value = float(value)
    if not math.isfinite(value):
        raise _fail(f"number {value} is out of range")
    if value == 0.0:
        value = 0.0  # no negative zero, so that 0 and -0 are one node
    return Const.make((), SCALAR, value)


def fill(value: float, shape: Shape) -> Expr:
    """A constant array: ``vector(c)`` or ``matrix(c)``; a 1x1 fill is a number."""
    if shape == SCALAR:
        return const(value)
    value = float(value)
    if not math.isfinite(value):
        raise _fail(f"number {value} is out of range")
    if value == 0.0:
        value = 0.0
    return Fill.make((), shape, value)


def zero(shape: Shape) -> Expr:
    return fill(0.0, shape)


def eye(n: Dim) -> Expr:
    if n == 1:
        return const(1.0)
    return Eye.make((), (n, n))


def is_zero(e: Expr) -> bool:
    return isinstance(e, (Const, Fill)) and e.value == 0.0


# ---------------------------------------------------------------- helpers


def is_symmetric(e: Expr) -> bool:
    r, c = e.shape
    return r == c and transpose(e) is e


def split_coeff(e: Expr) -> tuple[float, Expr]:
    """``e`` as ``c * core`` with a numeric ``c`` and a core carrying no number."""
    if isinstance(e, Const):
        return e.value, const(1.0)
    if isinstance(e, Fill):
        return e.value, fill(1.0, e.shape)
    if isinstance(e, Mul) and isinstance(e.args[0], Const):
        ns = e.nscalars
        rest = e.args[1:]
        if len(rest) == 1:
            return e.args[0].value, rest[0]
        return e.args[0].value, Mul.make(rest, e.shape, ns - 1)
    return 1.0, e


def _power_parts(e: Expr) -> tuple[Expr, float]:
    if isinstance(e, Pow):
        return e.args[0], e.p
    return e, 1.0


# ---------------------------------------------------------------- sums


def add(*terms: Expr) -> Expr:
    """Sum of equally shaped terms; like terms collected, terms sorted."""
    flat: list[Expr] = []
    for t in terms:
        flat.extend(t.args if isinstance(t, Add) else (t,))
    if not flat:
        raise _fail("empty sum")
    shape = flat[0].shape
    for t in flat[1:]:
        if t.shape != shape:
            raise _fail(f"cannot add {shape_str(shape)} and {shape_str(t.shape)}")
    coeffs: dict[Expr, float] = {}
    diag_parts: list[Expr] = []
    for t in flat:
        c, core = split_coeff(t)
        if isinstance(core, DiagM):
            # diag is linear: diag(a) + 2*diag(b) is diag(a + 2*b)
            diag_parts.append(mul(const(c), core.args[0]))
            continue
        coeffs[core] = coeffs.get(core, 0.0) + c
    if diag_parts:
        inner = add(*diag_parts) if len(diag_parts) > 1 else diag_parts[0]
        if not is_zero(inner):
            core = diagm(inner)
            c, core = split_coeff(core)
            coeffs[core] = coeffs.get(core, 0.0) + c
    kept = [mul(const(c), core) for core, c in coeffs.items() if c != 0.0]
    kept = [t for t in kept if not is_zero(t)]
    # numbers and fills fold into one constant term; it goes wherever its key sorts
    if not kept:
        return zero(shape)
    if len(kept) == 1:
        return kept[0]
    kept.sort(key=term_key)
    return Add.make(tuple(kept), shape)


def neg(e: Expr) -> Expr:
    return mul(const(-1.0), e)


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


# ---------------------------------------------------------------- products


def _chain_node(chain: list[Expr]) -> Expr:
    """A bare chain whose product is 1x1, spelled in its canonical orientation.

    A scalar equals its transpose, so ``y'*x`` and ``x'*y`` are one node: keep the
    orientation whose key sorts first.
    """
    node = Mul.make(tuple(chain), (chain[0].shape[0], chain[-1].shape[1]), 0)
    flipped = [transpose(f) for f in reversed(chain)]
    if any(isinstance(f, Mul) or f.is_scalar for f in flipped):
        return node
    other = Mul.make(tuple(flipped), node.shape, 0)
    return min(node, other, key=_orientation_key)


def _orientation_key(e: Expr) -> tuple:
    key = e.sort_key()
    return (key.count("'"), key)  # fewer transposes first


def factor_key(e: Expr) -> tuple:
    """Order of commuting factors: simple ones first, so ``y.*(X*w)`` and ``2*a*b``."""
    return (not isinstance(e, Var), e.size, e.sort_key())


def term_key(e: Expr) -> tuple:
    """Order of the terms of a sum: constants first (``1 + t``), then by key."""
    c, core = split_coeff(e)
    return (not isinstance(core, (Const, Fill)), core.sort_key(), c)


def _merge_scalar_powers(factors: list[Expr]) -> list[Expr]:
    powers: dict[Expr, float] = {}
    for f in factors:
        base, p = _power_parts(f)
        powers[base] = powers.get(base, 0.0) + p
    out = []
    for base, p in powers.items():
        if p != 0.0:
            out.append(pow_(base, p))
    return out


def mul(*factors: Expr) -> Expr:
    """Matrix product, read left to right; 1x1 factors scale and commute."""
    scal: list[Expr] = []
    chain: list[Expr] = []
    for f in factors:
        if isinstance(f, Mul):
            s, c = f.scalars, f.chain
            scal.extend(s)
            if c and f.is_scalar:
                scal.append(Mul.make(c, SCALAR, 0))
            else:
                chain.extend(c)
        elif f.is_scalar:
            scal.append(f)
        else:
            chain.append(f)
    for a, b in zip(chain, chain[1:]):
        if a.shape[1] != b.shape[0]:
            raise _fail(
                f"inner dimensions disagree in a product: {shape_str(a.shape)} "
                f"times {shape_str(b.shape)}"
            )
    shape = (chain[0].shape[0], chain[-1].shape[1]) if chain else SCALAR

    coeff = 1.0
    # a sum inside a product leads with a positive term: (x - m) is -(m - x) when m sorts first
    scal = [_positive_sum(f) for f in scal]
    chain = [_positive_sum(f) for f in chain]
    for f in list(scal) + list(chain):
        if isinstance(f, _Negated):
            coeff = -coeff
    scal = [f.e if isinstance(f, _Negated) else f for f in scal]
    chain = [f.e if isinstance(f, _Negated) else f for f in chain]
    rest: list[Expr] = []
    for s in scal:
        if isinstance(s, Const):
            coeff *= s.value
        else:
            rest.append(s)
    new_chain = []
    for f in chain:
        if isinstance(f, Fill) and f.value != 1.0:
            coeff *= f.value
            f = fill(1.0, f.shape)
        new_chain.append(f)
    chain = new_chain
    if coeff == 0.0 or any(is_zero(f) for f in chain):
        return zero(shape)
    if not math.isfinite(coeff):
        raise _fail("a constant overflows")

    # move a 1x1 stretch of the chain to the scalars when what is left still chains
    changed = True
    while changed:
        changed = False
        for i, f in enumerate(chain):
            if f.shape[0] != 1:
                continue
            for j in range(i + 1, len(chain)):
                if chain[j].shape[1] != 1:
                    continue
                if i == 0 and j == len(chain) - 1:
                    break
                left = chain[i - 1] if i > 0 else None
                right = chain[j + 1] if j + 1 < len(chain) else None
                if left is None or right is None or left.shape[1] == right.shape[0]:
                    rest.append(_chain_node(chain[i : j + 1]))
                    chain = chain[:i] + chain[j + 1 :]
                    changed = True
                break
            if changed:
                break

    if chain and chain[0].shape[0] == 1 and chain[-1].shape[1] == 1 and (rest or coeff != 1.0):
        # a scalar-valued chain scaled by something: it is one more scalar factor
        rest.append(_chain_node(chain) if len(chain) > 1 else chain[0])
        chain = []

    # numbers hiding in scalar factors (a folded power, say) join the coefficient
    merged = []
    for s in _merge_scalar_powers(rest):
        if isinstance(s, Const):
            coeff *= s.value
        elif isinstance(s, Mul) and s.nscalars == len(s.args):  # merged power produced a product
            for t in s.args:
                if isinstance(t, Const):
                    coeff *= t.value
                else:
                    merged.append(t)
        else:
            merged.append(s)
    rest = merged
    if coeff == 0.0:
        return zero(shape)
    rest.sort(key=factor_key)
    if len(chain) == 1 and isinstance(chain[0], Fill) and not rest:
        return fill(coeff * chain[0].value, chain[0].shape)
    head = [const(coeff)] if coeff != 1.0 else []
    scal_all = head + rest
    if not chain:
        if not scal_all:
            return const(1.0)
        if len(scal_all) == 1:
            return scal_all[0]
        return Mul.make(tuple(scal_all), SCALAR, len(scal_all))
    if not scal_all and len(chain) == 1:
        return chain[0]
    if not scal_all and chain[0].shape[0] == 1 and chain[-1].shape[1] == 1:
        return _chain_node(chain)
    return Mul.make(tuple(scal_all + chain), shape, len(scal_all))


class _Negated:
    __slots__ = ("e",)

    def __init__(self, e: Expr) -> None:
        self.e = e


def _positive_sum(f: Expr):
    if isinstance(f, Add) and split_coeff(f.args[0])[0] < 0:
        return _Negated(add(*[mul(const(-1.0), t) for t in f.args]))
    return f


def scale(c: float, e: Expr) -> Expr:
    return mul(const(c), e)


# ---------------------------------------------------------------- elementwise


def had(*factors: Expr) -> Expr:
    """Elementwise (Hadamard) product; 1x1 factors scale the rest."""
    flat: list[Expr] = []
    scalars: list[Expr] = []
    for f in factors:
        if isinstance(f, Had):
            flat.extend(f.args)
        elif f.is_scalar:
            scalars.append(f)
        elif isinstance(f, Mul) and any(a.is_scalar for a in f.scalars):
            # pull the scalars of a scaled product out: (c*A).*B is c*(A.*B)
            s, c = f.scalars, f.chain
            scalars.extend(s)
            flat.append(mul(*c))
        elif isinstance(f, Fill):
            scalars.append(const(f.value))
            flat.append(fill(1.0, f.shape))
        else:
            g = _positive_sum(f)
            if isinstance(g, _Negated):
                scalars.append(const(-1.0))
                g = g.e
            flat.append(g)
    if not flat:
        return mul(*scalars) if scalars else const(1.0)
    shape = flat[0].shape
    for f in flat[1:]:
        if f.shape != shape:
            raise _fail(
                f"elementwise operands differ in shape: {shape_str(shape)} and {shape_str(f.shape)}"
            )
    powers: dict[Expr, float] = {}
    for f in flat:
        if isinstance(f, Fill):
            continue  # a fill of ones; its value went to the scalars
        base, p = _power_parts(f)
        powers[base] = powers.get(base, 0.0) + p
    kept = []
    for base, p in powers.items():
        if p == 0.0:
            continue
        term = pow_(base, p)
        if isinstance(term, Had):
            kept.extend(term.args)
        else:
            kept.append(term)
    if not kept:
        core = fill(1.0, shape)
    elif len(kept) == 1:
        core = kept[0]
    else:
        kept.sort(key=factor_key)
        core = Had.make(tuple(kept), shape)
    return mul(*scalars, core) if scalars else core


def pow_(base: Expr, p: float) -> Expr:
    """Elementwise power with a numeric exponent (``.^``, or ``^`` of a scalar)."""
    p = float(p)
    if not math.isfinite(p):
        raise _fail("exponent out of range")
    if p == 0.0:
        return fill(1.0, base.shape)
    if p == 1.0:
        return base
    if isinstance(base, (Const, Fill)):
        try:
            value = base.value**p
        except (OverflowError, ZeroDivisionError):
            raise _fail("a constant power overflows or divides by zero") from None
        if isinstance(value, complex):
            raise _fail(f"{base.value} ^ {p} is not real")
        return fill(value, base.shape)
    if isinstance(base, Pow) and p.is_integer():
        return pow_(base.args[0], base.p * p)
    if p.is_integer():
        if isinstance(base, Had):
            return had(*[pow_(f, p) for f in base.args])
        if isinstance(base, Mul) and base.is_scalar and base.nscalars == len(base.args):
            return mul(*[pow_(f, p) for f in base.args])
        if isinstance(base, Mul) and isinstance(base.args[0], Const) and not base.is_scalar:
            c, core = split_coeff(base)
            return mul(const(c**p), pow_(core, p))
    if isinstance(base, Fn) and base.name == "sqrt" and p == 2.0:
        return base.args[0]
    return Pow.make((base,), base.shape, p)


def varpow(base: Expr, ex: Expr) -> Expr:
    """``base.^ex`` with an expression for exponent (see ``VarPow``); a number gives ``pow_``."""
    if ex.is_scalar or base.is_scalar or ex.shape == base.shape:
        shape = base.shape if ex.is_scalar else ex.shape
    else:
        raise _fail(
            f"a power needs an exponent that is a scalar or shaped like its base: "
            f"{shape_str(base.shape)} and {shape_str(ex.shape)}"
        )
    if isinstance(ex, (Const, Fill)):
        if base.shape != shape:
            base = mul(base, fill(1.0, shape))
        return pow_(base, ex.value)
    if isinstance(base, (Const, Fill)):
        if base.value <= 0:
            number = fmt_number(base.value)
            raise _fail(f"a power with a variable exponent needs a positive base, not {number}")
        if base.value == 1.0:
            return fill(1.0, shape)
        if not ex.is_scalar:
            base = const(base.value)  # the exponent gives the shape
    return VarPow.make((base, ex), shape)


def matpow(base: Expr, k: Expr) -> Expr:
    """``base^k``: the power of a square matrix with a scalar exponent ``k``.

    A number for exponent gives the product (or the inverse's); the node is kept for an
    exponent that is only known at evaluation time (where it must be an integer).
    """
    if not k.is_scalar:
        raise _fail(f"an exponent must be a scalar, got {shape_str(k.shape)}")
    _square(base, "a matrix power")
    if isinstance(k, Const):
        if not k.value.is_integer():
            raise _fail("a matrix power needs an integer exponent")
        if k.value == 0:
            return eye(base.shape[0])
        factor = base if k.value > 0 else inv(base)
        return mul(*([factor] * int(abs(k.value))))
    if isinstance(base, Eye):
        return base
    if isinstance(base, MatPow):
        return matpow(base.args[0], mul(base.args[1], k))
    if isinstance(base, Inv):
        return matpow(base.args[0], neg(k))
    return MatPow.make((base, k), base.shape)


def power_of(f: Expr, base: Expr) -> Expr | None:
    """The exponent ``e`` with ``f = base^e`` (``base``, ``inv(base)``, ``base^k``), or None."""
    if f is base:
        return const(1.0)
    if isinstance(f, MatPow) and f.args[0] is base:
        return f.args[1]
    if f is inv(base):
        return const(-1.0)
    return None


def _commutes_with_powers(m: Expr, base: Expr) -> bool:
    if isinstance(m, Eye) or power_of(m, base) is not None:
        return True
    return isinstance(m, Mul) and all(f.is_scalar or _commutes_with_powers(f, base) for f in m.args)


def powsum(base: Expr, k: Expr, m: Expr) -> Expr:
    """``sum(base^i*m*base^(k - 1 - i), i = 0..k - 1)`` (see ``PowSum``), folded where
    ``m`` commutes with ``base``: then it is ``k*base^(k - 1)*m``."""
    if m.shape != base.shape:
        raise _fail(
            f"a sum of matrix powers needs {shape_str(base.shape)}, got {shape_str(m.shape)}"
        )
    if is_zero(m):
        return m
    if isinstance(m, Add):
        return add(*[powsum(base, k, t) for t in m.args])
    if isinstance(m, Mul) and m.nscalars:
        return mul(*m.scalars, powsum(base, k, mul(*m.chain)))
    if _commutes_with_powers(m, base):
        return mul(k, matpow(base, add(k, const(-1.0))), m)
    return PowSum.make((base, k, m), base.shape)


def fn(name: str, x: Expr) -> Expr:
    """An elementwise function such as ``exp`` or ``relu``."""
    if name not in ELEMENTWISE:
        raise _fail(f"unknown elementwise function {name!r}")
    if isinstance(x, (Const, Fill)):
        try:
            value = ELEMENTWISE[name](x.value)
        except (ValueError, OverflowError):
            raise _fail(f"{name}({x.value:g}) is undefined") from None
        return fill(value, x.shape)
    if name == "log" and isinstance(x, Fn) and x.name == "exp":
        return x.args[0]
    if name == "exp" and isinstance(x, Fn) and x.name == "log":
        return x.args[0]
    if name in ("abs", "sign", "relu") and isinstance(x, Fn) and x.name == name:
        return x  # idempotent
    return Fn.make((x,), x.shape, name)


# ---------------------------------------------------------------- transpose


def transpose(e: Expr) -> Expr:
    """``e'``, pushed down to the leaves."""
    r, c = e.shape
    if r == 1 and c == 1:
        return e
    if isinstance(e, T):
        return e.args[0]
    if isinstance(e, (Var, Delta)):
        if e.declared == "symmetric":
            return e
        return T.make((e,), (c, r))
    if isinstance(e, Fill):
        return fill(e.value, (c, r))
    if isinstance(e, (Eye, DiagM)):
        return e
    if isinstance(e, Mul):
        return mul(*e.scalars, *[transpose(a) for a in reversed(e.chain)])
    if isinstance(e, Pow):
        return pow_(transpose(e.args[0]), e.p)
    if isinstance(e, MatPow):
        return matpow(transpose(e.args[0]), e.args[1])
    if isinstance(e, VarPow):
        return varpow(transpose(e.args[0]), transpose(e.args[1]))
    if isinstance(e, PowSum):
        # the terms X^i*M*X^j with i + j = k - 1 transpose to X'^j*M'*X'^i: the same sum
        base, k, m = e.args
        return powsum(transpose(base), k, transpose(m))
    if isinstance(e, Fn):
        return fn(e.name, transpose(e.args[0]))
    if isinstance(e, (Add, Had, Kron)):
        return e.rebuild(tuple(transpose(a) for a in e.args))
    if isinstance(e, (Inv, Adj)) and is_symmetric(e.args[0]):
        return e
    return T.make((e,), (c, r))


# ---------------------------------------------------------------- reductions and linear algebra


def _square(e: Expr, what: str) -> None:
    if e.shape[0] != e.shape[1] or e.shape[0] == 1:
        raise _fail(f"{what} needs a square matrix, got {shape_str(e.shape)}")


def sum_(x: Expr) -> Expr:
    """Sum of all entries."""
    if x.is_scalar:
        return x
    if isinstance(x, T):
        return sum_(x.args[0])
    if isinstance(x, Add):
        return add(*[sum_(a) for a in x.args])
    if isinstance(x, Mul) and x.nscalars and x.args[0].is_scalar:
        s, c = x.scalars, x.chain
        return mul(*s, sum_(mul(*c)))
    if isinstance(x, DiagM):
        return sum_(x.args[0])
    return Sum.make((x,), SCALAR)


def tr(x: Expr) -> Expr:
    """Trace; cyclic products are rotated to one canonical order."""
    if x.is_scalar:
        return x
    _square(x, "tr")
    if isinstance(x, T):
        return tr(x.args[0])
    if isinstance(x, Add):
        return add(*[tr(a) for a in x.args])
    if isinstance(x, DiagM):
        return sum_(x.args[0])
    if isinstance(x, Mul):
        s, chain = list(x.scalars), list(x.chain)
        if s:
            return mul(*s, tr(mul(*chain)))
        rotations = [chain[i:] + chain[:i] for i in range(len(chain))]
        for rot in rotations:
            if rot[0].shape[0] == 1 and rot[-1].shape[1] == 1:
                return mul(*rot)  # tr(x*y') is y'*x
        candidates = []
        for rot in rotations:
            shape = (rot[0].shape[0], rot[-1].shape[1])
            candidates.append(Tr.make((Mul.make(tuple(rot), shape, 0),), SCALAR))
        return min(candidates, key=_orientation_key)
    return Tr.make((x,), SCALAR)


def det(x: Expr) -> Expr:
    if x.is_scalar:
        return x
    _square(x, "det")
    if isinstance(x, T):
        return det(x.args[0])
    if isinstance(x, Inv):
        return pow_(det(x.args[0]), -1.0)
    if isinstance(x, Eye):
        return const(1.0)
    return Det.make((x,), SCALAR)


def logdet(x: Expr) -> Expr:
    if x.is_scalar:
        return fn("log", x)
    _square(x, "logdet")
    if isinstance(x, T):
        return logdet(x.args[0])
    if isinstance(x, Inv):
        return neg(logdet(x.args[0]))
    if isinstance(x, Eye):
        return const(0.0)
    if isinstance(x, MatPow):
        return mul(x.args[1], logdet(x.args[0]))
    return LogDet.make((x,), SCALAR)


def inv(x: Expr) -> Expr:
    if x.is_scalar:
        return pow_(x, -1.0)
    _square(x, "inv")
    if isinstance(x, Inv):
        return x.args[0]
    if isinstance(x, Eye):
        return x
    if isinstance(x, T):
        return transpose(inv(x.args[0]))
    if isinstance(x, MatPow):
        return matpow(x.args[0], neg(x.args[1]))
    if isinstance(x, Mul) and x.nscalars and all(a.is_scalar for a in x.scalars):
        s, chain = x.scalars, x.chain
        return mul(pow_(mul(*s), -1.0), inv(mul(*chain)))
    return Inv.make((x,), x.shape)


def adj(x: Expr) -> Expr:
    """Adjugate ``det(X)*inv(X)``, kept as its own node for printing."""
    if x.is_scalar:
        return const(1.0)
    _square(x, "adj")
    if isinstance(x, T):
        return transpose(adj(x.args[0]))
    return Adj.make((x,), x.shape)


def diagm(v: Expr) -> Expr:
    """The diagonal matrix with the vector ``v`` on its diagonal."""
    if v.kind == "row":
        v = transpose(v)
    if v.is_scalar:
        return v
    if v.kind != "vector":
        raise _fail(f"diag of a {shape_str(v.shape)} matrix is not a diagonal matrix")
    if isinstance(v, Fill):
        return mul(const(v.value), eye(v.shape[0]))
    if isinstance(v, Mul) and isinstance(v.args[0], Const):
        c, core = split_coeff(v)  # diag(-v) is -diag(v), so that signs can be collected
        return mul(const(c), diagm(core))
    return DiagM.make((v,), (v.shape[0], v.shape[0]))


def diagv(x: Expr) -> Expr:
    """The vector of the diagonal of a square matrix."""
    if x.is_scalar:
        return x
    _square(x, "diag")
    if isinstance(x, DiagM):
        return x.args[0]
    if isinstance(x, T):
        return diagv(x.args[0])
    if isinstance(x, Eye):
        return fill(1.0, (x.shape[0], 1))
    if isinstance(x, Mul) and len(x.chain) == 2:
        a, b = x.chain
        if a.kind == "vector" and b.kind == "row":  # diag(a*b') is a.*b
            return mul(*x.scalars, had(a, transpose(b)))
    return DiagV.make((x,), (x.shape[0], 1))


def norm1(x: Expr) -> Expr:
    return Norm1.make((x,), SCALAR) if not x.is_scalar else fn("abs", x)


def norm2(x: Expr) -> Expr:
    if x.is_scalar:
        return fn("abs", x)
    if isinstance(x, T):
        return norm2(x.args[0])
    return Norm2.make((x,), SCALAR)


def kron(a: Expr, b: Expr) -> Expr:
    """Kronecker product, used to print derivatives of matrices in the vec layout."""
    if a.is_scalar:
        return mul(a, b)
    if b.is_scalar:
        return mul(b, a)
    if isinstance(a, Mul) and a.nscalars and isinstance(a.args[0], Const):
        c, core = split_coeff(a)
        return mul(const(c), kron(core, b))
    if isinstance(b, Mul) and b.nscalars and isinstance(b.args[0], Const):
        c, core = split_coeff(b)
        return mul(const(c), kron(a, core))
    r = _dim_product(a.shape[0], b.shape[0])
    c = _dim_product(a.shape[1], b.shape[1])
    if isinstance(a, Eye) and isinstance(b, Eye):
        return eye(r)
    return Kron.make((a, b), (r, c))


def _dim_product(a: Dim, b: Dim) -> Dim:
    if a == 1:
        return b
    if b == 1:
        return a
    return f"{a}*{b}"


#: The language's functions of one argument, by the name the parser gives them.
UNARY = {
    "sum": sum_,
    "tr": tr,
    "det": det,
    "logdet": logdet,
    "inv": inv,
    "adj": adj,
    "diagm": diagm,
    "diagv": diagv,
    "norm1": norm1,
    "norm2": norm2,
}


# ---------------------------------------------------------------- traversal


def rebuild(e: Expr, args: Iterable[Expr]) -> Expr:
    """The node ``e`` with new children, through the canonicalizing constructor."""
    return e.rebuild(tuple(args))


def substitute(e: Expr, mapping: dict) -> Expr:
    """Replace nodes by identity (``mapping`` maps Expr to Expr), rebuilding canonically."""
    memo: dict[Expr, Expr] = {}

    def go(n: Expr) -> Expr:
        hit = mapping.get(n)
        if hit is not None:
            return hit
        if n in memo:
            return memo[n]
        out = rebuild(n, [go(a) for a in n.args]) if n.args else n
        memo[n] = out
        return out

    return go(e)


def variables(e: Expr) -> list[Expr]:
    """Variables of ``e`` in order of first appearance (left to right)."""
    seen: dict[str, Expr] = {}

    def go(n: Expr) -> None:
        if isinstance(n, Var):
            seen.setdefault(n.name, n)
        for a in n.args:
            go(a)

    go(e)
    return list(seen.values())


def depends_on(e: Expr, name: str) -> bool:
    if isinstance(e, (Var, Delta)) and e.name == name:
        return True
    return any(depends_on(a, name) for a in e.args)


def nodes(e: Expr) -> Iterable[Expr]:
    """Every distinct node of ``e`` once, children before parents."""
    seen: set[int] = set()
    order: list[Expr] = []
    stack = [(e, False)]
    while stack:
        n, done = stack.pop()
        if done:
            order.append(n)
            continue
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.append((n, True))
        for a in reversed(n.args):
            stack.append((a, False))
    return order
