"""Every wrapped primitive has a batching rule, or is listed in docs/vmap.md as one that
runs once per example, with the reason; and a rule's registration travels with the
primitive, not with its name."""

import importlib
import pkgutil
import re
from pathlib import Path

import numpy

import matdiff.scipy
from matdiff import vmap
from matdiff.core import defvmap, vmap_rules
from matdiff.extend import defvjp, primitive
from matdiff.numpy._wrap import made

DOC = Path(__file__).resolve().parents[1] / "docs" / "vmap.md"

for _m in pkgutil.walk_packages(matdiff.scipy.__path__, "matdiff.scipy."):
    importlib.import_module(_m.name)


def _documented_loops() -> dict[str, str]:
    rows = re.findall(r"^\| `([\w.]+)` \| (.+?) \|$", DOC.read_text(encoding="utf-8"), re.M)
    return dict(rows)


def _without_rule() -> set[str]:
    # matdiff's own: tests and doctests wrap functions of their own modules too.
    return {
        f"{f.__module__}.{f.__name__}"
        for f in made
        if f not in vmap_rules and f.__module__.startswith("matdiff.")
    }


def test_every_primitive_has_a_rule_or_a_documented_loop():
    documented = _documented_loops()
    assert sorted(_without_rule() - set(documented)) == []


def test_the_documented_loops_have_no_rule_and_a_reason():
    documented = _documented_loops()
    assert sorted(set(documented) - _without_rule()) == []
    assert all(len(reason) > 10 for reason in documented.values())


def test_the_coverage_check_catches_a_missing_rule():
    cube = primitive(lambda x: x**3, name="cube")
    cube.__module__ = "matdiff.numpy"
    made.append(cube)
    try:
        assert "matdiff.numpy.cube" in _without_rule()
    finally:
        made.remove(cube)


def test_a_primitive_without_a_rule_loops_and_a_rule_replaces_the_loop():
    calls = []

    def raw(x):
        calls.append(numpy.shape(x))
        return x**3

    cube = primitive(raw)
    defvjp(cube, lambda ans, x: lambda g: 3.0 * x**2 * g)
    xs = numpy.arange(6.0).reshape(3, 2)
    numpy.testing.assert_array_equal(vmap(cube)(xs), xs**3)
    assert calls == [(2,)] * 3  # once per example
    calls.clear()
    defvmap(cube, lambda args, batched, kwargs: cube(args[0]))
    numpy.testing.assert_array_equal(vmap(cube)(xs), xs**3)
    assert calls == [(3, 2)]  # once for the batch
