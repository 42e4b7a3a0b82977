"""Tensor calculus in index notation: derivatives of einsum-like expressions of tensors.

An expression is a sum of terms; a term is a number times a product of indexed
variables (``T[i,j,k]``), Kronecker deltas and entrywise functions of sub-expressions.
The right side of ``y[i] = T[i,j,k]*x[j]*x[k]`` sums every index the left side does not
name, as ``numpy.einsum("ijk,j,k->i", ...)`` does; inside parentheses and function
arguments the Einstein rule decides instead (an index that occurs twice is summed, one
that occurs once stays free). Differentiating with respect to ``W[a,b]`` replaces each
occurrence ``W[i,j]`` by ``delta[i,a]*delta[j,b]`` and contracts the deltas away, so the
result is again an expression in the same notation, whose free indices are the output's
followed by the variable's (the numeric engine's ``out.shape + var.shape``).

>>> from matdiff.symbolic import tensor_derivative
>>> d = tensor_derivative("f = A[i,j]*x[i]*x[j]", wrt="x")
>>> print(d)
df[a] = A[a,i]*x[i] + A[i,a]*x[i]
>>> d.matrix
"(A + A')*x"
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as _np

from .derivation import compile_source
from .errors import CheckError, SymbolicError
from .printers import check_identifier

# ----------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class Tensor:
    """A variable with one index per axis (no indices: a scalar variable)."""

    name: str
    indices: tuple[str, ...]


@dataclass(frozen=True)
class Delta:
    """The Kronecker delta of two indices over the same dimension."""

    indices: tuple[str, str]


@dataclass(frozen=True)
class Func:
    """An entrywise function of a sub-expression; ``power`` is the exponent of ``pow``."""

    name: str
    arg: Sum
    power: float = 1.0

    @property
    def indices(self) -> tuple[str, ...]:
        return self.arg.free


@dataclass(frozen=True)
class Term:
    coeff: float
    factors: tuple


@dataclass(frozen=True)
class Sum:
    """Terms over the free indices ``free``; a term may lack some of them (it broadcasts)
    and sums every other index it has."""

    free: tuple[str, ...]
    terms: tuple[Term, ...]


FUNCTIONS = ("exp", "log", "sin", "cos", "tanh", "sqrt")
# Limits that keep a hostile input from exhausting the stack or memory.
MAX_DEPTH = 100
MAX_TERMS = 10_000


def _outer(term: Term) -> list[str]:
    return [i for f in term.factors for i in f.indices]


def _names(obj) -> set[str]:
    """Every index name used anywhere in ``obj`` (for choosing fresh ones)."""
    if isinstance(obj, Sum):
        out = set(obj.free)
        for t in obj.terms:
            out |= _names(t)
        return out
    if isinstance(obj, Term):
        out = set()
        for f in obj.factors:
            out |= _names(f)
        return out
    if isinstance(obj, Func):
        return _names(obj.arg)
    return set(obj.indices)


_LETTERS = "ijklmnpqrstuvwxyzabcdefgh"


def _fresh(avoid: set[str], first: str = _LETTERS) -> str:
    for c in first:
        if c not in avoid:
            avoid.add(c)
            return c
    k = 1
    while f"i{k}" in avoid:
        k += 1
    avoid.add(f"i{k}")
    return f"i{k}"


def _rename_factor(f, mapping: dict[str, str]):
    if isinstance(f, Tensor):
        return Tensor(f.name, tuple(mapping.get(i, i) for i in f.indices))
    if isinstance(f, Delta):
        return Delta(tuple(mapping.get(i, i) for i in f.indices))
    return Func(f.name, _rename_free(f.arg, mapping), f.power)


def _rename_term(t: Term, mapping: dict[str, str]) -> Term:
    return Term(t.coeff, tuple(_rename_factor(f, mapping) for f in t.factors))


def _rename_free(s: Sum, mapping: dict[str, str]) -> Sum:
    """``s`` with its free indices renamed; bound ones that would be captured move aside."""
    mapping = {k: v for k, v in mapping.items() if k in s.free}
    if not mapping:
        return s
    targets = set(mapping.values())
    terms = []
    for t in s.terms:
        bound = set(_outer(t)) - set(s.free)
        avoid = _names(t) | targets | set(s.free)
        local = {b: _fresh(avoid) for b in bound if b in targets}
        terms.append(_rename_term(t, {**local, **mapping}))
    return Sum(tuple(mapping.get(i, i) for i in s.free), tuple(terms))


def _inline(term: Term, s: Sum) -> list[Term]:
    """``term`` times the sum ``s`` distributed: one term per term of ``s``."""
    out = []
    for t in s.terms:
        bound = set(_outer(t)) - set(s.free)
        avoid = _names(term) | _names(t)
        local = {b: _fresh(avoid) for b in sorted(bound)}
        t = _rename_term(t, local)
        out.append(Term(term.coeff * t.coeff, term.factors + t.factors))
    return out


# ----------------------------------------------------------------------------- simplify


def _factor_key(f, free: set[str]) -> tuple:
    """A sort key that ignores the names of bound indices."""
    shown = tuple(i if i in free else "?" for i in f.indices)
    if isinstance(f, Tensor):
        return (0, f.name, shown)
    if isinstance(f, Delta):
        return (1, "", shown)
    # The argument with its free indices named by position, so that the key does not
    # depend on what the enclosing term calls them.
    positional = _rename_free(f.arg, {i: f"_{n}" for n, i in enumerate(f.arg.free)})
    return (2, f.name, f.power, shown, _print_sum(_canon_sum(positional), inner=True))


def _canon_term(t: Term, free: tuple[str, ...], avoid: set[str]) -> Term:
    fset = set(free)
    factors = t.factors
    for _ in range(2):
        factors = tuple(sorted(factors, key=lambda f: _factor_key(f, fset)))
        taken = fset | avoid
        mapping: dict[str, str] = {}
        for i in (i for f in factors for i in f.indices):
            if i not in fset and i not in mapping:
                mapping[i] = _fresh(taken)
        # Two steps, so that a bound index renamed onto another's old name is not renamed again.
        tmp = {k: f"_{n}" for n, k in enumerate(mapping)}
        factors = tuple(_rename_factor(f, tmp) for f in factors)
        factors = tuple(
            _rename_factor(f, {f"_{n}": v for n, v in enumerate(mapping.values())}) for f in factors
        )
    # Summed indices inside an argument get names the enclosing term does not use, so
    # that no name means two things at once in the printed text.
    outer = {i for f in factors for i in f.indices} | fset | avoid
    factors = tuple(
        Func(f.name, _canon_sum(f.arg, outer), f.power) if isinstance(f, Func) else f
        for f in factors
    )
    return Term(t.coeff, factors)


def _canon_sum(s: Sum, avoid: set[str] = frozenset()) -> Sum:
    """Like terms collected (bound indices named canonically), zero terms dropped."""
    collected: dict[tuple, Term] = {}
    for t in s.terms:
        if t.coeff == 0:
            continue
        t = _canon_term(t, s.free, set(avoid))
        key = t.factors
        if key in collected:
            collected[key] = Term(collected[key].coeff + t.coeff, key)
        else:
            collected[key] = t
    return Sum(s.free, tuple(t for t in collected.values() if t.coeff != 0))


def _contract(t: Term, free: tuple[str, ...]) -> Term:
    """Deltas with a summed index removed by renaming that index."""
    changed = True
    while changed:
        changed = False
        for n, f in enumerate(t.factors):
            if not isinstance(f, Delta) or f.indices[0] == f.indices[1]:
                continue
            u, v = f.indices
            if u in free and v in free:
                continue
            others = {i for k, g in enumerate(t.factors) if k != n for i in g.indices}
            if not ({u, v} & (others | set(free))):
                # a sum over both indices of a lone delta is the size of their axis,
                # which no variable gives
                raise SymbolicError(
                    f"delta[{u},{v}] sums indices that run over no axis of a variable, so "
                    "their size is unknown; write the size as a number instead"
                )
            if u in free:
                u, v = v, u
            rest = Term(t.coeff, t.factors[:n] + t.factors[n + 1 :])
            t = _rename_term(rest, {u: v})
            changed = True
            break
    return t


# ----------------------------------------------------------------------------- derivative


def _fprime(f: Func) -> Sum:
    """The derivative of the entrywise function ``f`` at its argument, over its indices."""
    g, free = f.arg, f.arg.free

    def one(*factors, coeff=1.0):
        return Term(coeff, tuple(factors))

    if f.name == "exp":
        terms = [one(f)]
    elif f.name == "log":
        terms = [one(Func("pow", g, -1.0))]
    elif f.name == "sin":
        terms = [one(Func("cos", g))]
    elif f.name == "cos":
        terms = [one(Func("sin", g), coeff=-1.0)]
    elif f.name == "tanh":
        terms = [one(), one(Func("pow", Sum(free, (one(f),)), 2.0), coeff=-1.0)]
    else:  # pow
        p = f.power
        if p - 1 == 0:
            terms = [one(coeff=p)]
        elif p - 1 == 1:
            terms = [Term(p * t.coeff, t.factors) for t in g.terms]
            return Sum(free, tuple(terms))
        else:
            terms = [one(Func("pow", g, p - 1), coeff=p)]
    return Sum(free, tuple(terms))


def _diff(s: Sum, var: str, new: tuple[str, ...]) -> Sum:
    """d s / d var[new...], unsimplified; ``new`` is used nowhere in ``s``."""
    out: list[Term] = []
    for t in s.terms:
        for n, f in enumerate(t.factors):
            rest = Term(t.coeff, t.factors[:n] + t.factors[n + 1 :])
            if isinstance(f, Tensor) and f.name == var:
                deltas = tuple(Delta((i, a)) for i, a in zip(f.indices, new))
                out.append(Term(rest.coeff, rest.factors + deltas))
            elif isinstance(f, Func):
                inner = _diff(f.arg, var, new)
                for t1 in _inline(rest, _fprime(f)):
                    out.extend(_inline(t1, inner))
    free = s.free + new
    return Sum(free, tuple(_contract(t, free) for t in out))


# ----------------------------------------------------------------------------- parser

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z][A-Za-z_0-9]*)|(?P<op>[-+*/^()\[\],=]))"
)


@dataclass
class _Tok:
    kind: str
    text: str
    line: int
    col: int


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.toks: list[_Tok] = []
        pos, line, start = 0, 1, 0
        while True:
            while pos < len(source) and source[pos].isspace():
                if source[pos] == "\n":
                    line, start = line + 1, pos + 1
                pos += 1
            if pos >= len(source):
                break
            m = _TOKEN.match(source, pos)
            if not m or m.end() == pos:
                self.error(f"unexpected character {source[pos]!r}", line, pos - start + 1)
            kind = m.lastgroup
            self.toks.append(_Tok(kind, m.group(kind), line, m.start(kind) - start + 1))
            pos = m.end()
        self.toks.append(_Tok("end", "", line, pos - start + 1))
        self.k = 0
        self.ranks: dict[str, int] = {}
        self.bound = 0
        self.depth = 0

    def error(self, message: str, line: int, col: int):
        raise SymbolicError(message, self.source, line, col)

    def peek(self) -> _Tok:
        return self.toks[self.k]

    def take(self, text: str | None = None, kind: str | None = None) -> _Tok:
        tok = self.peek()
        if (text is not None and tok.text != text) or (kind is not None and tok.kind != kind):
            want = repr(text) if text else {"name": "an index name", "num": "a number"}[kind]
            got = "end of input" if tok.kind == "end" else repr(tok.text)
            self.error(f"expected {want}, found {got}", tok.line, tok.col)
        self.k += 1
        return tok

    # program := [NAME ['[' indices ']'] '='] expr
    def program(self) -> tuple[str, tuple[str, ...], Sum]:
        name, out = "f", ()
        if self.peek().kind == "name" and any(t.text == "=" for t in self.toks):
            name = self.take(kind="name").text
            if self.peek().text == "[":
                out = self.indices()
            self.take("=")
        terms = self.expr()
        end = self.peek()
        if end.kind != "end":
            self.error(f"unexpected {end.text!r}", end.line, end.col)
        return name, out, Sum(out, tuple(t for t, _ in terms))

    def indices(self) -> tuple[str, ...]:
        tok = self.take("[")
        out = [self.take(kind="name").text]
        while self.peek().text == ",":
            self.take(",")
            out.append(self.take(kind="name").text)
        self.take("]")
        if len(set(out)) != len(out):
            self.error("an index occurs twice on the left side", tok.line, tok.col)
        return tuple(out)

    def expr(self) -> list[tuple[Term, _Tok]]:
        sign = 1.0
        if self.peek().text in "+-" and self.peek().kind == "op":
            sign = -1.0 if self.take().text == "-" else 1.0
        start = self.peek()
        terms = [(t, start) for t in self.product(sign)]
        while self.peek().text in ("+", "-"):
            sign = -1.0 if self.take().text == "-" else 1.0
            start = self.peek()
            terms += [(t, start) for t in self.product(sign)]
        return terms

    def product(self, sign: float) -> list[Term]:
        terms = [Term(sign, ())]
        terms = self.times(terms, self.power())
        while self.peek().text in ("*", "/"):
            op = self.take().text
            tok = self.peek()
            factor = self.power()
            if op == "/":
                if isinstance(factor, float):
                    if factor == 0:
                        self.error("division by zero", tok.line, tok.col)
                    factor = 1.0 / factor
                else:
                    factor = Func("pow", self.group(factor, tok), -1.0)
            terms = self.times(terms, factor)
        return terms

    def times(self, terms: list[Term], factor) -> list[Term]:
        if isinstance(factor, float):
            return [Term(t.coeff * factor, t.factors) for t in terms]
        if isinstance(factor, Sum):
            # The group's summed indices get names no input can spell, so that the
            # Einstein rule of an enclosing group does not free them again.
            out = []
            for t in terms:
                for u in factor.terms:
                    bound = sorted(set(_outer(u)) - set(factor.free))
                    mapping = {}
                    for b in bound:
                        self.bound += 1
                        mapping[b] = f"_b{self.bound}"
                    u = _rename_term(u, mapping)
                    out.append(Term(t.coeff * u.coeff, t.factors + u.factors))
            if len(out) > MAX_TERMS:
                tok = self.peek()
                self.error(f"the product expands to more than {MAX_TERMS} terms", tok.line, tok.col)
            return out
        return [Term(t.coeff, t.factors + (factor,)) for t in terms]

    def power(self):
        base = self.atom()
        if self.peek().text != "^":
            return base
        hat = self.take("^")
        neg = self.peek().text == "-"
        if neg:
            self.take("-")
        p = float(self.take(kind="num").text) * (-1 if neg else 1)
        if isinstance(base, float):
            try:
                value = base**p
            except (ZeroDivisionError, OverflowError):
                value = None
            if not isinstance(value, float) or not math.isfinite(value):
                self.error(f"{_num(base)}^{_num(p)} is not a finite real number", hat.line, hat.col)
            return value
        base = self.group(base, hat)
        return base if p == 1 else Func("pow", base, p)

    def group(self, factor, tok: _Tok) -> Sum:
        """A single factor as a sum, read with the Einstein rule like a parenthesised one."""
        if isinstance(factor, Sum):
            return factor
        return self.einstein([(Term(1.0, (factor,)), tok)])

    def atom(self):
        tok = self.peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.error(
                f"parentheses and functions nested more than {MAX_DEPTH} deep", tok.line, tok.col
            )
        try:
            return self._atom(tok)
        finally:
            self.depth -= 1

    def _atom(self, tok: _Tok):
        if tok.kind == "num":
            self.take()
            return float(tok.text)
        if tok.text == "(":
            self.take("(")
            s = self.einstein(self.expr())
            self.take(")")
            return s
        if tok.text == "-":
            self.take("-")
            inner = self.power()
            if isinstance(inner, float):
                return -inner
            return self.einstein([(t, tok) for t in self.times([Term(-1.0, ())], inner)])
        if tok.kind != "name":
            got = "end of input" if tok.kind == "end" else repr(tok.text)
            self.error(f"expected a number, a name or '(', found {got}", tok.line, tok.col)
        self.take()
        if self.peek().text == "(":
            if tok.text not in FUNCTIONS + ("sum",):
                known = ", ".join(FUNCTIONS + ("sum",))
                self.error(f"unknown function {tok.text}; known: {known}", tok.line, tok.col)
            self.take("(")
            arg = self.einstein(self.expr())
            self.take(")")
            if tok.text == "sum":
                return Sum((), arg.terms)
            if tok.text == "sqrt":
                return Func("pow", arg, 0.5)
            return Func(tok.text, arg)
        if tok.text == "sum" and self.peek().text == "[":
            over = self.indices()
            self.take("(")
            arg = self.einstein(self.expr())
            self.take(")")
            return Sum(tuple(i for i in arg.free if i not in over), arg.terms)
        if tok.text in FUNCTIONS + ("sum",):
            self.error(f"{tok.text} is a function: write {tok.text}(...)", tok.line, tok.col)
        idx = self.indices_of_variable() if self.peek().text == "[" else ()
        if tok.text == "delta":
            if len(idx) != 2:
                self.error("delta takes two indices", tok.line, tok.col)
            return Delta(idx)
        rank = self.ranks.setdefault(tok.text, len(idx))
        if rank != len(idx):
            self.error(
                f"{tok.text} has {len(idx)} indices here but {rank} before", tok.line, tok.col
            )
        return Tensor(tok.text, idx)

    def indices_of_variable(self) -> tuple[str, ...]:
        self.take("[")
        out = [self.take(kind="name").text]
        while self.peek().text == ",":
            self.take(",")
            out.append(self.take(kind="name").text)
        self.take("]")
        return tuple(out)

    def einstein(self, terms: list[tuple[Term, _Tok]]) -> Sum:
        """A parenthesised sum: in each term an index that occurs once is free."""
        free: list[str] = []
        for t, _ in terms:
            occ = _outer(t)
            free += [
                i for i in occ if occ.count(i) == 1 and i not in free and not i.startswith("_b")
            ]
        return Sum(tuple(free), tuple(t for t, _ in terms))


# ----------------------------------------------------------------------------- printing


def _num(c: float) -> str:
    return str(int(c)) if float(c).is_integer() and abs(c) < 1e15 else repr(float(c))


def _print_factor(f) -> str:
    if isinstance(f, Tensor):
        return f"{f.name}[{','.join(f.indices)}]" if f.indices else f.name
    if isinstance(f, Delta):
        return f"delta[{','.join(f.indices)}]"
    inner = _print_sum(f.arg, inner=True)
    if f.name != "pow":
        return f"{f.name}({inner})"
    single = len(f.arg.terms) == 1 and f.arg.terms[0].coeff == 1
    single = single and len(f.arg.terms[0].factors) == 1
    single = single and not isinstance(f.arg.terms[0].factors[0], Func)
    base = inner if single else f"({inner})"
    return f"{base}^{_num(f.power)}"


def _print_term(t: Term, free: tuple[str, ...], inner: bool) -> tuple[str, str]:
    parts = [_print_factor(f) for f in t.factors]
    c = t.coeff
    sign = "-" if c < 0 else "+"
    if abs(c) != 1 or not parts:
        parts.insert(0, _num(abs(c)))
    text = "*".join(parts)
    if inner:
        occ = _outer(t)
        # A summed index that occurs once would read as free under the Einstein rule.
        once = [i for i in occ if occ.count(i) == 1 and i not in free]
        if once:
            text = f"sum[{','.join(dict.fromkeys(once))}]({text})"
    return sign, text


def _print_sum(s: Sum, inner: bool = False) -> str:
    if not s.terms:
        return "0"
    out = ""
    for n, t in enumerate(s.terms):
        sign, text = _print_term(t, s.free, inner)
        out += ("-" if sign == "-" else "") + text if n == 0 else f" {sign} {text}"
    return out


def _latex_index(idx: tuple[str, ...]) -> str:
    return "".join(idx) if all(len(i) == 1 for i in idx) else ",".join(idx)


def _latex_factor(f) -> str:
    if isinstance(f, Tensor):
        return f"{f.name}_{{{_latex_index(f.indices)}}}" if f.indices else f.name
    if isinstance(f, Delta):
        return rf"\delta_{{{_latex_index(f.indices)}}}"
    inner = _latex_sum(f.arg)
    if f.name == "pow":
        return rf"\left({inner}\right)^{{{_num(f.power)}}}"
    return rf"\{f.name}\left({inner}\right)"


def _latex_sum(s: Sum) -> str:
    if not s.terms:
        return "0"
    out = ""
    for n, t in enumerate(s.terms):
        parts = [_latex_factor(f) for f in t.factors]
        if abs(t.coeff) != 1 or not parts:
            parts.insert(0, _num(abs(t.coeff)))
        text = " ".join(parts)
        if n == 0:
            out = ("-" if t.coeff < 0 else "") + text
        else:
            out += f" {'-' if t.coeff < 0 else '+'} {text}"
    return out


# ----------------------------------------------------------------------------- matrix form


@dataclass
class _Piece:
    """A factor of a matrix-form product: a scalar, a vector on one index, or a matrix
    from its first index to its second (``symmetric`` when its transpose is itself)."""

    text: str
    indices: tuple[str, ...]
    symmetric: bool = False

    def transposed(self) -> str:
        if self.symmetric:
            return self.text
        return f"{self.text}'" if self.text.isidentifier() else f"({self.text})'"


def _pieces(t: Term, free: tuple[str, ...]) -> list[_Piece] | None:
    """The factors of ``t`` as scalars, vectors and matrices, or None where one is not."""
    out = []
    for f in t.factors:
        if isinstance(f, Tensor):
            if len(f.indices) > 2:
                return None
            out.append(_Piece(f.name, f.indices))
        elif isinstance(f, Delta):
            if f.indices[0] == f.indices[1]:
                return None
            out.append(_Piece("eye", f.indices, True))
        else:
            inner = _matrix_text(f.arg)
            if inner is None or len(f.arg.free) > 1:
                return None
            if f.name != "pow":
                text = f"{f.name}({inner})"
            else:
                text = f"({inner}){'.^' if f.arg.free else '^'}{_num(f.power)}"
            out.append(_Piece(text, f.arg.free))
    # Vectors on one index multiply entrywise; next to matrices they become a diagonal.
    for i in dict.fromkeys(i for p in out for i in p.indices):
        vectors = [p for p in out if p.indices == (i,)]
        if len(vectors) > 1:
            merged = _Piece(".*".join(f"({p.text})" for p in vectors), (i,))
            out = [p for p in out if p.indices != (i,)] + [merged]
            vectors = [merged]
        others = [p for p in out if len(p.indices) == 2 and i in p.indices]
        through = sum(p.indices.count(i) for p in others)
        if vectors and (through == 2 or (through == 1 and i in free)):
            # v_i M_ij: diag(v) between a fresh index and i, M moved onto the fresh one.
            fresh = _fresh({j for p in out for j in p.indices} | {i})
            m = others[0]
            k = m.indices.index(i)
            moved = m.indices[:k] + (fresh,) + m.indices[k + 1 :]
            out = [p for p in out if p is not vectors[0] and p is not m]
            out += [_Piece(m.text, moved, m.symmetric)]
            out += [_Piece(f"diag({vectors[0].text})", (fresh, i), True)]
    return out


def _matrix_term(t: Term, free: tuple[str, ...]) -> str | None:
    """The term as a matrix-language product, or None where it has none."""
    pieces = _pieces(t, free)
    if pieces is None:
        return None
    occ = [i for p in pieces for i in p.indices]
    present = [i for i in free if i in occ]
    if present and len(present) != len(free):
        return None  # constant along some free index but not all: no matrix form
    texts = [p.text for p in pieces if not p.indices]
    if free and not present:  # constant along the free indices: fills the result
        texts.append(("vector(1)", "matrix(1)")[len(free) - 1])
    for p in pieces:  # a vector summed on its own is a sum
        if len(p.indices) == 1 and occ.count(p.indices[0]) == 1 and p.indices[0] not in free:
            texts.append(f"sum({p.text})")
            p.indices = ()
    pieces = [p for p in pieces if p.indices]
    occ = [i for p in pieces for i in p.indices]
    for i in set(occ):
        if occ.count(i) != (1 if i in free else 2):
            return None
    used: set[int] = set()

    def walk(index: str) -> tuple[list[str], _Piece | str]:
        """Matrices along the chain from ``index``, and where it ends (a vector or an index)."""
        chain: list[str] = []
        while True:
            nxt = [p for p in pieces if index in p.indices and id(p) not in used]
            if not nxt:
                return chain, index
            p = nxt[0]
            used.add(id(p))
            if len(p.indices) == 1:
                return chain, p
            k = p.indices.index(index)
            chain.append(p.text if k == 0 else p.transposed())
            index = p.indices[1 - k]

    def product(chain: list[str]) -> str:
        return "(" + "*".join(f"({c})" for c in chain) + ")"

    if present:
        chain, end = walk(free[0])
        if isinstance(end, _Piece):
            left = product(chain + [end.text])
            if len(free) == 2:
                chain2, end2 = walk(free[1])
                if not isinstance(end2, _Piece):
                    return None
                texts.append(f"{left}*{product(chain2 + [end2.text])}'")
            else:
                texts.append(left)
        elif len(free) == 2 and end == free[1] and chain:
            texts.append(product(chain))
        else:
            return None
    for p in pieces:  # scalar chains: vector' * ... * vector
        if len(p.indices) != 1 or id(p) in used:
            continue
        used.add(id(p))
        chain, end = walk(p.indices[0])
        if not isinstance(end, _Piece):
            return None
        texts.append(product([f"({p.text})'"] + chain + [end.text]))
    for p in pieces:  # cycles: traces
        if id(p) in used:
            continue
        used.add(id(p))
        chain, end = walk(p.indices[1])
        if end != p.indices[0]:
            return None
        texts.append(f"tr({product([p.text] + chain)})")
    return "*".join([_num(t.coeff)] + [f"({x})" for x in texts])


def _matrix_text(s: Sum) -> str | None:
    if len(s.free) > 2 or not s.terms:
        return None
    parts = [_matrix_term(t, s.free) for t in s.terms]
    if any(p is None for p in parts):
        return None
    return " + ".join(parts)


def _matrix_form(s: Sum, ranks: dict[str, int]) -> str | None:
    text = _matrix_text(s)
    if text is None:
        return None
    from .parser import parse
    from .simplify import simplify

    kinds = {name: ("scalar", "vector", "matrix")[r] for name, r in ranks.items() if r <= 2}
    try:
        return str(simplify(parse(text, kinds=kinds)))
    except SymbolicError:
        return None


# ----------------------------------------------------------------------------- code


class _Union:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, k):
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a, b) -> None:
        self.parent[self.find(a)] = self.find(b)


def _unify(s: Sum, env: dict, uf: _Union, counter: list[int]) -> None:
    for t in s.terms:
        local = {i: env[i] for i in s.free}
        for i in _outer(t):
            if i not in local:
                counter[0] += 1
                local[i] = ("bound", counter[0])
            uf.find(local[i])
        for f in t.factors:
            if isinstance(f, Tensor):
                for axis, i in enumerate(f.indices):
                    uf.union(local[i], ("var", f.name, axis))
            elif isinstance(f, Delta):
                uf.union(local[f.indices[0]], local[f.indices[1]])
            else:
                _unify(f.arg, {i: local[i] for i in f.arg.free}, uf, counter)


class _CodeGen:
    def __init__(self, uf: _Union, axes: dict) -> None:
        self.uf, self.axes = uf, axes
        self.lines: list[str] = []
        self.cache: dict[str, str] = {}
        self.counter = [0]

    def dim(self, key) -> str:
        root = self.uf.find(key)
        for k in self.uf.parent:
            if k[0] == "var" and self.uf.find(k) == root:
                name, axis = k[1:]
                break
        else:
            raise SymbolicError(
                "an output index runs over no axis of a variable, so its size is unknown"
            )
        return f"{name}.shape[{axis}]"

    def sum(self, s: Sum, env: dict) -> str:
        """An expression for ``s`` as an array with axes ``s.free``, in that order."""
        parts = []
        full = True
        for t in s.terms:
            local = {i: env[i] for i in s.free}
            for i in _outer(t):
                if i not in local:
                    self.counter[0] += 1
                    local[i] = ("code", self.counter[0])
            for f in t.factors:  # a summed index's size comes from an axis it runs over
                if isinstance(f, Tensor):
                    for axis, i in enumerate(f.indices):
                        self.uf.union(local[i], ("var", f.name, axis))
                elif isinstance(f, Delta):
                    self.uf.union(local[f.indices[0]], local[f.indices[1]])
            code, present = self.term(t, s.free, local)
            if present != list(s.free):
                full = False
                if present:
                    code = f"{code}[{', '.join(':' if i in present else 'None' for i in s.free)}]"
            parts.append(code)
        shape = [self.dim(env[i]) for i in s.free]
        if not parts:
            return f"_np.zeros(({''.join(d + ', ' for d in shape)}))"
        out = " + ".join(parts)
        if not full and shape:
            out = f"({out}) + _np.zeros(({''.join(d + ', ' for d in shape)}))"
        return out

    def term(self, t: Term, free: tuple[str, ...], local: dict) -> tuple[str, list[str]]:
        scalars, operands, subs = [], [], []
        for f in t.factors:
            if isinstance(f, Tensor) and not f.indices:
                scalars.append(f.name)
                continue
            if isinstance(f, Tensor):
                operands.append(f.name)
            elif isinstance(f, Delta):
                operands.append(f"_np.eye({self.dim(local[f.indices[0]])})")
            else:
                operands.append(self.func(f, {i: local[i] for i in f.arg.free}))
                if not f.indices:
                    scalars.append(operands.pop())
                    continue
            subs.append(f.indices)
        present = [i for i in free if any(i in s for s in subs)]
        coeff = [] if t.coeff == 1 else [_num(t.coeff)]
        if not operands:
            return " * ".join(coeff + scalars) or "1.0", []
        letters: dict[str, str] = {}
        for s in subs:
            for i in s:
                letters.setdefault(i, chr(ord("a") + len(letters)))
        spec = ",".join("".join(letters[i] for i in s) for s in subs)
        spec += "->" + "".join(letters[i] for i in present)
        if len(operands) == 1 and tuple(subs[0]) == tuple(present):
            body = operands[0]
        else:
            body = f"_np.einsum({spec!r}, {', '.join(operands)}, optimize=True)"
        return " * ".join(coeff + scalars + [body]), present

    def func(self, f: Func, env: dict) -> str:
        # The array over the argument's free indices does not depend on their names.
        key = _print_factor(
            Func(
                f.name, _rename_free(f.arg, {i: f"_{n}" for n, i in enumerate(f.arg.free)}), f.power
            )
        )
        if key in self.cache:
            return self.cache[key]
        arg = self.sum(f.arg, env)
        name = f"_t{len(self.cache)}"
        if f.name == "pow":
            code = f"({arg}) ** {_num(f.power)}"
        else:
            code = f"_np.{f.name}({arg})"
        self.lines.append(f"    {name} = {code}")
        self.cache[key] = name
        return name


# ----------------------------------------------------------------------------- API


class TensorExpr:
    """A parsed index expression: ``name[out] = rhs``.

    >>> from matdiff.symbolic import tensor_parse
    >>> e = tensor_parse("y[i] = T[i,j,k]*x[j]*x[k]")
    >>> e.variables, e.ranks["T"]
    (('T', 'x'), 3)
    """

    def __init__(self, source: str) -> None:
        if not isinstance(source, str):
            raise SymbolicError(f"an expression must be a string, not {type(source).__name__}")
        p = _Parser(source)
        self.source = source
        self.name, self.out, sum_ = p.program()
        self.ranks = dict(p.ranks)
        self.sum = _canon_sum(Sum(sum_.free, tuple(_contract(t, sum_.free) for t in sum_.terms)))
        self.variables = tuple(sorted(self.ranks))

    @property
    def text(self) -> str:
        lhs = f"{self.name}[{','.join(self.out)}]" if self.out else self.name
        return f"{lhs} = {_print_sum(self.sum)}"

    def __str__(self) -> str:
        return self.text


class TensorDerivative:
    """The derivative of an index expression: ``text``, ``latex``, ``matrix``, code.

    >>> from matdiff.symbolic import tensor_derivative
    >>> d = tensor_derivative("y[i] = T[i,j,k]*x[j]*x[k]", wrt="x")
    >>> d.text
    'dy[i,a] = T[i,a,j]*x[j] + T[i,j,a]*x[j]'
    >>> d.matrix is None
    True
    """

    def __init__(self, expression: str, wrt: str, order: int = 1, dims: dict | None = None):
        self.expr = TensorExpr(expression)
        if not isinstance(wrt, str):
            raise SymbolicError(f"wrt must be a variable's name, not {type(wrt).__name__}")
        if wrt not in self.expr.ranks:
            have = ", ".join(self.expr.variables)
            raise SymbolicError(f"{wrt} is not a variable of the expression; its variables: {have}")
        if isinstance(order, bool) or order not in (1, 2):
            raise SymbolicError(f"order must be 1 or 2, not {order!r}")
        self.wrt, self.order = wrt, order
        self.dims = self._dims(dims)
        rank = self.expr.ranks[wrt]
        s = self.expr.sum
        self.new: list[tuple[str, ...]] = []
        for _ in range(order):
            avoid = _names(s) | set(self.expr.out)
            new = tuple(_fresh(avoid, "abcdefgh" + _LETTERS) for _ in range(rank))
            self.new.append(new)
            s = _canon_sum(_diff(s, wrt, new))
        self.sum = s
        self.indices = s.free

    def _dims(self, dims: dict | None) -> dict[str, tuple[int, ...]]:
        dims = dict(dims or {})
        for name, shape in dims.items():
            if name not in self.expr.ranks:
                raise SymbolicError(f"dims names {name}, which is not a variable")
            if not isinstance(shape, (tuple, list)) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape
            ):
                raise SymbolicError(f"dims[{name!r}] must be a tuple of positive integers")
            if len(shape) != self.expr.ranks[name]:
                raise SymbolicError(
                    f"dims[{name!r}] has {len(shape)} sizes but {name} has "
                    f"{self.expr.ranks[name]} indices"
                )
        return {k: tuple(v) for k, v in dims.items()}

    # -- printing
    @property
    def label(self) -> str:
        return "d" * self.order + self.expr.name

    @property
    def text(self) -> str:
        return f"{self.label}[{','.join(self.indices)}] = {_print_sum(self.sum)}".replace(
            "[] =", " ="
        )

    def __str__(self) -> str:
        return self.text

    @property
    def latex(self) -> str:
        f = self.expr.name + (f"_{{{_latex_index(self.expr.out)}}}" if self.expr.out else "")
        den = " ".join(
            rf"\partial {self.wrt}" + (f"_{{{_latex_index(n)}}}" if n else "") for n in self.new
        )
        top = r"\partial^2" if self.order == 2 else r"\partial"
        return rf"\frac{{{top} {f}}}{{{den}}} = {_latex_sum(self.sum)}"

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    @property
    def matrix(self) -> str | None:
        """The result in the matrix language, or None where the result has no matrix form."""
        return _matrix_form(self.sum, self.expr.ranks)

    # -- code
    @property
    def numpy_source(self) -> str:
        uf = _Union()
        env = {i: ("free", i) for i in self.indices}
        counter = [0]
        _unify(self.expr.sum, {i: ("free", i) for i in self.expr.out}, uf, counter)
        _unify(self.sum, env, uf, counter)
        for new in self.new:
            for axis, i in enumerate(new):
                uf.union(("free", i), ("var", self.wrt, axis))
        axes = {}
        for key in list(uf.parent):
            if key[0] == "var":
                axes.setdefault(uf.find(key), key[1:])
        gen = _CodeGen(uf, axes)
        value = gen.sum(self.expr.sum, {i: ("free", i) for i in self.expr.out})
        deriv = gen.sum(self.sum, env)
        args = ", ".join(check_identifier(name) for name in self.expr.variables)
        return "\n".join(
            [f"def derivative({args}):", f'    """{self.text}"""', *gen.lines]
            + [f"    _value = {value}", f"    _deriv = {deriv}", "    return _value, _deriv", ""]
        )

    def function(self, np_module: Any = None) -> Callable:
        """``f(**variables) -> (value, derivative)``, the derivative ``out.shape + var.shape``."""
        raw = compile_source(self.numpy_source, "derivative", np_module or _np)
        ranks = self.expr.ranks

        def derivative(**arrays):
            for name in ranks:
                if name not in arrays:
                    raise SymbolicError(f"missing argument {name}")
            for name, a in arrays.items():
                if name not in ranks:
                    raise SymbolicError(f"unknown argument {name}; expected {', '.join(ranks)}")
                if _np.ndim(a) != ranks[name]:
                    raise SymbolicError(
                        f"{name} has {ranks[name]} indices, so it needs a "
                        f"{ranks[name]}-D array, not one of shape {_np.shape(a)}"
                    )
            # A constant comes out of the code as a Python float; callers expect arrays.
            value, deriv = raw(**arrays)
            return tuple(_np.asarray(r) if isinstance(r, float) else r for r in (value, deriv))

        return derivative

    def value_function(self, np_module: Any = None) -> Callable:
        """``f(**variables) -> value``."""
        fn = self.function(np_module)
        return lambda **arrays: fn(**arrays)[0]

    def _sizes(self) -> dict[str, tuple[int, ...]]:
        uf = _Union()
        _unify(self.expr.sum, {i: ("free", i) for i in self.expr.out}, uf, [0])
        size: dict = {}
        for name, shape in self.dims.items():
            for axis, n in enumerate(shape):
                root = uf.find(("var", name, axis))
                if size.setdefault(root, n) != n:
                    raise SymbolicError(
                        f"dims give axis {axis} of {name} size {n}, but another axis over "
                        f"the same index has size {size[root]}"
                    )
        out = {}
        for name, r in self.expr.ranks.items():
            shape = []
            for axis in range(r):
                root = uf.find(("var", name, axis))
                if root not in size:
                    size[root] = 2 + len(size) % 3
                shape.append(size[root])
            out[name] = tuple(shape)
        return out

    def check(self, seed: int = 0) -> float:
        """Compare with central differences and with the numeric engine at a random point.

        Returns the larger relative error; raises ``CheckError`` on disagreement.
        """
        # the numeric engine is the independent oracle, reached at run time as check.py
        # does: the symbolic engine imports no numeric module
        matdiff = importlib.import_module("matdiff")
        mnp = importlib.import_module("matdiff.numpy")

        rng = _np.random.default_rng(seed)
        arrays = {
            n: rng.uniform(0.25, 0.75, s) * rng.choice([-1, 1], s) for n, s in self._sizes().items()
        }
        if any(f.name in ("log", "pow") for f in _all_funcs(self.expr.sum)):
            # logs, roots and reciprocals away from their singularities
            arrays = {n: _np.abs(a) + 0.5 for n, a in arrays.items()}
        _, deriv = self.function()(**arrays)
        x0 = arrays[self.wrt]

        def value_of(np_module):
            fn = self.function(np_module)
            return lambda x: fn(**{**arrays, self.wrt: x})[0]

        engine_op = matdiff.jacobian if self.order == 1 else matdiff.hessian
        engine = _np.asarray(engine_op(value_of(mnp))(x0)).reshape(deriv.shape)
        # Differences of the value (order 1) or of the exact first derivative (order 2).
        base = value_of(_np) if self.order == 1 else _first(self, arrays)
        h = 1e-6
        fd = _np.zeros(_np.shape(base(x0)) + _np.shape(x0))
        for idx in _np.ndindex(*_np.shape(x0)):
            e = _np.zeros(_np.shape(x0))
            e[idx] = h
            fd[(...,) + idx] = (base(x0 + e) - base(x0 - e)) / (2 * h)
        scale = max(1.0, float(_np.max(_np.abs(deriv)))) if deriv.size else 1.0
        # The numeric engine does the same arithmetic in another order: rounding only.
        # Central differences with h = 1e-6 err by about h**2*|f'''| + eps*|f|/h, 1e-10 for
        # the entries of order one that the random point gives, so 1e-6 leaves a margin.
        worst = 0.0
        for other, name, tol in ((engine, "the numeric engine", 1e-10), (fd, "differences", 1e-6)):
            err = float(_np.max(_np.abs(other - deriv))) / scale if deriv.size else 0.0
            worst = max(worst, err)
            if err > tol:
                raise CheckError(f"{self.text} disagrees with {name}: relative error {err:.3g}")
        return worst


def _first(d: TensorDerivative, arrays: dict) -> Callable:
    first = TensorDerivative(d.expr.source, d.wrt, 1).function()
    return lambda x: first(**{**arrays, d.wrt: x})[1]


def _all_funcs(s: Sum):
    for t in s.terms:
        for f in t.factors:
            if isinstance(f, Func):
                yield f
                yield from _all_funcs(f.arg)


def tensor_parse(expression: str) -> TensorExpr:
    """Parse an index expression (see ``docs/symbolic.md``, "Tensor expressions").

    >>> print(tensor_parse("f = x[i]*A[i,j]*x[j]"))
    f = A[i,j]*x[i]*x[j]
    """
    return TensorExpr(expression)


def tensor_derivative(
    expression: str, wrt: str, order: int = 1, dims: dict | None = None
) -> TensorDerivative:
    """The derivative of an index expression with respect to the variable ``wrt``.

    ``dims`` maps variable names to shapes for ``check()``; other sizes are chosen.

    >>> d = tensor_derivative("f = T[i,j,k]*x[i]*x[j]*x[k]", wrt="T")
    >>> print(d)
    df[a,b,c] = x[a]*x[b]*x[c]
    >>> d.check() < 1e-6
    True
    """
    return TensorDerivative(expression, wrt, order, dims)


__all__ = ["tensor_parse", "tensor_derivative", "TensorExpr", "TensorDerivative"]
