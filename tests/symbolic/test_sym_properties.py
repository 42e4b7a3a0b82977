"""Simplification never changes the function.

A seeded generator writes random well-typed expressions over every node kind of the
language and every constant (``eye``, ``vector(c)``, ``matrix(c)``, zeros, scalars,
numbers). Each is evaluated twice: from its typed parse tree, operator by operator in
plain NumPy, before any node is built (so before any constructor folds or rewrite
applies), and from what the engine makes of it: the canonical parse, ``simplify()`` of it,
and the value ``derivative(...).function()`` returns. They must agree, and the derivative
must agree with central differences of the parse-tree evaluation, so that a rewrite that
changes the function cannot hide behind both engines differentiating the same wrong
expression. A last test shows that every rewrite rule in ``simplify`` fires on the cases.

``MATDIFF_PROPERTY_CASES`` and ``MATDIFF_PROPERTY_SEED`` run other or more cases.
"""

import os
import random

import numpy as np
import pytest

from matdiff import symbolic as sym
from matdiff.symbolic import expr as E
from matdiff.symbolic import parser as P
from matdiff.symbolic import simplify as S
from matdiff.symbolic.derivation import compile_source as _compile
from matdiff.symbolic.printers import NumpyPrinter

CASES = int(os.environ.get("MATDIFF_PROPERTY_CASES", "1500"))
SEED = int(os.environ.get("MATDIFF_PROPERTY_SEED", "0"))
#: Every how many cases the derivative is checked too (it costs more than the value).
DERIVATIVE_EVERY = 2

SIZES = {"n": 3, "m": 2}
#: A dimension no variable fixes (``tr(eye)``) gets this size in both evaluations.
FREE_SIZE = 3
KINDS = {
    "a": "scalar",
    "b": "scalar",
    "x": "vector n",
    "y": "vector n",
    "z": "vector m",
    "A": "n x n",
    "B": "n x n",
    "C": "n x m",
    "S": "symmetric n",
    "k": "scalar",  # only ever an exponent of a matrix power: an integer
}

# ---------------------------------------------------------------- values


def _values(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(3, 3))
    return {
        "a": float(rng.uniform(0.3, 0.9)),
        "b": float(rng.uniform(-0.9, -0.3)),
        "x": rng.uniform(-1, 1, size=3),
        "y": rng.uniform(-1, 1, size=3),
        "z": rng.uniform(-1, 1, size=2),
        "A": rng.uniform(-1, 1, size=(3, 3)),
        "B": rng.uniform(-1, 1, size=(3, 3)),
        "C": rng.uniform(-1, 1, size=(3, 2)),
        "S": np.eye(3) + 0.1 * q @ q.T,
        "k": int(rng.integers(-2, 4)),
    }


# ---------------------------------------------------------------- the parse-tree evaluator

_ELEMENTWISE = {
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": np.sign,
    "relu": lambda v: np.maximum(v, 0.0),
}


def _scalar_or(f, g):
    """``f`` of a 1x1 value, ``g`` of an array."""
    return lambda v: np.array([[f(v[0, 0])]]) if v.shape == (1, 1) else g(v)


_FUNCTIONS = {
    "sum": lambda v: np.array([[v.sum()]]),
    "norm1": lambda v: np.array([[np.abs(v).sum()]]),
    "norm2": lambda v: np.array([[np.sqrt((v * v).sum())]]),
    "tr": lambda v: np.array([[np.trace(v)]]),
    "det": lambda v: np.array([[np.linalg.det(v)]]),
    "logdet": lambda v: np.array([[np.log(np.linalg.det(v))]]),
    "inv": _scalar_or(lambda s: 1.0 / s, np.linalg.inv),
    "adj": _scalar_or(lambda s: 1.0, lambda v: np.linalg.det(v) * np.linalg.inv(v)),
    "diag": lambda v: v,  # of a scalar
    "diagm": lambda v: np.diag(v.ravel()),
    "diagv": lambda v: np.diag(v)[:, None],
}


def _product(u, v):
    if u.shape == (1, 1) or v.shape == (1, 1):
        return u * v
    return u @ v


_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": _product,
    "div": np.divide,
    "hmul": np.multiply,
    "hdiv": np.divide,
    "epow": np.power,
    "matpow": lambda u, k: np.linalg.matrix_power(u, int(k[0, 0])),
    "kron": np.kron,
}


#: Functions with a jump or a kink at 0, where rounding noise (1e-17 against an exact
#: zero) decides between the sides: a case that meets one this close (or norm1 or norm2
#: at theirs) is not compared.
KINKED = ("sign", "abs", "relu")
KINK = 1e-6


class RawTree:
    """The typed parse tree of a text, evaluated in NumPy: no node is ever built."""

    def __init__(self, text: str, kinds: dict) -> None:
        self.parser = P._Parser(text, P.normalize_kinds(kinds))
        (body,) = P._lark().parse(text).children
        self.tree = self.parser.infer(body)

    def size(self, d) -> int:
        root = d.find()
        if root is P.ONE:
            return 1
        if root.factors:
            return self.size(root.factors[0]) * self.size(root.factors[1])
        return SIZES[root.name] if root.rigid else FREE_SIZE

    def __call__(self, values: dict) -> tuple[np.ndarray, float]:
        """The value as a 2-D array, and the largest magnitude met on the way."""
        largest = 0.0
        self.at_kink = False

        def ev(p) -> np.ndarray:
            nonlocal largest
            shape = tuple(self.size(d) for d in p.shape)
            if p.op == "const":
                out = np.array([[p.data]])
            elif p.op == "var":
                out = np.reshape(values[p.data[0]], shape)
            elif p.op == "eye":
                out = np.eye(shape[0])
            elif p.op == "fill":
                out = np.full(shape, ev(p.args[0])[0, 0])
            else:
                args = [ev(a) for a in p.args]
                if p.op == "T":
                    out = args[0].T
                elif p.op == "neg":
                    out = -args[0]
                elif p.op == "fn":
                    if p.data in KINKED and np.any(np.abs(args[0]) < KINK):
                        self.at_kink = True
                    out = _ELEMENTWISE[p.data](args[0])
                elif p.op == "terms":
                    # an n-ary chain of + and -, with one sign per term
                    out = args[0] * p.data[0]
                    for sign, a in zip(p.data[1:], args[1:]):
                        out = out + sign * a
                elif p.op in ("mul", "had"):
                    # an n-ary chain of * and / (or .* and ./), folded left as written
                    out = args[0]
                    for op, a in zip(p.data[1:], args[1:]):
                        out = _BINARY[op](out, a)
                elif p.op in _BINARY:
                    out = _BINARY[p.op](*args)
                else:
                    near = np.abs(args[0]) < KINK
                    if p.op == "norm1" and near.any() or p.op == "norm2" and near.all():
                        self.at_kink = True  # |v| at 0, and the norm of a zero vector
                    out = _FUNCTIONS[p.op](args[0])
                out = np.broadcast_to(out, shape)
            assert out.shape == shape, (p.op, out.shape, shape)
            if out.size:
                largest = max(largest, float(np.max(np.abs(out))))
            return out

        with np.errstate(all="ignore"):
            return ev(self.tree), largest


# ---------------------------------------------------------------- the generator

SCALAR = (1, 1)
SQUARE = [("n", "n"), ("m", "m")]
SHAPES = [SCALAR, ("n", 1), ("m", 1), (1, "n"), ("n", "n"), ("n", "m"), ("m", "n"), ("m", "m")]
NUMBERS = ["0", "1", "2", "0.5", "3", "1.5"]
ELEMENTWISE_ANYWHERE = ["exp", "sin", "cos", "arctan", "tanh", "abs", "sign", "relu", "sinh"]
#: Leaves of each shape: variables, and the constants (chosen less often).
VARIABLES = {
    SCALAR: ["a", "b"],
    ("n", 1): ["x", "y"],
    ("m", 1): ["z"],
    (1, "n"): ["x'", "y'"],
    (1, "m"): ["z'"],
    ("n", "n"): ["A", "B", "S", "A'"],
    ("n", "m"): ["C"],
    ("m", "n"): ["C'"],
    ("m", "m"): ["C'*C", "C'*S*C"],
}
CONSTANTS = {
    SCALAR: NUMBERS,
    ("n", 1): ["vector(1)", "vector(0)", "vector(2)"],
    ("m", 1): ["vector(1)", "vector(0.5)"],
    (1, "n"): ["vector(1)'"],
    (1, "m"): ["vector(1)'"],
    ("n", "n"): ["eye", "matrix(1)", "matrix(0)"],
    ("n", "m"): ["matrix(1)", "matrix(0)"],
    ("m", "n"): ["matrix(2)"],
    ("m", "m"): ["eye", "matrix(1)"],
}


class Generator:
    """Random well-typed texts of a given shape; the language's spelling of every node."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, options):
        return self.rng.choice(options)

    def leaf(self, shape) -> str:
        return self.pick(VARIABLES[shape] if self.rng.random() < 0.75 else CONSTANTS[shape])

    def expr(self, shape, depth: int) -> str:
        if depth <= 0 or self.rng.random() < 0.1:
            return self.leaf(shape)
        makers = [self._sum, self._product, self._elementwise, self._function]
        if shape == SCALAR:
            makers += [self._reduction] * 3
        if shape in SQUARE:
            makers += [self._square]
        if shape[0] == shape[1] == "n" or shape == ("n", 1):
            makers += [self._diag]
        if (shape[0] == 1 or shape[1] == 1 or shape == ("n", "n")) and self.rng.random() < 0.3:
            makers += [self._kron]
        if shape[0] != shape[1]:
            makers += [self._transpose] * 2
        return self.pick(makers)(shape, depth - 1)

    def _g(self, shape, depth) -> str:
        return f"({self.expr(shape, depth)})"

    def positive(self, shape, depth) -> str:
        """A text whose every entry is positive (for log, sqrt, powers, division)."""
        e = self._g(shape, depth)
        square = "^" if shape == SCALAR else ".^"
        return self.pick([f"exp({e})", f"(1 + {e}{square}2)", f"(abs({e}) + 0.5)"])

    def spd(self, shape, depth) -> str:
        """A symmetric positive definite matrix (for inv, det, logdet, adj, X^-k)."""
        k = self.pick(["n", "m", 1])
        g = self._g((shape[0], k), depth)
        options = ["eye", f"({g}*{g}' + eye)", f"diag(exp({self._g((shape[0], 1), depth)}))"]
        if shape == ("n", "n"):
            options += ["S", f"(S + {g}*{g}')", "(1 + a^2)*S"]
        return self.pick(options)

    def _sum(self, shape, depth) -> str:
        op = self.pick([" + ", " - "])
        left = self._g(shape, depth)
        if self.rng.random() < 0.1:
            return f"{left}{op}{left}"  # like terms: x - x is a zero
        if shape != SCALAR and self.rng.random() < 0.2:
            left = self._g(SCALAR, depth)  # a scalar added to an array fills it
        if self.rng.random() < 0.1:
            return self.pick(["-", "+"]) + self._g(shape, depth)
        return f"{left}{op}{self._g(shape, depth)}"

    def _product(self, shape, depth) -> str:
        r, c = shape
        roll = self.rng.random()
        if roll < 0.2:
            return f"{self._g(SCALAR, depth)}*{self._g(shape, depth)}"
        if roll < 0.3:
            return f"{self._g(shape, depth)}/{self.positive(SCALAR, depth)}"
        if roll < 0.4 and r == c != 1:
            # a factor next to its inverse, the identity, or a diagonal next to another
            g = self.spd((r, r), depth)
            return self.pick(
                [
                    f"{self._g(shape, depth)}*inv({g})*{g}",
                    f"{g}*inv({g})*{self._g(shape, depth)}",
                    f"inv({g})'*{g}'",
                    f"eye*{self._g(shape, depth)}*eye",
                ]
            )
        if roll < 0.45 and r == c == "n":
            v, w = self._g(("n", 1), depth), self._g(("n", 1), depth)
            return self.pick([f"diag({v})*diag({w})", f"diag({v})*vector(1)*vector(1)'", "eye*eye"])
        if roll < 0.5 and shape == (1, "n"):
            return f"vector(1)'*diag({self._g(('n', 1), depth)})"
        if roll < 0.55 and shape == ("n", 1):
            return f"diag({self._g(('n', 1), depth)})*vector(1)"
        k = self.pick(["n", "m", 1])
        return f"{self._g((r, k), depth)}*{self._g((k, c), depth)}"

    def _elementwise(self, shape, depth) -> str:
        roll = self.rng.random()
        e = self._g(shape, depth)
        if roll < 0.35:
            return f"{e}.*{self._g(shape, depth)}"
        if roll < 0.5:
            return f"{e}./{self.positive(shape, depth)}"
        hat = "^" if shape == SCALAR else ".^"
        if roll < 0.6:
            # a variable exponent, bounded so that the power stays finite; on an array
            # the base may be a scalar (2.^x) and the exponent a scalar (x.^a)
            base_shape, ex_shape = self.pick([(shape, shape), (SCALAR, shape), (shape, SCALAR)])
            base = self.positive(base_shape, depth)
            return f"{base}{hat}sin{self._g(ex_shape, depth)}"
        if roll < 0.75:
            return f"{e}{hat}{self.pick(['2', '3', '0', '1'])}"
        return f"{self.positive(shape, depth)}{hat}{self.pick(['-1', '0.5', '-2', '1.5'])}"

    def _function(self, shape, depth) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return f"{self.pick(ELEMENTWISE_ANYWHERE)}{self._g(shape, depth)}"
        if roll < 0.8:
            return f"{self.pick(['log', 'sqrt'])}({self.positive(shape, depth)})"
        if roll < 0.9:
            return f"{self.pick(['arcsin', 'arccos'])}(0.5*tanh{self._g(shape, depth)})"
        return f"tan(0.5*tanh{self._g(shape, depth)})"

    def _reduction(self, shape, depth) -> str:
        roll = self.rng.random()
        if roll < 0.35:
            fn = self.pick(["sum", "norm1", "norm2", "sum"])
            inner = self.pick(SHAPES)
            if self.rng.random() < 0.15:
                return f"{fn}(kron({self._g(('n', 'n'), depth)}, {self._g(('m', 'n'), depth)}))"
            return f"{fn}{self._g(inner, depth)}"
        square = self.pick(SQUARE + [SCALAR])
        if roll < 0.55:
            return f"tr{self._g(square, depth)}"
        if roll < 0.75:
            fn = self.pick(["det", "logdet"])
            if square == SCALAR:
                return f"{fn}({self.positive(SCALAR, depth)})"
            return f"{fn}({self.spd(square, depth)})"
        k = self.pick(["n", "m"])
        return f"{self._g((1, k), depth)}*{self._g((k, 1), depth)}"

    def _square(self, shape, depth) -> str:
        roll = self.rng.random()
        if roll < 0.3:
            return f"{self.pick(['inv', 'adj'])}({self.spd(shape, depth)})"
        if roll < 0.55:
            return f"{self._g(shape, depth)}^{self.pick(['0', '1', '2', '3'])}"
        if roll < 0.65:
            return f"{self.spd(shape, depth)}^{self.pick(['-1', '-2'])}"
        if roll < 0.9:
            # a power known at evaluation time, alone or next to powers of its base
            g = self.spd(shape, depth)
            return self.pick(
                [f"{g}^k", f"{g}^k*{g}", f"inv({g})*{g}^k", f"{g}^k*{g}^(-k)", f"({g}^k)'"]
            )
        scalar = self.pick(["inv", "adj", "tr", "det", "diag"])
        return f"{scalar}({self.positive(SCALAR, depth)})*{self._g(shape, depth)}"

    def _diag(self, shape, depth) -> str:
        if shape == ("n", 1):
            return f"diag{self._g(('n', 'n'), depth)}"
        v = self._g(self.pick([("n", 1), (1, "n")]), depth)
        return f"diag({v})"

    def _kron(self, shape, depth) -> str:
        r, c = shape
        if r == c:  # (n, n): a column times a row
            return f"kron({self._g((r, 1), depth)}, {self._g((1, c), depth)})"
        return f"kron({self._g(SCALAR, depth)}, {self._g(shape, depth)})"

    def _transpose(self, shape, depth) -> str:
        return f"{self._g((shape[1], shape[0]), depth)}'"


def cases(count: int = CASES, seed: int = SEED) -> list[tuple[str, tuple]]:
    """``count`` texts with their shapes: a quarter of each of scalar, vector, matrix..."""
    rng = random.Random(seed)
    gen = Generator(rng)
    shapes = [SCALAR, SCALAR, ("n", 1), ("n", "n"), (1, "n"), ("n", "m"), ("m", "m")]
    return [
        (gen.expr(s, rng.choice([3, 4, 4, 5])), s)
        for s in (rng.choice(shapes) for _ in range(count))
    ]


# ---------------------------------------------------------------- the engine's values


def _free_dims(parsed) -> dict:
    return {d: FREE_SIZE for d in parsed.dim_names if d not in SIZES and "*" not in str(d)}


def _compiled(e, parsed, dims):
    codes: dict = {}
    for name, v in parsed.variables.items():
        r, c = v.shape
        if r != 1:
            codes.setdefault(r, f"{name}.shape[0]")
        if c != 1:
            codes.setdefault(c, f"{name}.shape[{1 if r != 1 else 0}]")
    for name, size in dims.items():
        codes.setdefault(name, str(size))
    pr = NumpyPrinter(codes)
    pr.share([e])
    code = pr.emit(e)
    params = ", ".join(parsed.variables)
    body = "".join(f"    {ln}\n" for ln in pr.lines + [f"return {code}"])
    return _compile(f"def value({params}):\n{body}", "value", np)


def _same(raw: np.ndarray, got, scale: float) -> bool:
    got = np.asarray(got, dtype=float)
    if got.size != raw.size:
        return False
    # the two evaluations round differently; the error is a few ulps of the largest
    # magnitude that either meets, which is the largest the parse tree meets, times a
    # factor for the depth of the expression
    return np.allclose(got.reshape(raw.shape), raw, rtol=1e-9, atol=1e-9 * (1 + scale))


def _raw_derivative(raw: RawTree, values: dict, wrt: str, out_shape) -> np.ndarray:
    """Central differences of the parse-tree evaluation, in the layout out.shape + var.shape."""
    x0 = np.asarray(values[wrt], dtype=float)
    symmetric = KINDS[wrt].startswith("symmetric")
    h = 1e-6
    cols = []
    for idx in np.ndindex(x0.shape or (1,)):
        e = np.zeros(x0.shape or (1,))
        e[idx] = 1.0
        if symmetric:
            e = 0.5 * (e + e.T)  # only symmetric directions exist
        e = e.reshape(x0.shape)
        plus = raw({**values, wrt: x0 + h * e})[0]
        minus = raw({**values, wrt: x0 - h * e})[0]
        cols.append((plus - minus).ravel() / (2 * h))
    out = np.stack(cols, axis=-1)
    return out.reshape(tuple(s for s in out_shape if s != 1) + x0.shape)


#: Why the engine may refuse to differentiate a generated case; anything else fails.
ALLOWED_REFUSALS = (
    "cannot write the derivative",
    "through kron",
    "expression too large",
    "in its exponent needs a matrix logarithm",
)


def _run_case(text: str, values: dict, check_derivative: bool, stats: dict) -> str | None:
    """What is wrong with the engine on ``text``, or None."""
    raw = RawTree(text, KINDS)
    truth, scale = raw(values)
    if not np.all(np.isfinite(truth)) or scale > 1e6:
        stats["not finite or too large"] += 1
        return None
    if raw.at_kink:
        stats["at a kink of sign, abs or relu"] += 1
        return None
    try:
        parsed = sym.parse(text, KINDS, _with_info=True)
    except sym.SymbolicError as err:
        # a constant the constructors fold, like log(0), is refused; only such may fail
        stats["refused by the parser"] += 1
        return f"parse refused: {err.message}"
    stats["kinds"].update(type(n) for n in E.nodes(parsed.expr))
    dims = _free_dims(parsed)
    args = {name: values[name] for name in parsed.variables}
    for label, e in (("parse", parsed.expr), ("simplify", S.simplify(parsed.expr))):
        with np.errstate(all="ignore"):
            got = _compiled(e, parsed, dims)(**args)
        if not _same(truth, got, scale):
            return f"{label} gives {e}: {np.ravel(got)} instead of {np.ravel(truth)}"
    stats["values compared"] += 1
    if not check_derivative or not parsed.variables:
        return None
    # an exponent k has no derivative to compare (X^k in k needs a matrix logarithm)
    names = sorted(set(parsed.variables) - {"k"}) or ["k"]
    wrt = names[len(text) % len(names)]
    try:
        d = sym.derivative(text, wrt=wrt, kinds=KINDS, dims=dims)
    except sym.SymbolicError as err:
        reasons = [reason for reason in ALLOWED_REFUSALS if reason in err.message]
        if not reasons:
            return f"d/d{wrt} refused: {err.message}"
        stats["derivative refused: " + reasons[0]] += 1
        return None
    stats["kinds"].update(type(n) for n in E.nodes(d.result or d.linear_form))
    with np.errstate(all="ignore"):
        value, deriv = d.function()(**args)
    if not _same(truth, value, scale):
        return f"function() value {np.ravel(value)} instead of {np.ravel(truth)}"
    fd = _raw_derivative(raw, values, wrt, truth.shape)
    if not np.all(np.isfinite(fd)) or np.max(np.abs(fd), initial=0.0) > 1e4:
        stats["derivative too steep to difference"] += 1
        return None
    # central differences with h = 1e-6: truncation h^2*f''' and rounding eps*|f|/h
    if not np.allclose(np.reshape(deriv, fd.shape), fd, rtol=1e-5, atol=1e-5 * (1 + scale)):
        return f"d/d{wrt} = {d.text}: {np.ravel(deriv)} instead of {np.ravel(fd)}"
    stats["derivatives compared"] += 1
    return None


@pytest.fixture(scope="module")
def fired():
    """Which rewrite rules of ``simplify`` fire while the cases run, by name."""
    counts = dict.fromkeys([*S.PRODUCT_RULES, *S.FACTORINGS, "(A + B)*C = A*C + B*C"], 0)
    tables = [(S.PRODUCT_RULES, name) for name in S.PRODUCT_RULES]
    tables += [(S.FACTORINGS, name) for name in S.FACTORINGS]
    saved = [(table, name, table[name]) for table, name in tables]

    def counting(name, rule):
        def wrapped(*args):
            out = rule(*args)
            if out is not None:
                counts[name] += 1
            return out

        return wrapped

    for table, name, rule in saved:
        table[name] = counting(name, rule)
    distribute = S._distribute
    S._distribute = counting("(A + B)*C = A*C + B*C", distribute)
    try:
        yield counts
    finally:
        for table, name, rule in saved:
            table[name] = rule
        S._distribute = distribute


def test_random_expressions_keep_their_function_through_simplification(fired):
    from collections import Counter

    stats: Counter = Counter()
    stats["kinds"] = Counter()
    failures = []
    for i, (text, _shape) in enumerate(cases()):
        problem = _run_case(text, _values(i), i % DERIVATIVE_EVERY == 0, stats)
        if problem is not None:
            failures.append(f"{text!r}: {problem}")
    kinds = stats.pop("kinds")
    print(dict(stats), dict(fired), {k.__name__: c for k, c in kinds.items()})
    assert not failures, f"{len(failures)} of {CASES} cases:\n" + "\n".join(failures[:10])
    # the generator must exercise the engine, not be skipped past it
    assert stats["values compared"] >= 0.9 * CASES
    assert stats["derivatives compared"] >= 0.35 * CASES
    # and every node kind the language spells (a differential dX it does not)
    missing = [k.__name__ for k in E.node_kinds() if k is not E.Delta and not kinds[k]]
    assert not missing, f"node kinds the random cases never build: {missing}"


def test_every_rewrite_rule_fires_on_the_random_cases(fired):
    for text, _shape in cases():
        try:
            S.simplify(sym.parse(text, KINDS))
        except sym.SymbolicError:
            pass
    silent = [name for name, count in fired.items() if count == 0]
    assert not silent, f"rules never exercised by the random cases: {silent}"


def test_the_parse_tree_evaluator_sees_what_the_simplifier_hid():
    """The old rule made eye*eye the number 1; the parse-tree evaluation keeps eye."""
    raw = RawTree("X + eye*eye", {})
    value, _ = raw({"X": np.zeros((3, 3))})
    assert np.array_equal(value, np.eye(3))
