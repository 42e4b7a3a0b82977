"""Immutable expression nodes and the smart constructors that keep them canonical.

Every node is hash-consed: structurally equal nodes are the same object, so equality and
hashing are O(1) and common subexpressions are found by identity. Nodes are only ever
built through the constructors below (``add``, ``mul``, ``had``, ``transpose``, ...), which
check shapes and apply the local simplifications that make a form canonical:

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

# A cap on the size of any one node, so that adversarial input fails with a message
# instead of exhausting memory or time.
MAX_NODES = 20000

_INTERN: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class Expr:
    """One node: ``op`` names the operation, ``args`` are child nodes, ``data`` the rest.

    Do not construct directly; use the module's constructors.
    """

    __slots__ = ("op", "args", "data", "shape", "size", "has_delta", "_sort", "__weakref__")

    op: str
    args: tuple
    data: object
    shape: Shape

    @staticmethod
    def make(op: str, args: tuple, data: object, shape: Shape) -> Expr:
        key = (op, data, shape, tuple(id(a) for a in args))
        node = _INTERN.get(key)
        if node is not None:
            return node
        node = Expr()
        node.op = op
        node.args = args
        node.data = data
        node.shape = shape
        node.size = 1 + sum(a.size for a in args)
        if node.size > MAX_NODES:
            raise SymbolicError(f"expression too large (more than {MAX_NODES} nodes)")
        node.has_delta = op == "delta" or any(a.has_delta for a in args)
        node._sort = None
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

    def sort_key(self) -> str:
        if self._sort is None:
            from .printers import to_text

            self._sort = to_text(self)
        return self._sort

    def __repr__(self) -> str:
        return f"<{self.sort_key()}>"

    def __str__(self) -> str:
        return self.sort_key()

    # nodes stay unique because they are interned; copying would break identity
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        raise TypeError("symbolic expressions are not picklable; keep their text")


def shape_str(shape: Shape) -> str:
    return f"{shape[0]}x{shape[1]}"


def _fail(message: str) -> SymbolicError:
    return SymbolicError(message)


# ---------------------------------------------------------------- leaves


def var(name: str, kind: str, shape: Shape) -> Expr:
    return Expr.make("var", (), (name, kind), shape)


def delta(v: Expr) -> Expr:
    """The differential ``dX`` of a variable ``X``."""
    return Expr.make("delta", (), v.data, v.shape)


def const(value: float) -> Expr:
    value = float(value)
    if not math.isfinite(value):
        raise _fail(f"number {value} is out of range")
    if value == 0.0:
        value = 0.0  # no negative zero, so that 0 and -0 are one node
    return Expr.make("const", (), value, SCALAR)


def fill(value: float, shape: Shape) -> Expr:
    """A constant array: ``vector(c)`` or ``matrix(c)``; a 1x1 fill is a number."""
    if shape == SCALAR:
        return const(value)
    value = float(value)
    if not math.isfinite(value):
        raise _fail(f"number {value} is out of range")
    if value == 0.0:
        value = 0.0
    return Expr.make("fill", (), value, shape)


def zero(shape: Shape) -> Expr:
    return fill(0.0, shape)


def eye(n: Dim) -> Expr:
    if n == 1:
        return const(1.0)
    return Expr.make("eye", (), None, (n, n))


def is_zero(e: Expr) -> bool:
    return e.op in ("const", "fill") and e.data == 0.0


# ---------------------------------------------------------------- helpers


def is_symmetric(e: Expr) -> bool:
    r, c = e.shape
    return r == c and transpose(e) is e


def split_coeff(e: Expr) -> tuple[float, Expr]:
    """``e`` as ``c * core`` with a numeric ``c`` and a core carrying no number."""
    if e.op == "const":
        return e.data, const(1.0)
    if e.op == "fill":
        return e.data, fill(1.0, e.shape)
    if e.op == "mul" and e.args[0].op == "const":
        ns = e.data
        rest = e.args[1:]
        if len(rest) == 1:
            return e.args[0].data, rest[0]
        return e.args[0].data, Expr.make("mul", rest, ns - 1, e.shape)
    return 1.0, e


def _power_parts(e: Expr) -> tuple[Expr, float]:
    if e.op == "pow":
        return e.args[0], e.data
    return e, 1.0


# ---------------------------------------------------------------- sums


def add(*terms: Expr) -> Expr:
    """Sum of equally shaped terms; like terms collected, terms sorted."""
    flat: list[Expr] = []
    for t in terms:
        flat.extend(t.args if t.op == "add" else (t,))
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
        if core.op == "diagm":
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
    return Expr.make("add", tuple(kept), None, shape)


def neg(e: Expr) -> Expr:
    return mul(const(-1.0), e)


def sub(a: Expr, b: Expr) -> Expr:
    return add(a, neg(b))


# ---------------------------------------------------------------- products


def _chain_node(chain: list[Expr]) -> Expr:
    """A bare chain whose product is 1x1, spelled in its canonical orientation.

    A scalar equals its transpose, so ``y'*x`` and ``x'*y`` are one node: keep the
    orientation whose text sorts first.
    """
    node = Expr.make("mul", tuple(chain), 0, (chain[0].shape[0], chain[-1].shape[1]))
    flipped = [transpose(f) for f in reversed(chain)]
    if any(f.op == "mul" or f.is_scalar for f in flipped):
        return node
    other = Expr.make("mul", tuple(flipped), 0, node.shape)
    return min(node, other, key=_orientation_key)


def _orientation_key(e: Expr) -> tuple:
    text = e.sort_key()
    return (text.count("'"), text)


def factor_key(e: Expr) -> tuple:
    """Order of commuting factors: simple ones first, so ``y.*(X*w)`` and ``2*a*b``."""
    return (e.op != "var", e.size, e.sort_key())


def term_key(e: Expr) -> tuple:
    """Order of the terms of a sum: constants first (``1 + t``), then by text."""
    c, core = split_coeff(e)
    return (core.op not in ("const", "fill"), core.sort_key(), c)


def _inverse_pair(a: Expr, b: Expr) -> bool:
    if a.op == "inv" and a.args[0] is b or b.op == "inv" and b.args[0] is a:
        return True
    if a.op == "T" and b.op == "T":
        return _inverse_pair(b.args[0], a.args[0])
    return False


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
        if f.op == "mul":
            s, c = f.args[: f.data], f.args[f.data :]
            scal.extend(s)
            if c and f.is_scalar:
                scal.append(Expr.make("mul", c, 0, SCALAR))
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
        if s.op == "const":
            coeff *= s.data
        else:
            rest.append(s)
    new_chain = []
    for f in chain:
        if f.op == "fill" and f.data != 1.0:
            coeff *= f.data
            f = fill(1.0, f.shape)
        new_chain.append(f)
    chain = new_chain
    if coeff == 0.0 or any(is_zero(f) for f in chain):
        return zero(shape)
    if not math.isfinite(coeff):
        raise _fail("a constant overflows")

    changed = True
    while changed:
        changed = False
        if len(chain) > 1 and any(f.op == "eye" for f in chain):
            chain = [f for f in chain if f.op != "eye"]
            changed = True
        for i in range(len(chain) - 1):
            a, b = chain[i], chain[i + 1]
            if _inverse_pair(a, b):
                chain = chain[:i] + chain[i + 2 :]
                if not chain:
                    chain = [eye(a.shape[0])]
                changed = True
                break
            if a.op == "diagm" and b.op == "diagm":
                chain = chain[:i] + [diagm(had(a.args[0], b.args[0]))] + chain[i + 2 :]
                changed = True
                break
            # 1'*diag(v) is v' and diag(v)*1 is v
            if a.op == "fill" and a.data == 1.0 and a.kind == "row" and b.op == "diagm":
                chain = chain[:i] + [transpose(b.args[0])] + chain[i + 2 :]
                changed = True
                break
            if a.op == "diagm" and b.op == "fill" and b.data == 1.0 and b.kind == "vector":
                chain = chain[:i] + [a.args[0]] + chain[i + 2 :]
                changed = True
                break
        if changed:
            if any(f.op == "mul" for f in chain):
                # a rewrite produced a product (diag(-v), (A*x)'): flatten it from the top
                return mul(const(coeff), *rest, *chain)
            continue
        # move a 1x1 stretch of the chain to the scalars when what is left still chains
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
        if s.op == "const":
            coeff *= s.data
        elif s.op == "mul" and s.data == len(s.args):  # merged power produced a product
            for t in s.args:
                if t.op == "const":
                    coeff *= t.data
                else:
                    merged.append(t)
        else:
            merged.append(s)
    rest = merged
    if coeff == 0.0:
        return zero(shape)
    rest.sort(key=factor_key)
    if len(chain) == 1 and chain[0].op == "fill" and not rest:
        return fill(coeff * chain[0].data, chain[0].shape)
    head = [const(coeff)] if coeff != 1.0 else []
    scal_all = head + rest
    if not chain:
        if not scal_all:
            return const(1.0)
        if len(scal_all) == 1:
            return scal_all[0]
        return Expr.make("mul", tuple(scal_all), len(scal_all), SCALAR)
    if not scal_all and len(chain) == 1:
        return chain[0]
    if not scal_all and chain[0].shape[0] == 1 and chain[-1].shape[1] == 1:
        return _chain_node(chain)
    return Expr.make("mul", tuple(scal_all + chain), len(scal_all), shape)


class _Negated:
    __slots__ = ("e",)

    def __init__(self, e: Expr) -> None:
        self.e = e


def _positive_sum(f: Expr):
    if f.op == "add" and split_coeff(f.args[0])[0] < 0:
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
        if f.op == "had":
            flat.extend(f.args)
        elif f.is_scalar:
            scalars.append(f)
        elif f.op == "mul" and any(a.is_scalar for a in f.args[: f.data]):
            # pull the scalars of a scaled product out: (c*A).*B is c*(A.*B)
            s, c = f.args[: f.data], f.args[f.data :]
            scalars.extend(s)
            flat.append(mul(*c))
        elif f.op == "fill":
            scalars.append(const(f.data))
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
        if f.op == "fill":
            continue  # a fill of ones; its value went to the scalars
        base, p = _power_parts(f)
        powers[base] = powers.get(base, 0.0) + p
    kept = []
    for base, p in powers.items():
        if p == 0.0:
            continue
        term = pow_(base, p)
        if term.op == "had":
            kept.extend(term.args)
        else:
            kept.append(term)
    if not kept:
        core = fill(1.0, shape)
    elif len(kept) == 1:
        core = kept[0]
    else:
        kept.sort(key=factor_key)
        core = Expr.make("had", tuple(kept), None, shape)
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
    if base.op in ("const", "fill"):
        try:
            value = base.data**p
        except (OverflowError, ZeroDivisionError):
            raise _fail("a constant power overflows or divides by zero") from None
        if isinstance(value, complex):
            raise _fail(f"{base.data} ^ {p} is not real")
        return fill(value, base.shape)
    if base.op == "pow" and p.is_integer():
        return pow_(base.args[0], base.data * p)
    if p.is_integer():
        if base.op == "had":
            return had(*[pow_(f, p) for f in base.args])
        if base.op == "mul" and base.is_scalar and base.data == len(base.args):
            return mul(*[pow_(f, p) for f in base.args])
        if base.op == "mul" and base.args[0].op == "const" and not base.is_scalar:
            c, core = split_coeff(base)
            return mul(const(c**p), pow_(core, p))
    if base.op == "fn" and base.data == "sqrt" and p == 2.0:
        return base.args[0]
    return Expr.make("pow", (base,), p, base.shape)


def fn(name: str, x: Expr) -> Expr:
    """An elementwise function such as ``exp`` or ``relu``."""
    if name not in ELEMENTWISE:
        raise _fail(f"unknown elementwise function {name!r}")
    if x.op in ("const", "fill"):
        try:
            value = ELEMENTWISE[name](x.data)
        except (ValueError, OverflowError):
            raise _fail(f"{name}({x.data:g}) is undefined") from None
        return fill(value, x.shape)
    if name == "log" and x.op == "fn" and x.data == "exp":
        return x.args[0]
    if name == "exp" and x.op == "fn" and x.data == "log":
        return x.args[0]
    if name in ("abs", "sign", "relu") and x.op == "fn" and x.data == name:
        return x  # idempotent
    return Expr.make("fn", (x,), name, x.shape)


# ---------------------------------------------------------------- transpose


def transpose(e: Expr) -> Expr:
    """``e'``, pushed down to the leaves."""
    r, c = e.shape
    if r == 1 and c == 1:
        return e
    op = e.op
    if op == "T":
        return e.args[0]
    if op in ("var", "delta"):
        if e.data[1] == "symmetric":
            return e
        return Expr.make("T", (e,), None, (c, r))
    if op == "fill":
        return fill(e.data, (c, r))
    if op in ("eye", "diagm"):
        return e
    if op == "add":
        return add(*[transpose(a) for a in e.args])
    if op == "mul":
        s, chain = e.args[: e.data], e.args[e.data :]
        return mul(*s, *[transpose(a) for a in reversed(chain)])
    if op == "had":
        return had(*[transpose(a) for a in e.args])
    if op == "pow":
        return pow_(transpose(e.args[0]), e.data)
    if op == "fn":
        return fn(e.data, transpose(e.args[0]))
    if op == "kron":
        return kron(transpose(e.args[0]), transpose(e.args[1]))
    if op in ("inv", "adj") and is_symmetric(e.args[0]):
        return e
    return Expr.make("T", (e,), None, (c, r))


# ---------------------------------------------------------------- reductions and linear algebra


def _square(e: Expr, what: str) -> None:
    if e.shape[0] != e.shape[1] or e.shape[0] == 1:
        raise _fail(f"{what} needs a square matrix, got {shape_str(e.shape)}")


def sum_(x: Expr) -> Expr:
    """Sum of all entries."""
    if x.is_scalar:
        return x
    if x.op == "T":
        return sum_(x.args[0])
    if x.op == "add":
        return add(*[sum_(a) for a in x.args])
    if x.op == "mul" and x.data and x.args[0].is_scalar:
        s, c = x.args[: x.data], x.args[x.data :]
        return mul(*s, sum_(mul(*c)))
    if x.op == "diagm":
        return sum_(x.args[0])
    return Expr.make("sum", (x,), None, SCALAR)


def tr(x: Expr) -> Expr:
    """Trace; cyclic products are rotated to one canonical order."""
    if x.is_scalar:
        return x
    _square(x, "tr")
    if x.op == "T":
        return tr(x.args[0])
    if x.op == "add":
        return add(*[tr(a) for a in x.args])
    if x.op == "diagm":
        return sum_(x.args[0])
    if x.op == "mul":
        s, chain = list(x.args[: x.data]), list(x.args[x.data :])
        if s:
            return mul(*s, tr(mul(*chain)))
        rotations = [chain[i:] + chain[:i] for i in range(len(chain))]
        for rot in rotations:
            if rot[0].shape[0] == 1 and rot[-1].shape[1] == 1:
                return mul(*rot)  # tr(x*y') is y'*x
        candidates = []
        for rot in rotations:
            shape = (rot[0].shape[0], rot[-1].shape[1])
            candidates.append(
                Expr.make("tr", (Expr.make("mul", tuple(rot), 0, shape),), None, SCALAR)
            )
        return min(candidates, key=_orientation_key)
    return Expr.make("tr", (x,), None, SCALAR)


def det(x: Expr) -> Expr:
    if x.is_scalar:
        return x
    _square(x, "det")
    if x.op == "T":
        return det(x.args[0])
    if x.op == "inv":
        return pow_(det(x.args[0]), -1.0)
    if x.op == "eye":
        return const(1.0)
    return Expr.make("det", (x,), None, SCALAR)


def logdet(x: Expr) -> Expr:
    if x.is_scalar:
        return fn("log", x)
    _square(x, "logdet")
    if x.op == "T":
        return logdet(x.args[0])
    if x.op == "inv":
        return neg(logdet(x.args[0]))
    if x.op == "eye":
        return const(0.0)
    return Expr.make("logdet", (x,), None, SCALAR)


def inv(x: Expr) -> Expr:
    if x.is_scalar:
        return pow_(x, -1.0)
    _square(x, "inv")
    if x.op == "inv":
        return x.args[0]
    if x.op == "eye":
        return x
    if x.op == "T":
        return transpose(inv(x.args[0]))
    if x.op == "mul" and x.data and all(a.is_scalar for a in x.args[: x.data]):
        s, chain = x.args[: x.data], x.args[x.data :]
        return mul(pow_(mul(*s), -1.0), inv(mul(*chain)))
    return Expr.make("inv", (x,), None, x.shape)


def adj(x: Expr) -> Expr:
    """Adjugate ``det(X)*inv(X)``, kept as its own node for printing."""
    if x.is_scalar:
        return const(1.0)
    _square(x, "adj")
    if x.op == "T":
        return transpose(adj(x.args[0]))
    return Expr.make("adj", (x,), None, x.shape)


def diagm(v: Expr) -> Expr:
    """The diagonal matrix with the vector ``v`` on its diagonal."""
    if v.kind == "row":
        v = transpose(v)
    if v.is_scalar:
        return v
    if v.kind != "vector":
        raise _fail(f"diag of a {shape_str(v.shape)} matrix is not a diagonal matrix")
    if v.op == "fill":
        return mul(const(v.data), eye(v.shape[0]))
    if v.op == "mul" and v.args[0].op == "const":
        c, core = split_coeff(v)  # diag(-v) is -diag(v), so that signs can be collected
        return mul(const(c), diagm(core))
    return Expr.make("diagm", (v,), None, (v.shape[0], v.shape[0]))


def diagv(x: Expr) -> Expr:
    """The vector of the diagonal of a square matrix."""
    if x.is_scalar:
        return x
    _square(x, "diag")
    if x.op == "diagm":
        return x.args[0]
    if x.op == "T":
        return diagv(x.args[0])
    if x.op == "eye":
        return fill(1.0, (x.shape[0], 1))
    if x.op == "mul" and len(x.args) - x.data == 2:
        a, b = x.args[x.data :]
        if a.kind == "vector" and b.kind == "row":  # diag(a*b') is a.*b
            return mul(*x.args[: x.data], had(a, transpose(b)))
    return Expr.make("diagv", (x,), None, (x.shape[0], 1))


def norm1(x: Expr) -> Expr:
    return Expr.make("norm1", (x,), None, SCALAR) if not x.is_scalar else fn("abs", x)


def norm2(x: Expr) -> Expr:
    if x.is_scalar:
        return fn("abs", x)
    if x.op == "T":
        return norm2(x.args[0])
    return Expr.make("norm2", (x,), None, SCALAR)


def kron(a: Expr, b: Expr) -> Expr:
    """Kronecker product, used to print derivatives of matrices in the vec layout."""
    if a.is_scalar:
        return mul(a, b)
    if b.is_scalar:
        return mul(b, a)
    if a.op == "mul" and a.data and a.args[0].op == "const":
        c, core = split_coeff(a)
        return mul(const(c), kron(core, b))
    if b.op == "mul" and b.data and b.args[0].op == "const":
        c, core = split_coeff(b)
        return mul(const(c), kron(a, core))
    r = _dim_product(a.shape[0], b.shape[0])
    c = _dim_product(a.shape[1], b.shape[1])
    if a.op == "eye" and b.op == "eye":
        return eye(r)
    return Expr.make("kron", (a, b), None, (r, c))


def _dim_product(a: Dim, b: Dim) -> Dim:
    if a == 1:
        return b
    if b == 1:
        return a
    return f"{a}*{b}"


# ---------------------------------------------------------------- traversal


def rebuild(e: Expr, args: Iterable[Expr]) -> Expr:
    """The node ``e`` with new children, through the canonicalizing constructor."""
    args = tuple(args)
    op = e.op
    if op in ("var", "delta", "const", "fill", "eye"):
        return e
    if op == "add":
        return add(*args)
    if op == "mul":
        return mul(*args)
    if op == "had":
        return had(*args)
    if op == "pow":
        return pow_(args[0], e.data)
    if op == "fn":
        return fn(e.data, args[0])
    if op == "T":
        return transpose(args[0])
    if op == "kron":
        return kron(*args)
    return UNARY[op](args[0])


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
        if n.op == "var":
            seen.setdefault(n.data[0], n)
        for a in n.args:
            go(a)

    go(e)
    return list(seen.values())


def depends_on(e: Expr, name: str) -> bool:
    if e.op in ("var", "delta") and e.data[0] == name:
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
